// `gatehouse mcp` as an agent host runs it: the SDK's MCP client spawns it over stdio, or talks to
// it over Streamable HTTP, against a real gateway on real PostgreSQL. The MCP server is only a
// client: every tool call is a session in the log, with the model and the MCP run id. Over HTTP
// every request must carry the server's secret (Authorization: Bearer): without it, with a wrong
// one, or with only a session id, nothing runs and nothing is logged.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import pg from 'pg';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { TestGateway } from '../helpers/gateway.ts';
import { BOT, DBA, EVENTS_ROWS, MODEL, seededPii, startAgentGateway } from './fixture.ts';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'bin/gatehouse.ts'];
const TOOLS = ['analyze', 'describe_table', 'get_session', 'list_connections', 'query', 'wait_for_approval'];

let gw: TestGateway;
let pii: string[] = [];
let dir: string;
let audit: pg.Pool;
const children: ChildProcess[] = [];
test.before(async () => {
  gw = await startAgentGateway();
  pii = await seededPii(gw);
  audit = new pg.Pool({ connectionString: gw.audit.url, max: 1 });
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-mcp-'));
});
test.after.always(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await audit?.end();
  await gw?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Connected {
  readonly client: Client;
  /** What the gateway should see as X-Agent-Model and X-Agent-Run-Id. */
  readonly model: string;
  runId(): string | undefined;
  close(): Promise<void>;
}

async function overStdio(): Promise<Connected> {
  // The model comes from the MCP client's clientInfo here (no --model); the token from the env.
  const client = new Client({ name: 'gemini-agent-host', version: '2.5' });
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...CLI, 'mcp', '--url', gw.url],
    env: { ...(process.env as Record<string, string>), GATEHOUSE_TOKEN: await gw.token(BOT) },
    stderr: 'ignore',
  });
  await client.connect(transport);
  return { client, model: 'gemini-agent-host/2.5', runId: () => undefined, close: () => client.close() };
}

