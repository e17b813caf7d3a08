// Attack review of issue 18 (the agents' front door). The attackers:
//  - an agent (a bot allowed only `read`, whose writes need a DBA's approval) driving `gatehouse mcp`
//    — over stdio and Streamable HTTP, with the SDK's real MCP client — to get around the policy:
//    side effects while its held statement is only being estimated for the approvers, redeeming an
//    approval twice at once from two MCP sessions, redeeming another bot's approval, ids made of
//    dot segments that walk the client onto other endpoints;
//  - whatever sits at (or in front of) the Gatehouse URL the client talks to: a redirect that would
//    carry the agent's SQL and parameters elsewhere;
//  - an agent host (or its configuration) handing the MCP server an odd identity: a token with a
//    newline or a NUL in it (which the HTTP stack then quotes in its error: the token reached the
//    agent as tool-error text), a clientInfo name that is not a header value.
// Real gateway, real PostgreSQL, the SDK's real MCP client, as the other suites in test/agents.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import pg from 'pg';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Gatehouse, GatehouseApiError } from '../../shared/client/index.ts';
import { startTestGateway, testPolicy, withBotWriteApproval, type TestGateway } from '../helpers/gateway.ts';
import { BOT, DBA, MODEL, startAgentGateway } from './fixture.ts';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'bin/gatehouse.ts'];
const OTHER_BOT = 'other-bot@acme-prod.iam.gserviceaccount.com';

let gw: TestGateway;
let dir: string;
const children: ChildProcess[] = [];
test.before(async () => {
  gw = await startAgentGateway();
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-mcp-atk-'));
  await gw.sql(`
    CREATE TABLE planted_log (id serial PRIMARY KEY, what text);
    -- What a DBA could have declared IMMUTABLE (so indexes may use it) that is not: the planner folds
    -- a call with constant arguments while it plans, so a plain EXPLAIN runs it. READ ONLY stops its
    -- writes to this database, not what it does outside the transaction: ending another backend.
    CREATE FUNCTION planted_kill(victim int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
      BEGIN PERFORM pg_catalog.pg_terminate_backend(victim); RETURN victim; END $$;`);
});
test.after.always(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await gw?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type ToolResult = { isError?: boolean; content: { type: string; text?: string }[]; structuredContent?: any };
const textOf = (r: ToolResult) => r.content.map((x) => x.text ?? '').join('\n');
const whole = (r: ToolResult) => `${textOf(r)}\n${JSON.stringify(r.structuredContent ?? {})}`;

async function stdioClient(env: Record<string, string | undefined>, args: string[] = [], clientInfo = { name: 'gemini-agent-host', version: '2.5' }) {
  const client = new Client(clientInfo);
  const base = { ...(process.env as Record<string, string>) };
  delete base.GATEHOUSE_TOKEN;
  let stderr = '';
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...CLI, 'mcp', '--url', gw.url, ...args],
    env: Object.fromEntries(Object.entries({ ...base, ...env }).filter(([, v]) => v !== undefined)) as Record<string, string>,
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  await client.connect(transport);
  return {
    client,
    stderr: () => stderr,
    call: async (name: string, args: Record<string, unknown> = {}) => (await client.callTool({ name, arguments: args })) as ToolResult,
    close: () => client.close(),
  };
}

