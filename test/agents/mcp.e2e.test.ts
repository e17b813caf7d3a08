// `gatehouse mcp` as an agent host runs it: the SDK's MCP client spawns it over stdio, or talks to
// it over Streamable HTTP, against a real gateway on real PostgreSQL. The MCP server is only a
// client: every tool call is a session in the log, with the model and the MCP run id.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
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
const children: ChildProcess[] = [];
test.before(async () => {
  gw = await startAgentGateway();
  pii = await seededPii(gw);
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-mcp-'));
});
test.after.always(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
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
