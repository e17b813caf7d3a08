// `gatehouse mcp --http --port N`: the MCP server over Streamable HTTP at /mcp, one MCP session
// (and one McpServer) per client, its session id sent as X-Agent-Run-Id. It listens on loopback
// by default and checks the Host header (DNS-rebinding protection): a web page in a local browser
// must not be able to drive an agent's database access. Every request must carry the server's
// secret as `Authorization: Bearer <secret>` (http-secret.ts), checked before anything else —
// before a session is looked up or made, so a session id is never a credential: whoever reaches
// the port without the secret cannot act as the agent.
//
// Sessions end: one idle for `idleTimeoutMs` (default 30 min; an open GET stream is not a use) is
// closed, and at `maxSessions` a new client takes the place of the least recently used session
// with no call in progress — a client that never ends its sessions must not lock every later one
// out until a restart. Only when every session has a call in progress is a new one refused (503).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createGatehouseMcpServer, type McpOptions } from './server.ts';
import { httpAuthChecker } from './http-secret.ts';

export const MCP_PATH = '/mcp';
const MAX_SESSIONS = 100;
const IDLE_TIMEOUT_MS = 30 * 60_000;

interface Session {
  readonly transport: StreamableHTTPServerTransport;
  lastUsed: number;
  /** POST and DELETE requests in progress (a tool call may wait minutes on an approval). */
  busy: number;
}

export interface McpHttpServer {
  readonly url: string;
  close(): Promise<void>;
}

export interface McpHttpOptions extends McpOptions {
  readonly host?: string;
  readonly port: number;
  /** What clients send as `Authorization: Bearer …`. */
  readonly secret: string;
  readonly maxSessions?: number;
  readonly idleTimeoutMs?: number;
}

export async function startMcpHttpServer(options: McpHttpOptions): Promise<McpHttpServer> {
  const host = options.host ?? '127.0.0.1';
  if (!options.secret) throw new Error('the MCP HTTP server needs a secret');
  const authorize = httpAuthChecker(options.secret);
  const maxSessions = options.maxSessions ?? MAX_SESSIONS;
  const idleTimeoutMs = options.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
  const sessions = new Map<string, Session>();
  let allowedHosts: string[] = [];

  const closeSession = (id: string) => {
    const session = sessions.get(id);
    if (!session) return;
    sessions.delete(id);
    void session.transport.close().catch(() => {});
  };
  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [id, s] of sessions) if (s.busy === 0 && now - s.lastUsed >= idleTimeoutMs) closeSession(id);
    },
    Math.max(10, Math.min(60_000, Math.floor(idleTimeoutMs / 4))),
  );
  sweep.unref();
  /** Room for one more session: the least recently used one without a call in progress goes. */
  const makeRoom = (): boolean => {
    if (sessions.size < maxSessions) return true;
    let oldest: [string, Session] | undefined;
    for (const entry of sessions) if (entry[1].busy === 0 && (oldest === undefined || entry[1].lastUsed < oldest[1].lastUsed)) oldest = entry;
    if (oldest === undefined) return false;
    closeSession(oldest[0]);
    return true;
  };

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
    const session = id === undefined ? undefined : sessions.get(id);
    if (id !== undefined && !session) return reply(res, 404, 'unknown MCP session');
    if (session) return serve(session, req, res);
    if (req.method !== 'POST') return reply(res, 400, 'start a session with an initialize request');
    if (!makeRoom()) return reply(res, 503, 'too many MCP sessions, each with a call in progress');
    const fresh: Session = {
      transport: new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableDnsRebindingProtection: true,
        allowedHosts,
        onsessioninitialized: (newId) => {
          sessions.set(newId, fresh);
        },
        onsessionclosed: (closedId) => {
          sessions.delete(closedId);
        },
      }),
      lastUsed: Date.now(),
      busy: 0,
    };
    fresh.transport.onclose = () => {
      const sid = fresh.transport.sessionId;
      if (sid !== undefined && sessions.get(sid) === fresh) sessions.delete(sid);
    };
    await createGatehouseMcpServer(options).connect(fresh.transport);
    await serve(fresh, req, res);
  }

  async function serve(session: Session, req: IncomingMessage, res: ServerResponse): Promise<void> {
    session.lastUsed = Date.now();
    // A GET is the client's standing stream for server messages: open for as long as the session, not a use of it.
    if (req.method === 'GET') return session.transport.handleRequest(req, res);
    session.busy++;
    res.once('close', () => {
      session.busy--;
      session.lastUsed = Date.now();
    });
    await session.transport.handleRequest(req, res);
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
      clearInterval(sweep);
      await Promise.allSettled([...sessions.values()].map((s) => s.transport.close()));
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