async function startHttp(): Promise<{ url: string; secret: string; stop(): Promise<void> }> {
  const tokenFile = join(dir, `token-${children.length}`);
  writeFileSync(tokenFile, await gw.token(BOT), { mode: 0o600 });
  const stateDir = join(dir, `state-${children.length}`);
  const child = spawn(process.execPath, [...CLI, 'mcp', '--http', '--port', '0', '--url', gw.url, '--model', MODEL, '--token-command', `cat '${tokenFile}'`, '--state-dir', stateDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /at (http:\/\/\S+\/mcp)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`gatehouse mcp --http exited (${code})`)));
  });
  const secret = readFileSync(join(stateDir, 'mcp-http.token'), 'utf8').trim();
  const exited = new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
  return {
    url,
    secret,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function approve(approvalId: string): Promise<void> {
  const cli = await run(process.execPath, [...CLI, 'approvals', 'approve', approvalId, '--url', gw.url, '--token', await gw.token(DBA), '--comment', 'fine'], { timeout: 60_000 });
  if (!/approved/.test(cli.stdout)) throw new Error('not approved');
}

// --- the blast radius: estimating must not run anything ---------------------------------------

/** A backend of the target that the attack would end; alive() asks it. */
async function victim() {
  const c = new pg.Client({ connectionString: gw.target.url });
  c.on('error', () => {});
  await c.connect();
  const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
  return {
    pid,
    alive: () =>
      c.query('SELECT 1').then(
        () => true,
        () => false,
      ),
    end: () => c.end().catch(() => {}),
  };
}

test.serial('estimating a held statement does not run a function the planner would fold (it ended another backend before anyone approved)', async (t) => {
  const v = await victim();
  const mcp = await stdioClient({ GATEHOUSE_TOKEN: await gw.token(BOT) });
  try {
    const held = await mcp.call('query', { connection: 'main', sql: `UPDATE events SET payload = $1 WHERE id = planted_kill(${v.pid})`, params: ['x'] });
    t.falsy(held.isError, textOf(held));
    t.is(held.structuredContent.status, 'pending_approval');
    t.true(await v.alive(), 'the held statement ran a function while it was only being estimated');
    const approval = (await gw.get(`/v1/approvals/${held.structuredContent.approval.id}`, { authorization: `Bearer ${await gw.token(DBA)}` })).body.approval;
    t.is(approval.estimate.state, 'unavailable');
    t.regex(approval.estimate.reason, /planted_kill/);
  } finally {
    await mcp.close();
    await v.end();
  }
});

test.serial("estimating an INSERT does not run the planner-folded function in the table's column default", async (t) => {
  const v = await victim();
  await gw.sql(`CREATE TABLE planted_defaults (id int, note text, stamp int DEFAULT planted_kill(${v.pid}))`);
  try {
    const r = await gw.post('/v1/query', { connection: 'main', sql: 'INSERT INTO planted_defaults (id, note) VALUES ($1, $2)', params: [1, 'x'] }, { authorization: `Bearer ${await gw.token(BOT)}`, 'x-agent-model': MODEL });
    t.is(r.status, 202, JSON.stringify(r.body));
    t.true(await v.alive(), "the column default's function ran while the INSERT was only being estimated");
    const approval = (await gw.get(`/v1/approvals/${r.body.approval.id}`, { authorization: `Bearer ${await gw.token(DBA)}` })).body.approval;
    t.is(approval.estimate.state, 'unavailable');
    t.regex(approval.estimate.reason, /in a default, constraint or index of a relation it touches \(public\.planted_kill\)/);
  } finally {
    await v.end();
  }
});

test.serial('estimating does not run a user function behind an assignment cast the statement never names', async (t) => {
  const v = await victim();
  await gw.sql(`
    CREATE TYPE planted_mood AS ENUM ('calm', 'angry');
    CREATE FUNCTION planted_mood_of(n int) RETURNS planted_mood LANGUAGE plpgsql IMMUTABLE AS $$
      BEGIN PERFORM pg_catalog.pg_terminate_backend(${v.pid}); RETURN 'calm'; END $$;
    CREATE CAST (int AS planted_mood) WITH FUNCTION planted_mood_of(int) AS ASSIGNMENT;
    CREATE TABLE moods (id int PRIMARY KEY, mood planted_mood);`);
  try {
    // No call, no cast in the text: the assignment cast to the column's type is the planner's.
    const r = await gw.post('/v1/query', { connection: 'main', sql: 'UPDATE moods SET mood = 1 WHERE id = 1', params: [] }, { authorization: `Bearer ${await gw.token(BOT)}`, 'x-agent-model': MODEL });
    t.is(r.status, 202, JSON.stringify(r.body));
    t.true(await v.alive(), 'the cast function ran while the UPDATE was only being estimated');
    const approval = (await gw.get(`/v1/approvals/${r.body.approval.id}`, { authorization: `Bearer ${await gw.token(DBA)}` })).body.approval;
    t.is(approval.estimate.state, 'unavailable');
  } finally {
    await gw.sql('DROP CAST (int AS planted_mood)');
    await v.end();
  }
});

test.serial('a held statement calling only built-in functions is still estimated', async (t) => {
  const r = await gw.post('/v1/query', { connection: 'main', sql: 'UPDATE events SET payload = upper($1) WHERE id = abs(-5)', params: ['x'] }, { authorization: `Bearer ${await gw.token(BOT)}`, 'x-agent-model': MODEL });
  t.is(r.status, 202, JSON.stringify(r.body));
  const approval = (await gw.get(`/v1/approvals/${r.body.approval.id}`, { authorization: `Bearer ${await gw.token(DBA)}` })).body.approval;
  t.is(approval.estimate.state, 'estimated', JSON.stringify(approval.estimate));
  t.deepEqual(approval.estimate.tables, ['public.events']);
});

// --- redeeming: once, and only one's own -------------------------------------------------------

test.serial('one approval redeemed at once from a stdio and a Streamable HTTP MCP session: it runs exactly once', async (t) => {
  const marker = `raced-${Date.now()}`;
  const stdio = await stdioClient({ GATEHOUSE_TOKEN: await gw.token(BOT) });
  const server = await startHttp();
  const http = new Client({ name: 'other-host', version: '1' });
  await http.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { authorization: `Bearer ${server.secret}` } } }));
  try {
    const held = await stdio.call('query', { connection: 'main', sql: 'UPDATE events SET payload = $1 WHERE id BETWEEN 100 AND 109', params: [marker] });
    const { approval, sessionId } = held.structuredContent;
    await approve(approval.id);
    const results = (await Promise.all([
      stdio.call('wait_for_approval', { approvalId: approval.id, timeoutSec: 30 }),
      http.callTool({ name: 'wait_for_approval', arguments: { approvalId: approval.id, sessionId, timeoutSec: 30 } }),
      stdio.call('wait_for_approval', { approvalId: approval.id, sessionId, timeoutSec: 30 }),
    ])) as ToolResult[];
    const ran = results.filter((r) => !r.isError);
    t.is(ran.length, 1, results.map(whole).join('\n'));
    for (const r of results.filter((x) => x.isError)) t.regex(r.structuredContent.error.code, /^approval_(used|mismatch)$/, whole(r));
    t.is((await gw.sql('SELECT count(*)::int AS n FROM events WHERE payload = $1', [marker])).rows[0].n, 10, 'ran once, on ten rows');
  } finally {
    await http.close().catch(() => {});
    await server.stop();
    await stdio.close();
  }
});