/** A running `gatehouse mcp --http`: its URL, the secret its clients send, and all it printed. */
interface HttpServer {
  readonly url: string;
  readonly secret: string;
  readonly tokenPath: string;
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

let stateDirs = 0;
/** Starts `gatehouse mcp --http --port 0` with a state dir of its own (so its own mcp-http.token), or the given options. */
async function startHttp(options: { extraArgs?: string[]; tokenPath?: string } = {}): Promise<HttpServer> {
  // --model, and identity from a token command (run per call, cached until near its expiry).
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, await gw.token(BOT), { mode: 0o600 });
  const stateDir = join(dir, `state-${stateDirs++}`);
  const args = [...CLI, 'mcp', '--http', '--port', '0', '--url', gw.url, '--model', MODEL, '--token-command', `cat '${tokenFile}'`, '--state-dir', stateDir, ...(options.extraArgs ?? [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /at (http:\/\/\S+\/mcp)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`gatehouse mcp --http exited (${code}): ${out}`)));
  });
  const tokenPath = options.tokenPath ?? join(stateDir, 'mcp-http.token');
  const secret = readFileSync(tokenPath, 'utf8').trim();
  const exited = new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
  return {
    url,
    secret,
    tokenPath,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

async function overHttp(server?: HttpServer): Promise<Connected> {
  const s = server ?? (await startHttp());
  const client = new Client({ name: 'some-host', version: '1.0' });
  // As an MCP host configured with "headers": {"Authorization": "Bearer …"} sends it.
  const transport = new StreamableHTTPClientTransport(new URL(s.url), { requestInit: { headers: bearer(s.secret) } });
  await client.connect(transport);
  return {
    client,
    model: MODEL,
    runId: () => transport.sessionId,
    async close() {
      await transport.terminateSession().catch(() => {});
      await client.close();
      await s.stop();
    },
  };
}

type ToolResult = { isError?: boolean; content: { type: string; text?: string }[]; structuredContent?: any };
const call = async (c: Connected, name: string, args: Record<string, unknown> = {}) => (await c.client.callTool({ name, arguments: args })) as ToolResult;
const textOf = (r: ToolResult) => r.content.map((x) => x.text ?? '').join('\n');

async function auditorSession(sessionId: string) {
  const r = await gw.get(`/v1/sessions/${sessionId}`, { authorization: `Bearer ${await gw.token('carol@acme.com', { groups: ['auditors'] })}` });
  if (r.status !== 200) throw new Error(`session ${sessionId}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as { status: string; events: { type: string; data: any }[] };
}

async function agentScenario(t: ExecutionContext, connect: () => Promise<Connected>, tag: string) {
  const c = await connect();
  const sessions: string[] = [];
  try {
    // Tools, with schemas and annotations.
    const { tools } = await c.client.listTools();
    t.deepEqual(tools.map((x) => x.name).sort(), TOOLS);
    const tool = (name: string) => tools.find((x) => x.name === name)!;
    t.is(tool('query').annotations?.destructiveHint, true);
    t.is(tool('query').annotations?.readOnlyHint, false);
    t.is(tool('wait_for_approval').annotations?.destructiveHint, true);
    for (const ro of ['analyze', 'list_connections', 'describe_table', 'get_session']) t.is(tool(ro).annotations?.readOnlyHint, true, ro);
    t.deepEqual(tool('query').inputSchema.required?.sort(), ['connection', 'sql']);

    // A read: masked rows.
    const read = await call(c, 'query', { connection: 'main', sql: 'SELECT id, name, email, ssn FROM customers ORDER BY id LIMIT 5' });
    t.falsy(read.isError, textOf(read));
    t.is(read.structuredContent.status, 'executed');
    t.deepEqual(
      read.structuredContent.columns.filter((x: any) => x.masked).map((x: any) => x.name),
      ['email', 'ssn'],
    );
    const shown = textOf(read) + JSON.stringify(read.structuredContent);
    t.deepEqual(pii.filter((v) => shown.includes(v)), [], 'no seeded PII leaves through MCP');
    sessions.push(read.structuredContent.sessionId);

    // Catalog tools.
    const conns = await call(c, 'list_connections');
    t.falsy(conns.isError, textOf(conns));
    sessions.push(conns.structuredContent.sessionId);
    const described = await call(c, 'describe_table', { connection: 'main', table: 'public.customers' });
    t.falsy(described.isError, textOf(described));
    t.regex(textOf(described), /email .*sensitive, masked \(email\)/);
    sessions.push(described.structuredContent.sessionId);
    const analyzed = await call(c, 'analyze', { connection: 'main', sql: 'UPDATE events SET payload = $1 WHERE kind = $2', params: ['x', 'y'] });
    t.is(analyzed.structuredContent.decision, 'approve');
    sessions.push(analyzed.structuredContent.sessionId);

    // A write: pending approval, nothing ran.
    const marker = `cleared-${tag}`;
    const write = { connection: 'main', sql: 'UPDATE events SET payload = $1 WHERE kind = $2', params: [marker, 'error'] };
    const held = await call(c, 'query', write);
    t.falsy(held.isError, textOf(held));
    t.regex(textOf(held), /^pending approval: id \S+; needs 1 of group:dba; expires /);
    const approvalId: string = held.structuredContent.approval.id;
    sessions.push(held.structuredContent.sessionId);
    const count = async () => (await gw.sql('SELECT count(*)::int AS n FROM events WHERE payload = $1', [marker])).rows[0].n as number;
    t.is(await count(), 0);

    const early = await call(c, 'wait_for_approval', { approvalId, timeoutSec: 0 });
    t.falsy(early.isError, textOf(early));
    t.is(early.structuredContent.status, 'still_pending');

    // The approver approves through the CLI, with their own token.
    const cli = await run(process.execPath, [...CLI, 'approvals', 'approve', approvalId, '--url', gw.url, '--token', await gw.token(DBA), '--comment', 'error payloads may go'], {
      timeout: 60_000,
    });
    t.regex(cli.stdout, /approved/);

    // wait_for_approval runs it, exactly once.
    const ran = await call(c, 'wait_for_approval', { approvalId, timeoutSec: 30 });
    t.falsy(ran.isError, textOf(ran));
    t.is(ran.structuredContent.status, 'executed');
    t.is(ran.structuredContent.rowCount, EVENTS_ROWS / 10);
    sessions.push(ran.structuredContent.sessionId);
    const twice = await call(c, 'wait_for_approval', { approvalId, timeoutSec: 1 });
    t.true(twice.isError);
    t.is(twice.structuredContent.error.code, 'approval_used');
    t.is(await count(), EVENTS_ROWS / 10, 'ran once');

    // A denied DDL: a tool error with the stable code and the session id; no stack trace.
    const ddl = await call(c, 'query', { connection: 'main', sql: 'DROP TABLE orders' });
    t.true(ddl.isError);
    t.is(ddl.structuredContent.error.code, 'policy_denied');
    t.is(ddl.structuredContent.error.rule, 'nothing-else');
    t.truthy(ddl.structuredContent.error.sessionId);
    t.regex(textOf(ddl), /^error \[policy_denied\] denied by rule "nothing-else": .*\(session [0-9a-f-]+\)$/s);
    sessions.push(ddl.structuredContent.error.sessionId);
    // Other DDL syntaxes, and an error from the gateway rather than a rule.
    for (const sql of ['ALTER TABLE orders ADD COLUMN x int', 'create index on orders (status)', 'TRUNCATE orders']) {
      const r = await call(c, 'query', { connection: 'main', sql });
      t.is(r.structuredContent?.error?.code, 'policy_denied', sql);
      sessions.push(r.structuredContent.error.sessionId);
    }
    const bad = await call(c, 'query', { connection: 'main', sql: 'SELEC oops' });
    t.true(bad.isError);
    t.is(bad.structuredContent.error.code, 'sql_unparsable');
    t.truthy(bad.structuredContent.error.sessionId);
    sessions.push(bad.structuredContent.error.sessionId);
    for (const r of [ddl, bad]) t.notRegex(textOf(r), /\n\s+at |\.ts:\d+/, 'no stack trace');
    t.is(await gw.sql('SELECT 1 FROM orders LIMIT 1').then((r) => r.rowCount), 1, 'orders still there');

    // get_session shows the held statement's blast radius.
    const got = await call(c, 'get_session', { sessionId: held.structuredContent.sessionId });
    t.regex(textOf(got), /blast radius ≈ [\d,]+ rows · ModifyTable \(Update\) · public\.events/);

    // Every call is a session in the log, with the model and the run id.
    const runIds = new Set<string>();
    for (const id of sessions) {
      const s = await auditorSession(id);
      const agent = s.events.find((e) => e.type === 'request')!.data.agent;
      t.is(agent.model, c.model, id);
      t.truthy(agent.runId, id);
      runIds.add(agent.runId);
    }
    t.is(runIds.size, 1, 'one MCP session, one run id');
    if (c.runId()) t.deepEqual([...runIds], [c.runId()]);
  } finally {
    await c.close();
  }
}

test.serial('over stdio: an agent host spawns gatehouse mcp', (t) => agentScenario(t, overStdio, 'stdio'));
test.serial('over Streamable HTTP: gatehouse mcp --http', (t) => agentScenario(t, overHttp, 'http'));

test.serial('over Streamable HTTP: a foreign Host header is refused (DNS rebinding)', async (t) => {
  const c = await overHttp();
  try {
    const url = new URL((c.client as any)._transport._url);
    // fetch will not send another Host header; a raw request does, as a rebinding page's would.
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: url.hostname,
            port: url.port,
            path: url.pathname,
            method: 'POST',
            headers: { host, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(c.client as any)._transport._requestInit.headers },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    t.is(await status('evil.example'), 403);
    t.is(await status(`evil.example:${url.port}`), 403);
    t.is(await status(url.host), 200, 'its own Host is served');
  } finally {
    await c.close();
  }
});

// --- the secret of `gatehouse mcp --http` -----------------------------------------------------
// Whoever reaches the port acts as the agent: its SQL, its identity, its name in the session log.
// So every request must carry the server's secret, checked before a session is looked up or made.

/** Sessions in the session log: an unauthenticated request must add none. */
const sessionsLogged = async () => Number((await audit.query('SELECT count(*)::int AS n FROM gatehouse_sessions')).rows[0].n);

const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
const LIST_CONNECTIONS = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'list_connections', arguments: {} } });

/** node:http, because fetch folds repeated headers into one line. */
function rawMcp(url: string, method: string, headers: Record<string, string | string[]>, body?: string): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.setHeader('accept', 'application/json, text/event-stream');
    if (body !== undefined) req.setHeader('content-type', 'application/json');
    for (const [k, v] of Object.entries(headers)) req.setHeader(k, v);
    req.end(body);
  });
}

function refused(t: ExecutionContext, r: { status: number; headers: Record<string, unknown>; text: string }, status: number, code: string, what: string): void {
  t.is(r.status, status, `${what}: ${r.text}`);
  const body = JSON.parse(r.text);
  t.is(body.jsonrpc, '2.0', what);
  t.is(body.error?.data?.code, code, what);
  t.is(r.headers['mcp-session-id'], undefined, `${what}: no session`);
  if (status === 401) t.regex(String(r.headers['www-authenticate']), /^Bearer realm="gatehouse-mcp"/, what);
}

test.serial('over Streamable HTTP: without the secret, 401 token_missing before any session; nothing runs, nothing is logged', async (t) => {
  const s = await startHttp();
  try {
    const before = await sessionsLogged();
    // The SDK's own client, as a host without the header would connect.
    const intruder = new Client({ name: 'intruder', version: '1' });
    const err = await t.throwsAsync(intruder.connect(new StreamableHTTPClientTransport(new URL(s.url))));
    t.is((err as any)?.code, 401);
    t.regex(err!.message, /token_missing/);
    // Had it connected, this would have run as the agent (and been logged).
    await intruder.callTool({ name: 'list_connections', arguments: {} }).catch(() => {});
    await intruder.close().catch(() => {});
    // Every method, with or without a session id (known or not): the secret comes first.
    refused(t, await rawMcp(s.url, 'POST', {}, INITIALIZE), 401, 'token_missing', 'initialize');
    refused(t, await rawMcp(s.url, 'POST', { 'mcp-session-id': 'made-up' }, LIST_CONNECTIONS), 401, 'token_missing', 'tools/call with a made-up session');
    refused(t, await rawMcp(s.url, 'GET', {}), 401, 'token_missing', 'GET');
    refused(t, await rawMcp(s.url, 'DELETE', {}), 401, 'token_missing', 'DELETE');
    refused(t, await rawMcp(s.url.replace(/\/mcp$/, '/elsewhere'), 'GET', {}), 401, 'token_missing', 'another path');
    for (const authorization of ['', 'Bearer', `Basic ${s.secret}`, `Bearer ${s.secret} x`, `Bearer${s.secret}`]) {
      refused(t, await rawMcp(s.url, 'POST', { authorization }, INITIALIZE), 401, 'token_missing', JSON.stringify(authorization.replace(s.secret, '<secret>')));
    }
    t.is(await sessionsLogged(), before, 'no session in the log');
  } finally {
    await s.stop();
  }
});

test.serial('over Streamable HTTP: a wrong secret, of the same length or another, is 401 token_invalid', async (t) => {
  const s = await startHttp();
  try {
    const before = await sessionsLogged();
    const last = s.secret.at(-1) === 'A' ? 'B' : 'A';
    const wrong = {
      'same length': s.secret.slice(0, -1) + last,
      longer: `${s.secret}A`,
      shorter: s.secret.slice(0, -1),
      short: 'x',
      reversed: s.secret.split('').reverse().join(''),
    };
    t.is(wrong['same length'].length, s.secret.length);
    for (const [what, secret] of Object.entries(wrong)) {
      const client = new Client({ name: 'guesser', version: '1' });
      const err = await t.throwsAsync(client.connect(new StreamableHTTPClientTransport(new URL(s.url), { requestInit: { headers: bearer(secret) } })), undefined, what);
      t.is((err as any)?.code, 401, what);
      t.regex(err!.message, /token_invalid/, what);
      await client.callTool({ name: 'list_connections', arguments: {} }).catch(() => {});
      await client.close().catch(() => {});
      const r = await rawMcp(s.url, 'POST', bearer(secret), INITIALIZE);
      refused(t, r, 401, 'token_invalid', what);
      t.regex(String(r.headers['www-authenticate']), /error="invalid_token"/, what);
    }
    t.is(await sessionsLogged(), before, 'no session in the log');
    // The scheme's case does not matter (RFC 9110 §11.1).
    t.is((await rawMcp(s.url, 'POST', { authorization: `bearer ${s.secret}` }, INITIALIZE)).status, 200);
  } finally {
    await s.stop();
  }
});

test.serial('over Streamable HTTP: two Authorization headers are 400 header_repeated, even when both hold the secret', async (t) => {
  const s = await startHttp();
  try {
    const before = await sessionsLogged();
    for (const second of [s.secret, 'wrong']) {
      refused(t, await rawMcp(s.url, 'POST', { authorization: [`Bearer ${s.secret}`, `Bearer ${second}`] }, INITIALIZE), 400, 'header_repeated', second === s.secret ? 'twice the secret' : 'the secret and another');
    }
    refused(t, await rawMcp(s.url, 'POST', { authorization: [`Bearer ${s.secret}`, ''] }, INITIALIZE), 400, 'header_repeated', 'the secret and an empty one');
    t.is(await sessionsLogged(), before);
  } finally {
    await s.stop();
  }
});

test.serial('over Streamable HTTP: a session id is not a credential — a later call without the secret is 401 and does not run', async (t) => {
  const s = await startHttp();
  // The SDK's client with the secret on initialize only; then a fetch that stops sending it.
  let withSecret = true;
  const fetchAs: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers);
    if (withSecret) headers.set('authorization', `Bearer ${s.secret}`);
    else headers.delete('authorization');
    return fetch(input, { ...init, headers });
  };
  const client = new Client({ name: 'some-host', version: '1.0' });
  const transport = new StreamableHTTPClientTransport(new URL(s.url), { fetch: fetchAs });
  try {
    await client.connect(transport);
    const sid = transport.sessionId;
    t.truthy(sid);
    const before = await sessionsLogged();
    withSecret = false;
    const err = await t.throwsAsync(client.callTool({ name: 'query', arguments: { connection: 'main', sql: 'SELECT 1 AS one' } }));
    t.is((err as any)?.code, 401);
    t.regex(err!.message, /token_missing/);
    // Raw, with the live session id: no tool call, no stream, no termination.
    refused(t, await rawMcp(s.url, 'POST', { 'mcp-session-id': sid!, 'mcp-protocol-version': '2025-06-18' }, LIST_CONNECTIONS), 401, 'token_missing', 'tools/call');
    refused(t, await rawMcp(s.url, 'POST', { 'mcp-session-id': sid!, 'mcp-protocol-version': '2025-06-18', ...bearer(`${s.secret.slice(0, -1)}!`) }, LIST_CONNECTIONS), 401, 'token_missing', 'tools/call, a secret with a character no token has');
    refused(t, await rawMcp(s.url, 'POST', { 'mcp-session-id': sid!, 'mcp-protocol-version': '2025-06-18', ...bearer(s.secret.split('').reverse().join('')) }, LIST_CONNECTIONS), 401, 'token_invalid', 'tools/call, a wrong secret');
    refused(t, await rawMcp(s.url, 'GET', { 'mcp-session-id': sid!, 'mcp-protocol-version': '2025-06-18' }), 401, 'token_missing', 'GET stream');
    refused(t, await rawMcp(s.url, 'DELETE', { 'mcp-session-id': sid!, 'mcp-protocol-version': '2025-06-18' }), 401, 'token_missing', 'DELETE');
    t.is(await sessionsLogged(), before, 'nothing ran, nothing logged');
    // The session is still there (the DELETE did nothing): with the secret again, it works.
    withSecret = true;
    const ok = (await client.callTool({ name: 'list_connections', arguments: {} })) as ToolResult;
    t.falsy(ok.isError, textOf(ok));
    t.is(await sessionsLogged(), before + 1);
  } finally {
    withSecret = true;
    await transport.terminateSession().catch(() => {});
    await client.close();
    await s.stop();
  }
});

test.serial('over Streamable HTTP: with the secret a query runs under the agent’s identity; the secret never appears in the output', async (t) => {
  const s = await startHttp();
  const c = await overHttp(s);
  try {
    const r = await call(c, 'query', { connection: 'main', sql: 'SELECT count(*)::int AS n FROM customers' });
    t.falsy(r.isError, textOf(r));
    t.is(r.structuredContent.status, 'executed');
    const logged = await auditorSession(r.structuredContent.sessionId);
    const request = logged.events.find((e) => e.type === 'request')!.data;
    t.is(request.principal.subject, BOT, 'recorded under the agent’s identity');
    t.is(request.agent.model, MODEL);
    t.is(request.agent.runId, c.runId());
    t.is(request.sql, 'SELECT count(*)::int AS n FROM customers');
  } finally {
    await c.close();
  }
  // The process said where the secret is, never what it is.
  t.true(s.output().includes(s.tokenPath), s.output());
  t.regex(s.output(), /Authorization: Bearer <the secret in /);
  t.false(s.output().includes(s.secret), 'the secret is not printed');
});

test.serial('over Streamable HTTP: the generated secret is new each start, 0600 in a 0700 state dir, and removed at shutdown', async (t) => {
  const a = await startHttp();
  const b = await startHttp();
  try {
    for (const s of [a, b]) {
      t.is(statSync(s.tokenPath).mode & 0o777, 0o600);
      t.is(statSync(dirname(s.tokenPath)).mode & 0o777, 0o700);
      t.regex(s.secret, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
    }
    t.not(a.secret, b.secret);
    // One server's secret does not open another.
    t.is((await rawMcp(a.url, 'POST', bearer(b.secret), INITIALIZE)).status, 401);
  } finally {
    await a.stop();
    await b.stop();
  }
  t.false(existsSync(a.tokenPath), 'removed at shutdown');
  // A token file left by a killed server is replaced, not trusted.
  const stateDir = join(dir, 'state-reused');
  mkdirSync(stateDir, { mode: 0o700 });
  writeFileSync(join(stateDir, 'mcp-http.token'), 'left-over-secret-left-over-secret-left-over\n', { mode: 0o600 });
  const c = await startHttp({ extraArgs: ['--state-dir', stateDir], tokenPath: join(stateDir, 'mcp-http.token') });
  try {
    t.not(c.secret, 'left-over-secret-left-over-secret-left-over');
    t.is((await rawMcp(c.url, 'POST', bearer('left-over-secret-left-over-secret-left-over'), INITIALIZE)).status, 401);
  } finally {
    await c.stop();
  }
});

// Before, the second server replaced the token file: the first kept serving, but with a secret its
// clients could no longer read.
test.serial('over Streamable HTTP: a second server on one state dir is refused while the first runs, and the first keeps its secret', async (t) => {
  const stateDir = join(dir, 'state-shared');
  const tokenPath = join(stateDir, 'mcp-http.token');
  const a = await startHttp({ extraArgs: ['--state-dir', stateDir], tokenPath });
  try {
    const refused = await t.throwsAsync(startHttp({ extraArgs: ['--state-dir', stateDir], tokenPath }));
    t.regex(refused!.message, /exited \(1\)[\s\S]*in use[\s\S]*--http-token-file/);
    t.false(refused!.message.includes(a.secret), 'the secret is never printed');
    t.is(readFileSync(tokenPath, 'utf8').trim(), a.secret);
    t.is((await rawMcp(a.url, 'POST', bearer(a.secret), INITIALIZE)).status, 200);
  } finally {
    await a.stop();
  }
  // Once the first has stopped, the state dir is free again.
  const b = await startHttp({ extraArgs: ['--state-dir', stateDir], tokenPath });
  await b.stop();
  t.false(existsSync(tokenPath));
  t.false(existsSync(`${tokenPath}.lock`));
});

// The signal handlers used to go in after the server announced itself: a SIGTERM right after the
// announcement killed it on the spot, leaving its secret file and lock behind (seen once in CI).
test.serial('over Streamable HTTP: stopped the moment it says where it listens, it still removes its secret and lock', async (t) => {
  for (let i = 0; i < 4; i++) {
    const stateDir = join(dir, `state-stopped-at-once-${i}`);
    const tokenPath = join(stateDir, 'mcp-http.token');
    const s = await startHttp({ extraArgs: ['--state-dir', stateDir], tokenPath });
    await s.stop();
    t.is(s.child.exitCode, 0, `run ${i}: a graceful exit, not death by the signal (${s.child.signalCode})`);
    t.false(existsSync(tokenPath), `run ${i}`);
    t.false(existsSync(`${tokenPath}.lock`), `run ${i}`);
  }
});

test.serial('over Streamable HTTP: --http-token-file uses the user’s secret, and refuses a file others can read, a link, a weak secret', async (t) => {
  const secret = randomBytes(32).toString('base64url');
  const file = join(dir, 'my-mcp.token');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  const stateDir = join(dir, 'state-given');
  const s = await startHttp({ extraArgs: ['--http-token-file', file, '--state-dir', stateDir], tokenPath: file });
  try {
    t.is(s.secret, secret);
    const c = await overHttp(s);
    const r = await call(c, 'list_connections');
    t.falsy(r.isError, textOf(r));
    await c.close();
    t.false(existsSync(join(stateDir, 'mcp-http.token')), 'no generated secret');
    t.false(s.output().includes(secret));
  } finally {
    await s.stop();
  }
  t.true(existsSync(file), 'the user’s file is left alone');

  const startFails = async (args: string[]) => {
    const e: any = await run(process.execPath, [...CLI, 'mcp', '--http', '--port', '0', '--url', gw.url, '--token-command', 'exit 3', ...args], { timeout: 60_000 }).then(
      () => undefined,
      (err) => err,
    );
    t.truthy(e, `started: ${args.join(' ')}`);
    return { code: e?.code, out: `${e?.stdout ?? ''}${e?.stderr ?? ''}` };
  };
  for (const mode of [0o644, 0o640, 0o604]) {
    const loose = join(dir, `loose-${mode.toString(8)}.token`);
    writeFileSync(loose, `${secret}\n`);
    chmodSync(loose, mode);
    const r = await startFails(['--http-token-file', loose]);
    t.is(r.code, 1, mode.toString(8));
    t.regex(r.out, /error: --http-token-file: .*loose-\d+\.token is readable by others: chmod 600 it/, mode.toString(8));
    t.notRegex(r.out, /at http:/, 'nothing served');
    t.false(r.out.includes(secret), 'the secret is not printed');
  }
  const link = join(dir, 'link.token');
  symlinkSync(file, link);
  t.regex((await startFails(['--http-token-file', link])).out, /is a symbolic link/);
  const weak = join(dir, 'weak.token');
  writeFileSync(weak, 'hunter2\n', { mode: 0o600 });
  const w = await startFails(['--http-token-file', weak]);
  t.regex(w.out, /holds a token of 7 characters: use at least 32/);
  t.false(w.out.includes('hunter2'));
  const spaced = join(dir, 'spaced.token');
  writeFileSync(spaced, `${secret} ${secret}\n`, { mode: 0o600 });
  t.regex((await startFails(['--http-token-file', spaced])).out, /must hold one token/);
  t.regex((await startFails(['--http-token-file', join(dir, 'absent.token')])).out, /absent\.token does not exist/);
});

test.serial('without any identity, calls fail as tool errors with a code, not a crash', async (t) => {
  const client = new Client({ name: 'gemini-x', version: '1' });
  const env = { ...(process.env as Record<string, string>) };
  delete env.GATEHOUSE_TOKEN;
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...CLI, 'mcp', '--url', gw.url, '--token-command', 'exit 3'],
    env,
    stderr: 'ignore',
  });
  await client.connect(transport);
  try {
    const r = (await client.callTool({ name: 'list_connections', arguments: {} })) as ToolResult;
    t.true(r.isError);
    t.is(r.structuredContent.error.code, 'token_unavailable');
  } finally {
    await client.close();
  }
});
