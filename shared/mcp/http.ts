// `gatehouse mcp --http --port N`: the MCP server over Streamable HTTP at /mcp, one MCP session
// (and one McpServer) per client, its session id sent as X-Agent-Run-Id. It listens on loopback
// by default and checks the Host header (DNS-rebinding protection): a web page in a local browser
// must not be able to drive an agent's database access. Every request must carry the server's
// secret as `Authorization: Bearer <secret>` (http-secret.ts), checked before anything else —
// before a session is looked up or made, so a session id is never a credential: whoever reaches
// the port without the secret cannot act as the agent.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createGatehouseMcpServer, type McpOptions } from './server.ts';
import { httpAuthChecker } from './http-secret.ts';

export const MCP_PATH = '/mcp';
const MAX_SESSIONS = 100;

export interface McpHttpServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startMcpHttpServer(options: McpOptions & { host?: string; port: number; /** What clients send as `Authorization: Bearer …`. */ secret: string }): Promise<McpHttpServer> {
  const host = options.host ?? '127.0.0.1';
  if (!options.secret) throw new Error('the MCP HTTP server needs a secret');
  const authorize = httpAuthChecker(options.secret);
  const transports = new Map<string, StreamableHTTPServerTransport>();
  let allowedHosts: string[] = [];

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) reply(res, 500, 'internal error');
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const auth = authorize(req);
    if (!auth.ok) {
      req.resume(); // the body is not read, only drained
      const challenge = auth.code === 'token_invalid' ? 'Bearer realm="gatehouse-mcp", error="invalid_token"' : 'Bearer realm="gatehouse-mcp"';
      return reply(res, auth.status, auth.message, auth.code, auth.status === 401 ? { 'www-authenticate': challenge } : {});
    }
    const path = new URL(req.url ?? '/', 'http://mcp').pathname;
    if (path !== MCP_PATH) return reply(res, 404, `the MCP endpoint is ${MCP_PATH}`);
    const sid = req.headers['mcp-session-id'];
    const id = Array.isArray(sid) ? sid[0] : sid;
    let transport = id === undefined ? undefined : transports.get(id);
    if (id !== undefined && !transport) return reply(res, 404, 'unknown MCP session');
    if (!transport) {
      if (req.method !== 'POST') return reply(res, 400, 'start a session with an initialize request');
      if (transports.size >= MAX_SESSIONS) return reply(res, 503, 'too many MCP sessions');
      const fresh = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableDnsRebindingProtection: true,
        allowedHosts,
        onsessioninitialized: (newId) => {
          transports.set(newId, fresh);
        },
        onsessionclosed: (closedId) => {
          transports.delete(closedId);
        },
      });
      fresh.onclose = () => {
        if (fresh.sessionId) transports.delete(fresh.sessionId);
      };
      await createGatehouseMcpServer(options).connect(fresh);
      transport = fresh;
    }
    await transport.handleRequest(req, res);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : options.port;
  allowedHosts = [`${host}:${port}`, `localhost:${port}`, `127.0.0.1:${port}`];
  return {
    url: `http://${host}:${port}${MCP_PATH}`,
    async close() {
      await Promise.allSettled([...transports.values()].map((t) => t.close()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A JSON-RPC error body, as the SDK's transport answers; `data.code` is Gatehouse's stable code where there is one. */
function reply(res: ServerResponse, status: number, message: string, code?: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message, ...(code ? { data: { code } } : {}) }, id: null }));
}