test.serial("another bot's approval, through MCP: it cannot read that session, and presenting the approval for the same text is refused", async (t) => {
  const marker = `theirs-${Date.now()}`;
  const sql = 'UPDATE events SET payload = $1 WHERE id = 200';
  const mine = await stdioClient({ GATEHOUSE_TOKEN: await gw.token(BOT) });
  const other = await stdioClient({ GATEHOUSE_TOKEN: await gw.token(OTHER_BOT, { groups: ['review-bots'] }) });
  try {
    const held = await mine.call('query', { connection: 'main', sql, params: [marker] });
    const { approval, sessionId } = held.structuredContent;
    await approve(approval.id);
    const stolen = await other.call('wait_for_approval', { approvalId: approval.id, sessionId, timeoutSec: 1 });
    t.true(stolen.isError);
    t.is(stolen.structuredContent.error.code, 'session_not_found');
    // The other bot holds the very same text, then waits with the first bot's approval id.
    const copy = await other.call('query', { connection: 'main', sql, params: [marker] });
    t.is(copy.structuredContent.status, 'pending_approval');
    const swapped = await other.call('wait_for_approval', { approvalId: approval.id, sessionId: copy.structuredContent.sessionId, timeoutSec: 1 });
    t.is(swapped.structuredContent?.error?.code, 'approval_mismatch', whole(swapped));
    // The refusal names nothing of the first bot's session.
    t.false(whole(swapped).includes(sessionId), 'the approval’s own session id was shown to another bot');
    t.false(whole(stolen).includes(marker), 'the held statement was shown to another bot');
    t.is((await gw.sql('SELECT count(*)::int AS n FROM events WHERE payload = $1', [marker])).rows[0].n, 0);
    // Its owner still redeems it.
    const ran = await mine.call('wait_for_approval', { approvalId: approval.id, timeoutSec: 10 });
    t.falsy(ran.isError, whole(ran));
  } finally {
    await mine.close();
    await other.close();
  }
});

