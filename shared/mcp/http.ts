// `gatehouse mcp --http --port N`: the MCP server over Streamable HTTP at /mcp, one MCP session
// (and one McpServer) per client, its session id sent as X-Agent-Run-Id. It listens on loopback
// by default and checks the Host header (DNS-rebinding protection): a web page in a local browser
// must not be able to drive an agent's database access.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createGatehouseMcpServer, type McpOptions } from './server.ts';

export const MCP_PATH = '/mcp';
const MAX_SESSIONS = 100;

export interface McpHttpServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startMcpHttpServer(options: McpOptions & { host?: string; port: number }): Promise<McpHttpServer> {
  const host = options.host ?? '127.0.0.1';
  const transports = new Map<string, StreamableHTTPServerTransport>();
  let allowedHosts: string[] = [];

  const server = createServer((req, res) => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) reply(res, 500, 'internal error');
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
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

function reply(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}
