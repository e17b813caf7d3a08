// `gatehouse mcp --http` keeps one MCP session per client, and sessions end: a client that never
// ends its sessions (an agent host restarted often, a crash loop) must not fill the table and lock
// every later client out until the server restarts. Real SDK clients over real HTTP; the gateway
// behind the tools is a fetch that answers (or holds a call) as each test needs.
import test from 'ava';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpHttpServer, type McpHttpOptions, type McpHttpServer } from '../../shared/mcp/http.ts';
import { fixedToken } from '../../shared/client/tokens.ts';

const SECRET = 'mcp-sessions-test-secret-0123456789abcdef';

/** A gateway whose every answer waits until `release()`; `calls` counts the requests it got. */
function heldGateway() {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const state = { calls: 0 };
  const fetch = (async () => {
    state.calls++;
    await released;
    return new Response(JSON.stringify({ sessionId: 'held-session', connections: [] }), { status: 200, headers: { 'content-type': 'application/json' } });
  }) as typeof globalThis.fetch;
  return { fetch, release, state };
}

async function server(t: import('ava').ExecutionContext, options: Partial<McpHttpOptions> = {}): Promise<McpHttpServer> {
  const s = await startMcpHttpServer({ url: 'http://127.0.0.1:9', tokenProvider: fixedToken('unused'), model: 'test-model', port: 0, secret: SECRET, ...options });
  t.teardown(() => s.close());
  return s;
}

async function connect(s: McpHttpServer): Promise<Client> {
  const client = new Client({ name: 'test-agent', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(s.url), { requestInit: { headers: { authorization: `Bearer ${SECRET}` } } }));
  return client;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('sessions a client never ends do not lock later clients out: the least recently used idle one makes room', async (t) => {
  const s = await server(t, { maxSessions: 2 });
  const first = await connect(s);
  const second = await connect(s);
  await second.listTools(); // second is now used more recently than first
  const third = await connect(s);
  t.true((await third.listTools()).tools.length > 0);
  t.true((await second.listTools()).tools.length > 0, 'the more recently used session stays');
  // The first session was closed to make room: its id is unknown now, it must start again.
  const gone = await t.throwsAsync(first.listTools());
  t.regex(String(gone?.message), /unknown MCP session|404|Not connected/i);
  await Promise.allSettled([first.close(), second.close(), third.close()]);
});

test('a session idle for idleTimeoutMs is closed; one in use stays', async (t) => {
  const s = await server(t, { idleTimeoutMs: 2500 });
  const idle = await connect(s);
  const busy = await connect(s);
  const start = Date.now();
  while (Date.now() - start < 5500) {
    await sleep(100);
    await busy.listTools();
  }
  const gone = await t.throwsAsync(idle.listTools());
  t.regex(String(gone?.message), /unknown MCP session|404|Not connected/i);
  t.true((await busy.listTools()).tools.length > 0);
  await Promise.allSettled([idle.close(), busy.close()]);
});

test('a session with a call in progress is never closed to make room, nor as idle: only then is a new client refused (503)', async (t) => {
  const gateway = heldGateway();
  // Long enough that a loaded machine's pause between initialize and its notification is not idleness.
  const s = await server(t, { maxSessions: 1, idleTimeoutMs: 2000, fetch: gateway.fetch });
  const agent = await connect(s);
  const call = agent.callTool({ name: 'list_connections', arguments: {} }, undefined, { timeout: 30_000 });
  while (gateway.state.calls === 0) await sleep(10);
  await sleep(3500); // past the idle timeout, with the call still held
  const refused = await t.throwsAsync(connect(s));
  t.regex(String(refused?.message), /503|too many MCP sessions/);
  gateway.release();
  // Its answer arrives on the session's own stream: the session was never closed while it waited.
  const result = await call;
  t.falsy(result.isError, JSON.stringify(result));
  await agent.close();
});