test.serial('a token command that hangs (ignores SIGTERM, keeps stdout open through a child) is cut off at its timeout, quoting nothing', async (t) => {
  const { commandToken } = await import('../../shared/client/tokens.ts');
  const started = Date.now();
  const hang = commandToken(`echo 'eyJhbGciOi.partial' >&2; sh -c 'trap "" TERM; sleep 20' & trap '' TERM; sleep 20`, { timeoutMs: 500 });
  const e = await t.throwsAsync(async () => hang());
  t.true(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  t.notRegex(e!.message, /eyJ|partial/);
});

// --- describe_table --------------------------------------------------------------------------

test.serial('describe_table shows names and types only: no default, constraint, comment, statistic or view text; a name that is SQL is only a name', async (t) => {
  const secret = '901-12-3456';
  await gw.sql(`
    CREATE TABLE described (id int PRIMARY KEY, code text DEFAULT '${secret}' CHECK (code <> '${secret}x'), kind text);
    COMMENT ON COLUMN described.code IS 'was ${secret}';
    INSERT INTO described (id, kind) SELECT i, '${secret}' FROM generate_series(1, 50) AS i;
    ANALYZE described;
    CREATE VIEW described_view AS SELECT id, code, '${secret}'::text AS planted FROM described WHERE kind = '${secret}';
    CREATE TABLE "x; DROP TABLE orders" (id int);`);
  const mcp = await stdioClient({ GATEHOUSE_TOKEN: await gw.token(BOT) });
  try {
    for (const table of ['public.described', 'public.described_view']) {
      const r = await mcp.call('describe_table', { connection: 'main', table });
      t.falsy(r.isError, whole(r));
      t.false(whole(r).includes('901-12-3456'), `${table}: a value left through describe_table`);
    }
    const sql = await mcp.call('describe_table', { connection: 'main', table: 'public."x; DROP TABLE orders"' });
    t.falsy(sql.isError, whole(sql));
    t.deepEqual(sql.structuredContent.columns.map((c: any) => c.name), ['id']);
    const notTable = await mcp.call('describe_table', { connection: 'main', table: "public.customers' OR '1'='1" });
    t.is(notTable.structuredContent?.error?.code, 'table_not_found', whole(notTable));
    t.is((await gw.sql('SELECT count(*)::int AS n FROM orders')).rows[0].n > 0, true, 'orders still there');
  } finally {
    await mcp.close();
  }
});

// --- ids that are paths -----------------------------------------------------------------------

test.serial('ids made of dot segments do not walk the client onto other endpoints', async (t) => {
  const paths: string[] = [];
  const recording: typeof fetch = (input, init) => {
    paths.push(new URL(String(input)).pathname);
    return fetch(input, init);
  };
  const bot = new Gatehouse({ url: gw.url, tokenProvider: () => gw.token(BOT), model: MODEL, fetch: recording });
  for (const id of ['..', '.', '%2e%2e', '../approvals']) {
    await bot.session(id).catch(() => {});
    await bot.approval(id).catch(() => {});
    await bot.describeTable(id, '..').catch(() => {});
    await bot.decide(id, 'approve', 'x').catch(() => {});
  }
  const elsewhere = paths.filter((p) => !/^\/v1\/(sessions|approvals|connections)\/[^/]+/.test(p));
  t.deepEqual(elsewhere, [], 'a request left the endpoint it was meant for');

  const mcp = await stdioClient({ GATEHOUSE_TOKEN: await gw.token(BOT) });
  try {
    for (const sessionId of ['..', '.']) {
      const r = await mcp.call('get_session', { sessionId });
      t.is(r.structuredContent?.error?.code, 'bad_request', whole(r));
      const w = await mcp.call('wait_for_approval', { approvalId: '..', sessionId, timeoutSec: 0 });
      t.is(w.structuredContent?.error?.code, 'bad_request', whole(w));
    }
  } finally {
    await mcp.close();
  }
});

// --- what the client follows ------------------------------------------------------------------

test.serial('a redirect from the Gatehouse URL is not followed: the SQL and its parameters go nowhere else', async (t) => {
  const elsewhere: string[] = [];
  const sink = await listen(createServer((req, res) => {
    let body = '';
    req.on('data', (b: Buffer) => (body += b.toString()));
    req.on('end', () => {
      elsewhere.push(`${req.method} ${req.url} ${body}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  }));
  const redirecting = await listen(createServer((req, res) => {
    req.resume();
    res.writeHead(307, { location: `http://localhost:${port(sink)}${req.url}` }).end();
  }));
  try {
    const bot = new Gatehouse({ url: `http://127.0.0.1:${port(redirecting)}`, tokenProvider: () => gw.token(BOT), model: MODEL });
    const e = await t.throwsAsync(bot.query({ connection: 'main', sql: 'UPDATE customers SET ssn = $1 WHERE id = 1', params: ['901-12-3499'] }), { instanceOf: GatehouseApiError });
    t.is(e!.code, 'unexpected_response');
    t.regex(e!.message, /redirect/);
    t.deepEqual(elsewhere, [], 'the statement was re-sent to where the redirect pointed');
  } finally {
    sink.close();
    redirecting.close();
  }
});

test.serial('an answer without end is cut off at the client’s cap, not read into memory', async (t) => {
  let sent = 0;
  const chunk = Buffer.alloc(1024 * 1024, 'x');
  const endless = await listen(createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    const more = () => {
      while (!res.destroyed && sent < 1024 * 1024 * 1024) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', more);
      }
      res.end();
    };
    res.on('close', () => res.destroy());
    more();
  }));
  try {
    const bot = new Gatehouse({ url: `http://127.0.0.1:${port(endless)}`, tokenProvider: () => gw.token(BOT), model: MODEL });
    const e = await t.throwsAsync(bot.connections(), { instanceOf: GatehouseApiError });
    t.is(e!.code, 'unexpected_response');
    t.regex(e!.message, /more than 67108864 bytes/);
    t.true(sent < 128 * 1024 * 1024, `the server got to send ${sent} bytes`);
  } finally {
    endless.closeAllConnections();
    endless.close();
  }
});

test.serial('a Gatehouse URL carrying a user and password is refused, and the password is never quoted', async (t) => {
  let shown = '';
  try {
    await new Gatehouse({ url: 'http://agent:s3cretpw@127.0.0.1:9', token: 'x' }).connections();
  } catch (e) {
    shown = `${String(e)} ${JSON.stringify(e)}`;
  }
  t.not(shown, '', 'refused');
  t.false(shown.includes('s3cretpw'), shown);
});

function listen(s: Server): Promise<Server> {
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}
const port = (s: Server) => (s.address() as { port: number }).port;

// --- identity handed to the MCP server --------------------------------------------------------

test.serial('a token with a newline or a NUL inside is refused with a code, and never quoted back to the agent', async (t) => {
  const token = await gw.token(BOT);
  const tokenFile = join(dir, 'nul.token');
  writeFileSync(tokenFile, `${token}\0trailer`, { mode: 0o600 });
  const cases: [string, Record<string, string>, string[]][] = [
    ['newline in GATEHOUSE_TOKEN', { GATEHOUSE_TOKEN: `${token}\nX-Injected: 1` }, []],
    ['carriage return in GATEHOUSE_TOKEN', { GATEHOUSE_TOKEN: `${token}\rx` }, []],
    ['NUL from the token command', {}, ['--token-command', `cat '${tokenFile}'`]],
  ];
  // Parts of the token an error could quote: the signature, the payload.
  const parts = token.split('.').filter((p) => p.length > 16);
  for (const [what, env, args] of cases) {
    const mcp = await stdioClient(env, args);
    try {
      const r = await mcp.call('list_connections');
      t.true(r.isError, what);
      t.is(r.structuredContent?.error?.code, 'token_unavailable', `${what}: ${r.structuredContent?.error?.code}`);
      const shown = `${whole(r)}\n${mcp.stderr()}`;
      t.false(
        parts.some((p) => shown.includes(p)),
        `${what}: the token was quoted back`,
      );
    } finally {
      await mcp.close();
    }
  }
});

test.serial("a clientInfo name that is not a header value is refused as bad_request (not 'unreachable'), and is not quoted", async (t) => {
  for (const name of ['host\nX-Agent-Run-Id: forged', 'gemini-🤖']) {
    const mcp = await stdioClient({ GATEHOUSE_TOKEN: await gw.token(BOT) }, [], { name, version: '1' });
    try {
      const r = await mcp.call('list_connections');
      t.true(r.isError, name);
      t.is(r.structuredContent?.error?.code, 'bad_request', whole(r));
      t.false(whole(r).includes('forged'), 'the value is not echoed');
    } finally {
      await mcp.close();
    }
  }
  // --model overrides clientInfo: the same host works when told its model.
  const mcp = await stdioClient({ GATEHOUSE_TOKEN: await gw.token(BOT) }, ['--model', MODEL], { name: 'host\nbad', version: '1' });
  try {
    const r = await mcp.call('list_connections');
    t.falsy(r.isError, whole(r));
  } finally {
    await mcp.close();
  }
});

// --- the estimate as an oracle on masked columns (masking.predicates: deny) ---------------------

test.serial('analyze of a statement calling a planted function runs nothing (no estimate, no plan)', async (t) => {
  const v = await victim();
  const mcp = await stdioClient({ GATEHOUSE_TOKEN: await gw.token(BOT) });
  try {
    const r = await mcp.call('analyze', { connection: 'main', sql: `UPDATE events SET payload = $1 WHERE id = planted_kill(${v.pid})`, params: ['x'] });
    t.falsy(r.isError, whole(r));
    t.is(r.structuredContent.decision, 'approve');
    t.true(await v.alive());
  } finally {
    await mcp.close();
    await v.end();
  }
});

test.serial('with masking.predicates: deny, the estimate of a held write is no oracle on a masked column', async (t) => {
  // The bot may not filter on patients.diagnosis (a read doing so is masking_denied). A held DELETE
  // filtering on it got an estimate — the planner's guess from the column's statistics, which
  // pg_stats keeps as most-common values — and the bot reads its own session: rows per value.
  const oracle = await startTestGateway({
    seedSql: `CREATE TABLE patients (id int PRIMARY KEY, diagnosis text);
INSERT INTO patients SELECT i, CASE WHEN i % 100 < 30 THEN 'flu' WHEN i % 100 < 33 THEN 'hiv' ELSE 'other-' || i END FROM generate_series(1, 5000) AS i;
ANALYZE patients;
CREATE TABLE visits (id int PRIMARY KEY); INSERT INTO visits SELECT generate_series(1, 1000); ANALYZE visits;`,
    policy: (issuer) =>
      withBotWriteApproval(
        testPolicy(
          issuer,
          `masking:
  columns:
    public.patients.diagnosis: redact
  derived: mask
  predicates: deny
  detectors: []
`,
        ),
      ),
  });
  try {
    const bot = { authorization: `Bearer ${await oracle.token(BOT)}`, 'x-agent-model': MODEL };
    const read = await oracle.post('/v1/query', { connection: 'main', sql: 'SELECT count(*) FROM patients WHERE diagnosis = $1', params: ['hiv'] }, bot);
    t.is(read.body.error?.code, 'masking_denied', 'the read oracle is closed');
    const seen: unknown[] = [];
    for (const value of ['flu', 'hiv', 'measles']) {
      const r = await oracle.post('/v1/query', { connection: 'main', sql: 'DELETE FROM patients WHERE diagnosis = $1', params: [value] }, bot);
      if (r.status !== 202) {
        t.is(r.body.error?.code, 'masking_denied', JSON.stringify(r.body));
        continue;
      }
      const s = await oracle.get(`/v1/sessions/${r.body.sessionId}`, bot);
      const estimate = s.body.events.find((e: any) => e.type === 'approval.requested')?.data.estimate;
      seen.push(estimate?.rows);
      t.is(estimate?.state, 'unavailable', `${value}: ${JSON.stringify(estimate)}`);
    }
    t.deepEqual(seen, [undefined, undefined, undefined], 'no row counts per value');
    // A table without masked columns is still estimated.
    const plain = await oracle.post('/v1/query', { connection: 'main', sql: 'DELETE FROM visits WHERE id > $1', params: [900] }, bot);
    t.is(plain.status, 202, JSON.stringify(plain.body));
    const s = await oracle.get(`/v1/sessions/${plain.body.sessionId}`, bot);
    t.is(s.body.events.find((e: any) => e.type === 'approval.requested')?.data.estimate.state, 'estimated');
  } finally {
    await oracle.close();
  }
});

test.serial('a bot that may not read a connection learns no row counts from the estimate of its held writes', async (t) => {
  // Its writes are held for a DBA; it may not read. The estimate of DELETE … WHERE <anything> was
  // the planner's count of matching rows, in the bot's own session, before anyone decided.
  const writeOnly = await startTestGateway({
    seedSql: `CREATE TABLE cards (id int PRIMARY KEY, holder text);
INSERT INTO cards SELECT i, CASE WHEN i % 10 = 0 THEN 'ceo' ELSE 'staff-' || i END FROM generate_series(1, 3000) AS i;
ANALYZE cards;`,
    policy: (issuer) => {
      const policy = withBotWriteApproval(testPolicy(issuer));
      const read = `  - name: bots-read
    principals: [group:review-bots]
    classes: [read]
    action: allow
`;
      if (!policy.includes(read)) throw new Error('no bots-read rule to remove');
      return policy.replace(read, '');
    },
  });
  try {
    const bot = { authorization: `Bearer ${await writeOnly.token(BOT)}`, 'x-agent-model': MODEL };
    const read = await writeOnly.post('/v1/query', { connection: 'main', sql: 'SELECT count(*) FROM cards WHERE holder = $1', params: ['ceo'] }, bot);
    t.is(read.status, 403, 'reads are denied');
    const held = await writeOnly.post('/v1/query', { connection: 'main', sql: 'DELETE FROM cards WHERE holder = $1', params: ['ceo'] }, bot);
    t.is(held.status, 202, JSON.stringify(held.body));
    const s = await writeOnly.get(`/v1/sessions/${held.body.sessionId}`, bot);
    const estimate = s.body.events.find((e: any) => e.type === 'approval.requested')?.data.estimate;
    t.is(estimate?.rows, undefined, `the bot read a count: ${JSON.stringify(estimate)}`);
    t.is(estimate?.state, 'unavailable');
  } finally {
    await writeOnly.close();
  }
});
