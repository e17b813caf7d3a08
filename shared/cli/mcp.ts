// `gatehouse mcp [--http --port N]`: wires the identity the agent runs under to the MCP server
// (shared/mcp), over stdio (an agent host spawns it) or Streamable HTTP. Over HTTP every client
// must send the server's secret as `Authorization: Bearer …` (shared/mcp/http-secret.ts): made at
// start into <state dir>/mcp-http.token, or the user's own in --http-token-file; never printed.
import { join } from 'node:path';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { TokenProvider } from '../client/index.ts';
import { commandToken, fixedToken, googleIdToken } from '../client/tokens.ts';
import { startMcpHttpServer } from '../mcp/http.ts';
import { MCP_HTTP_TOKEN_FILE, readHttpSecret, removeHttpSecret, writeHttpSecret } from '../mcp/http-secret.ts';
import { ensurePrivateDir } from '../private-files.ts';
import { lockPidFile } from '../pid-lock.ts';
import { createGatehouseMcpServer } from '../mcp/server.ts';

export interface McpCommandOptions {
  readonly url: string;
  readonly model?: string;
  readonly tokenCommand?: string;
  /** GATEHOUSE_TOKEN */
  readonly token?: string;
  /** A dev-issuer token provider (`--dev-sub`), built by the caller (infra/dev-token.ts). */
  readonly devTokens?: TokenProvider;
  /** Audience of Google ID tokens; default the URL. */
  readonly audience?: string;
  readonly http?: boolean;
  readonly host?: string;
  readonly port?: number;
  /** With --http: where the generated secret is written (mcp-http.token in it). */
  readonly stateDir?: string;
  /** With --http: an existing secret instead of a generated one. */
  readonly httpTokenFile?: string;
}

/** First that is given: --token-command, GATEHOUSE_TOKEN, --dev-sub; else the workload's Google identity. */
export function chooseTokenProvider(o: McpCommandOptions): { provider: TokenProvider; source: string } {
  if (o.tokenCommand) return { provider: commandToken(o.tokenCommand), source: 'the token command' };
  if (o.token) return { provider: fixedToken(o.token), source: 'GATEHOUSE_TOKEN' };
  if (o.devTokens) return { provider: o.devTokens, source: 'the local dev issuer' };
  const audience = o.audience ?? o.url;
  return { provider: googleIdToken(audience), source: `Google ID tokens for audience ${audience}` };
}

export async function runMcp(o: McpCommandOptions, log: (line: string) => void): Promise<{ close(): Promise<void> }> {
  const { provider, source } = chooseTokenProvider(o);
  const options = { url: o.url, tokenProvider: provider, model: o.model };
  if (o.http) {
    // The secret before the port: nothing is served without one. Its file's path is printed, never the secret.
    const given = o.httpTokenFile !== undefined;
    // A generated secret is one server's: a second server on the state dir would replace it under
    // the first one's clients, so it is refused while the first runs (a pid lock beside the file).
    const unlock = given ? () => {} : lockGeneratedSecret(o.stateDir ?? '.gatehouse');
    let path: string;
    let secret: string;
    let server;
    try {
      ({ path, secret } = given ? { path: o.httpTokenFile!, secret: readHttpSecret(o.httpTokenFile!) } : writeHttpSecret(o.stateDir ?? '.gatehouse'));
      try {
        server = await startMcpHttpServer({ ...options, host: o.host, port: o.port ?? 0, secret });
      } catch (e) {
        if (!given) removeHttpSecret(path, secret);
        throw e;
      }
    } catch (e) {
      unlock();
      throw e;
    }
    // stdout is free here (no stdio transport): tests and people read the address from it.
    console.log(`Gatehouse MCP (Streamable HTTP) at ${server.url} → ${o.url}; identity from ${source}; clients send Authorization: Bearer <the secret in ${path}>`);
    const http = server;
    return {
      async close() {
        await http.close();
        if (!given) removeHttpSecret(path, secret);
        unlock();
      },
    };
  }
  if (o.httpTokenFile !== undefined) throw new TypeError('--http-token-file is for --http (stdio has no network endpoint)');
  const server = createGatehouseMcpServer(options);
  await server.connect(new StdioServerTransport());
  // stdout carries the protocol: anything for people goes to stderr.
  log(`Gatehouse MCP (stdio) → ${o.url}; identity from ${source}`);
  return server;
}

function lockGeneratedSecret(stateDir: string): () => void {
  ensurePrivateDir(stateDir);
  const path = join(stateDir, MCP_HTTP_TOKEN_FILE);
  try {
    return lockPidFile(path, `the generated MCP secret ${path}`);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`${why}: another \`gatehouse mcp --http\` serves with it. Give this one its own --state-dir, or share a secret of yours with --http-token-file`, { cause: e });
  }
}
