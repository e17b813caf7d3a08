// Adversarial review of the outcome protocol under faults (issue 15, issue 17), by the atk-outcomes
// attacker (an independent reliability/security review, December 2026). Real components only: the
// real gateway over HTTP, real PostgreSQL as the target and as the session store, faults injected
// with a TCP proxy that holds or cuts bytes and with locks (never with sleeps), waiting on
// conditions. Each test checks the target and the log.
//
// Broke, and fixed (each attack committed failing first):
//   - a store partition holds the admission append past the client's bound: it landed after a 503
//     that named no session (fix: the backend is terminated, not cancelled; a failed admission whose
//     fate is unknown names its session, details.recorded);
//   - a read's result append commits but its answer is lost: the gateway's own execution.failed
//     after the result was out of its protocol (fix: protocol.ts accepts it, audit_unavailable only);
//   - another instance reconciles a write still waiting on a lock as rolled_back; the result lands
//     after it and COMMIT commits (fix: compare-and-append for the result and for an abandoned
//     judged at execution.started);
//   - COMMIT/ROLLBACK/ABORT AND CHAIN as a write: logged committed of a txid the target says
//     aborted (fix: a write's transaction-control tag is refused, as a read's);
//   - a write whose RETURNING is cut records rowCount = rows kept (fix: a write runs to its tag).
// Held (kept here where no other suite covers them through the gateway): a client that hangs up
// mid-write, a deferred constraint failing at COMMIT, the target killing the backend while the
// result is recorded, the mirror of the reconciliation race.
import test from 'ava';
import { connect, createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { sessionStatus } from '../../shared/audit/status.ts';
import { protocolBreak } from '../../shared/audit/protocol.ts';
import { freePort } from '../../infra/free-port.ts';
import { reconcile } from '../../shared/reconcile/reconcile.ts';
import { createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import type { SessionLog } from '../../shared/ports.ts';
import { startTestGateway, testPolicy, type TestGateway } from '../helpers/gateway.ts';
import { testPgKind } from '../helpers/pg.ts';

const DBA = 'alice@acme.com';
const model = { 'x-agent-model': 'test-model' };
// The store's server aborts a statement after this; the client gives up 5 s later (session-log.ts).
const STORE_TIMEOUT_MS = 1000;
const realPg = testPgKind === 'pglite' ? test.skip : test.serial;

let gw: TestGateway;
let audit: pg.Pool;
let store: HoldingProxy;
let otherInstance: SessionLog; // the same log, as another gateway instance (or the CLI) writes it
// Another instance's reconciliation clock, an hour on: every open session is past timeout + grace.
const later = () => new Date(Date.now() + 3_600_000);

test.before(async () => {
  gw = await startTestGateway({
    // A generous statement timeout: a statement held on a lock waits for the test, not the clock.
    policy: (issuer) => testPolicy(issuer).replace('statementTimeoutMs: 2000', 'statementTimeoutMs: 60000'),
    seedSql: `CREATE TABLE notes (id int PRIMARY KEY, body text);
      CREATE TABLE parents (id int PRIMARY KEY);
      CREATE TABLE children (id int PRIMARY KEY, parent int REFERENCES parents DEFERRABLE INITIALLY DEFERRED);`,
    storeStatementTimeoutMs: STORE_TIMEOUT_MS,
    reconcile: { intervalMs: 0, startupLookbackMs: 0, graceMs: 0 },
    storeUrl: async (url) => {
      const u = new URL(url);
      store = await holdingProxy(await freePort(), { host: u.hostname, port: Number(u.port || 5432) });
      u.hostname = '127.0.0.1';
      u.port = String(store.port);
      return u.toString();
    },
  });
  audit = new pg.Pool({ connectionString: gw.audit.url, max: 2 });
  audit.on('error', () => {});
  otherInstance = await createPostgresSessionLog({ connectionString: gw.audit.url, poolSize: 2 });
});
test.after.always(async () => {
  await otherInstance?.close();
  await audit?.end();
  await gw?.close();
  await store?.close();
});

async function dbaInsert(id: number, sql = 'INSERT INTO notes VALUES ($1, $2)') {
  return gw.post('/v1/query', { connection: 'main', sql, params: [id, 'x'] }, { authorization: `Bearer ${await gw.token(DBA)}`, ...model });
}
async function noteExists(id: number): Promise<boolean> {
  return (await gw.sql('SELECT 1 FROM notes WHERE id = $1', [id])).rowCount === 1;
}
/** Sessions whose request carries this SQL text: what the log holds for one test's request. */
async function sessionsFor(sql: string): Promise<string[]> {
  const { rows } = await audit.query<{ session_id: string }>('SELECT session_id FROM gatehouse_sessions WHERE sql = $1', [sql]);
  return rows.map((r) => r.session_id);
}

// --- Attack: the store's network delays the admission append past the client's bound ----------
// The server-side statement_timeout bounds a statement from the moment the SERVER starts it. An
// append the network holds (a partition that heals: TCP retransmits what the client sent, even
// after the client closed its socket) reaches the server after the gateway gave up and answered
// 503 — and the server runs it then, in full. docs/outcomes.md said "a 503 without a session id
// means the admission itself was not recorded, and (by the store's server-side bound) never will be".

realPg('a store partition that holds the admission append on one connection: the gateway kills that backend, and the append never lands later', async (t) => {
  const sql = 'INSERT INTO notes VALUES ($1, $2) -- held-admission-one';
  const held = store.holdNext(sql);
  const answer = dbaInsert(4001, sql);
  await held.holding;
  const r = await answer; // the client gave up (statement bound + margin) and the gateway answered
  t.is(r.status, 503, JSON.stringify(r.body));
  t.is(r.body.error.code, 'audit_unavailable');
  // The partition heals: what the client sent reaches the server now.
  held.release();
  await held.upstreamClosed; // the backend that would have run it is gone: nothing more can land
  const recorded = await sessionsFor(sql);
  for (const id of recorded) t.is(id, r.body.sessionId, `session ${id} landed after a 503 that did not name it`);
  t.deepEqual(recorded, [], 'an append the gateway gave up on never commits later');
  t.false(await noteExists(4001), 'nothing ran');
});

realPg('a total store partition: the admission append lands after the 503, and the 503 named its session; reconciliation closes it rolled_back', async (t) => {
  const sql = 'INSERT INTO notes VALUES ($1, $2) -- held-admission-all';
  const held = store.holdNext(sql, { refuseNewConnections: true });
  const answer = dbaInsert(4002, sql);
  await held.holding;
  const r = await answer;
  t.is(r.status, 503, JSON.stringify(r.body));
  t.is(r.body.error.code, 'audit_unavailable');
  held.release();
  await held.upstreamClosed;
  // The gateway could not reach the store to stop it: the append landed after the answer.
  const recorded = await sessionsFor(sql);
  t.deepEqual(recorded, [r.body.sessionId], 'the session the log came to hold is the one the 503 named');
  t.is(r.body.error.details?.recorded, 'unknown');
  t.false(await noteExists(4002), 'nothing ran');
  // It reads running (execution.started) until reconciliation closes it: nothing committed.
  await reconcile({ sessions: gw.runtime.sessions, target: gw.runtime.target, clock: later, reconciledBy: 'test' }, { since: new Date(Date.now() - 600_000) });
  const events = await gw.runtime.sessions.read(recorded[0]!);
  t.is(protocolBreak(events), undefined);
  t.is(sessionStatus(events), 'rolled_back', events.map((e) => e.type).join(' → '));
});

// --- Attack: the result append commits on the store, and its answer is lost --------------------
// The store ran and committed the INSERT of execution.result, then the connection broke before its
// answer arrived. The gateway cannot tell; it did not answer the rows (a read) or rolled the write
// back, and recorded what it did. Its own log must still read as the gateway's, with a true status.

async function evidenceOf(sessionId: string) {
  const events = await gw.runtime.sessions.read(sessionId);
  return { events, types: events.map((e) => e.type), brk: protocolBreak(events), status: sessionStatus(events) };
}

realPg('a read whose result append committed but whose answer was lost: no rows answered, and the session still reads in order, as failed', async (t) => {
  const held = store.cutAnswerTo('lost-read-' + 'answer');
  const r = await gw.post('/v1/query', { connection: 'main', sql: "SELECT 'lost-read-' || 'answer' AS v" }, { authorization: `Bearer ${await gw.token(DBA)}`, ...model });
  await held.cut;
  t.is(r.status, 503, JSON.stringify(r.body));
  t.is(r.body.rows, undefined, 'no row is answered');
  const { types, brk, status } = await evidenceOf(r.body.sessionId);
  t.true(types.includes('execution.result'), `the result did land: ${types.join(' → ')}`);
  t.is(brk, undefined, `the gateway's own log is out of its protocol: ${brk?.message}`);
  t.is(status, 'failed', types.join(' → '));
});

realPg('a write whose result append committed but whose answer was lost: rolled back on the target, and the log says rolled_back', async (t) => {
  const held = store.cutAnswerTo('lost-write-' + 'answer');
  const r = await dbaInsert(4003, "INSERT INTO notes VALUES ($1, $2) RETURNING 'lost-write-' || 'answer' AS v");
  await held.cut;
  t.is(r.status, 503, JSON.stringify(r.body));
  t.false(await noteExists(4003), 'rolled back');
  const { types, brk, status } = await evidenceOf(r.body.sessionId);
  t.true(types.includes('execution.result'), types.join(' → '));
  t.is(brk, undefined, brk?.message);
  t.is(status, 'rolled_back', types.join(' → '));
});

// --- Attack: another instance reconciles a write that is still on its way -----------------------
// Reconciliation closes a write left at execution.started as rolled_back (basis: protocol) once it
// is older than its statement timeout plus the grace: "COMMIT is only ever sent after the result is
// durable". Only this process's in-flight set protects a session; another gateway instance, the
// CLI, or the scheduled pass on GCP judge by age alone. A write whose statement waits (a lock, the
// pool, the result budget, a slow store: together these can exceed timeout + grace) is then closed
// as rolled back — and goes on: its result lands after the abandoned event and COMMIT commits.

realPg('a write still waiting on a lock when another instance reconciles it: the log and the target agree, in the gateway\'s order', async (t) => {
  const admin = new pg.Client({ connectionString: gw.target.url });
  await admin.connect();
  try {
    await admin.query('BEGIN');
    await admin.query("INSERT INTO notes VALUES (4004, 'blocker')"); // the gateway's INSERT of 4004 waits on this row
    const answer = dbaInsert(4004, 'INSERT INTO notes VALUES ($1, $2) -- reconciled-while-waiting');
    await until('the gateway\'s INSERT waits on the lock', async () => {
      return waitingOnLock();
    });
    const since = new Date(Date.now() - 60_000);
    const report = await reconcile({ sessions: otherInstance, target: gw.runtime.target, clock: later, reconciledBy: 'another instance' }, { since });
    t.log(`reconciliation: ${JSON.stringify(report.closed)}`);
    await admin.query('ROLLBACK'); // the lock goes; the gateway's INSERT goes on
    const r = await answer;
    // The gateway has appended all it will once it answered (its committed is awaited before the 200).
    const [id] = await sessionsFor('INSERT INTO notes VALUES ($1, $2) -- reconciled-while-waiting');
    const { types, brk, status } = await evidenceOf(id!);
    const exists = await noteExists(4004);
    t.log(`answer ${r.status}; log: ${types.join(' → ')}; target has the row: ${exists}`);
    t.is(brk, undefined, `the log is out of the gateway's order: ${brk?.message}`);
    t.is(status, exists ? 'committed' : 'rolled_back', 'the log says what the target holds');
    if (!exists) {
      t.is(r.status, 503, 'a write that was not kept is not answered as executed');
      t.is(r.body.sessionId, id);
    }
  } finally {
    await admin.end();
  }
});

realPg('the mirror: reconciliation judged the write at started, the gateway\'s result and COMMIT land first, then its abandoned arrives: refused (session_moved), the session reads committed', async (t) => {
  // Another instance whose appends go through the store proxy, so its abandoned can be held.
  const u = new URL(gw.audit.url);
  u.hostname = '127.0.0.1';
  u.port = String(store.port);
  const slowInstance = await createPostgresSessionLog({ connectionString: u.toString(), poolSize: 2 });
  const admin = new pg.Client({ connectionString: gw.target.url });
  await admin.connect();
  try {
    await admin.query('BEGIN');
    await admin.query("INSERT INTO notes VALUES (4005, 'blocker')");
    const answer = dbaInsert(4005, 'INSERT INTO notes VALUES ($1, $2) -- reconciled-mirror');
    await until('the gateway\'s INSERT waits on the lock', async () => {
      return waitingOnLock();
    });
    const held = store.holdNext('reconciler-mirror-held');
    const pass = reconcile({ sessions: slowInstance, target: gw.runtime.target, clock: later, reconciledBy: 'reconciler-mirror-held' }, { since: new Date(Date.now() - 60_000) });
    await held.holding; // its abandoned is on the wire, judged on the session at execution.started
    await admin.query('ROLLBACK');
    const r = await answer;
    t.is(r.status, 200, JSON.stringify(r.body));
    held.release();
    const report = await pass;
    t.is(report.closed.rolled_back, 0, JSON.stringify(report));
    t.is(report.errors, 1, 'the judgement about a session that moved is dropped, to be made again');
    const { types, brk, status } = await evidenceOf(r.body.sessionId);
    t.is(brk, undefined, brk?.message);
    t.is(status, 'committed', types.join(' → '));
    t.true(await noteExists(4005));
  } finally {
    await admin.end();
    await slowInstance.close();
  }
});

// --- Attack (held): the client hangs up while its write waits on a lock ------------------------
// Nothing cancels the statement when the HTTP client goes; it runs on. The log must then say what
// the target holds — committed, with nobody to answer — never a rollback or a session left open.

realPg('held: a client that hangs up while its write waits on a lock: the write goes on, and the log says committed, as the target does', async (t) => {
  const admin = new pg.Client({ connectionString: gw.target.url });
  await admin.connect();
  const sql = 'INSERT INTO notes VALUES ($1, $2) -- hung-up-client';
  try {
    await admin.query('BEGIN');
    await admin.query("INSERT INTO notes VALUES (4006, 'blocker')");
    const hangUp = new AbortController();
    const answer = fetch(`${gw.url}/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await gw.token(DBA)}`, ...model },
      body: JSON.stringify({ connection: 'main', sql, params: [4006, 'x'] }),
      signal: hangUp.signal,
    }).catch((e: unknown) => e);
    await until('the gateway\'s INSERT waits on the lock', waitingOnLock);
    hangUp.abort();
    t.true((await answer) instanceof Error, 'the client is gone');
    await admin.query('ROLLBACK');
  } finally {
    await admin.end();
  }
  const [id] = await sessionsFor(sql);
  await until('the gateway closes the session', async () => ['execution.committed', 'execution.rolled_back', 'execution.failed'].includes((await gw.runtime.sessions.read(id!)).at(-1)?.type ?? ''));
  const { types, brk, status } = await evidenceOf(id!);
  t.is(brk, undefined);
  t.true(await noteExists(4006), 'the write went on without its client');
  t.is(status, 'committed', types.join(' → '));
});

// --- Attack (held): COMMIT refused after the result was recorded -------------------------------
// A deferred foreign key is checked at COMMIT: the statement succeeded, its result is durable, and
// then COMMIT fails. The log must say rolled_back, never committed.

realPg('held: a deferred constraint that fails at COMMIT: result, then rolled_back; nothing on the target', async (t) => {
  const r = await gw.post('/v1/query', { connection: 'main', sql: 'INSERT INTO children VALUES (1, 999) RETURNING id' }, { authorization: `Bearer ${await gw.token(DBA)}`, ...model });
  t.not(r.status, 200, JSON.stringify(r.body));
  const { types, brk, status } = await evidenceOf(r.body.sessionId);
  t.deepEqual(types.slice(-2), ['execution.result', 'execution.rolled_back']);
  t.is(brk, undefined);
  t.is(status, 'rolled_back');
  t.is((await gw.sql('SELECT count(*)::int AS n FROM children')).rows[0].n, 0);
});

// --- Attack (held): the target ends the write's backend while its result is being recorded ----
// The bot's own statement sets idle_in_transaction_session_timeout for its transaction; the result
// append is held (store proxy) until the target has killed the idle backend. COMMIT then meets a
// dead connection: the gateway must not claim either outcome; reconciliation asks the target.

realPg('held: the target kills the write\'s backend while its result is recorded: no outcome claimed, reconciliation finds it rolled back', async (t) => {
  const sql = "WITH i AS (INSERT INTO notes VALUES ($1, $2) RETURNING id) SELECT pg_catalog.set_config('idle_in_transaction_session_timeout', '200', true) AS s, 'idle' || '-kill-marker' AS m, (SELECT id FROM i) AS id";
  const held = store.holdNext('idle-kill-marker'); // in the result's rows only, not in the SQL
  const answer = dbaInsert(4007, sql);
  await held.holding; // the statement is done, its transaction idle, its result held on the way
  await until('the target ended the idle backend', async () => {
    const { rows } = await gw.sql("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'gatehouse' AND state = 'idle in transaction'");
    return rows.length === 0;
  });
  held.release();
  const r = await answer;
  t.not(r.status, 200, JSON.stringify(r.body));
  t.is(typeof r.body.sessionId, 'string');
  const before = await evidenceOf(r.body.sessionId);
  t.is(before.types.at(-1), 'execution.result', `no outcome claimed: ${before.types.join(' → ')}`);
  await reconcile({ sessions: gw.runtime.sessions, target: gw.runtime.target, clock: later, reconciledBy: 'test' }, { since: new Date(Date.now() - 60_000) });
  const { types, brk, status } = await evidenceOf(r.body.sessionId);
  t.is(brk, undefined);
  t.is(status, 'rolled_back', types.join(' → '));
  t.false(await noteExists(4007));
});

// --- Attack: a write that ends the gateway's transaction and opens another ----------------------
// The engine refuses a write whose statement left the transaction (state not 'T' at Sync), and a
// read whose tag is transaction control. `COMMIT AND CHAIN` / `ROLLBACK AND CHAIN` as a write end
// the transaction whose txid execution.result records, and leave a new one open ('T'): the gateway
// recorded the result, sent its COMMIT (of the empty chained transaction) and said `committed` —
// of a transaction the statement had rolled back (or committed before its result was durable).

for (const sql of ['ROLLBACK AND CHAIN', 'COMMIT AND CHAIN', 'ABORT AND CHAIN']) {
  realPg(`a write \`${sql}\`: refused, and the log never says committed of a transaction the statement ended`, async (t) => {
    const r = await gw.post('/v1/query', { connection: 'main', sql }, { authorization: `Bearer ${await gw.token(DBA)}`, ...model });
    const { events, types, brk, status } = await evidenceOf(r.body.sessionId);
    const result = events.find((e) => e.type === 'execution.result');
    const txid = result?.data.txid as string | undefined;
    if (txid) {
      // What the log says of the transaction it names must be what the target says of it.
      const { rows } = await gw.sql('SELECT txid_status($1::bigint) AS s', [txid]);
      t.false(status === 'committed' && rows[0].s !== 'committed', `the log says committed; the target says txid ${txid} is ${rows[0].s}`);
    }
    t.not(r.status, 200, `answered as executed: ${types.join(' → ')}`);
    t.not(status, 'committed', types.join(' → '));
    t.is(brk, undefined);
  });
}

// --- Attack: a write's result event under the row cap and the byte budget ----------------------
// execution.result is what the auditor reads of a write: how many rows it changed. A write whose
// RETURNING was cut (by the row cap or the byte budget) still changes every row; the record said
// rowCount = the rows KEPT, so an INSERT of 300 rows read as 100 (or 3), while PostgreSQL's own
// tag said 300.

for (const [label, sql, id0] of [
  ['the row cap', 'INSERT INTO notes SELECT g, NULL FROM generate_series($1::int, $1::int + 299) g RETURNING id', 5000],
  ['the byte budget', "INSERT INTO notes SELECT g, repeat('z', 300000) FROM generate_series($1::int, $1::int + 299) g RETURNING id, body", 6000],
] as const) {
  realPg(`a write whose RETURNING is cut by ${label}: the result records every row it changed, and says it was cut`, async (t) => {
    const r = await gw.post('/v1/query', { connection: 'main', sql, params: [id0] }, { authorization: `Bearer ${await gw.token(DBA)}`, ...model });
    t.is(r.status, 200, JSON.stringify(r.body).slice(0, 300));
    const changed = Number((await gw.sql('SELECT count(*) AS n FROM notes WHERE id BETWEEN $1 AND $1 + 299', [id0])).rows[0].n);
    t.is(changed, 300, 'the write changed every row');
    const { events, status } = await evidenceOf(r.body.sessionId);
    const result = events.find((e) => e.type === 'execution.result')!;
    t.is(status, 'committed');
    t.true(result.data.truncated as boolean, 'the answer says it was cut');
    t.true((result.data.rows as unknown[]).length < 300);
    t.is(result.data.rowCount, 300, `the record says ${String(result.data.rowCount)} rows for a write that changed 300`);
    t.is(r.body.rowCount, 300);
  });
}

/**
 * The gateway's engine connection waits on a lock. Asked outside the blocker's transaction: inside
 * it, pg_stat_activity is a snapshot taken at its first read.
 */
async function waitingOnLock(): Promise<boolean> {
  const { rows } = await gw.sql("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'gatehouse' AND wait_event_type = 'Lock'");
  return rows.length === 1;
}

async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// --- helpers ---------------------------------------------------------------------------------

interface Held {
  /** The marked bytes reached the proxy and are being held. */
  readonly holding: Promise<void>;
  /** The held connection's server side closed (after release, once everything held was delivered). */
  readonly upstreamClosed: Promise<void>;
  release(): void;
}

interface HoldingProxy {
  readonly port: number;
  /**
   * On the connection whose client sends `marker`, hold that chunk and everything the client sends
   * after it (including its end) until release: a partition of that one connection, client to
   * server. With refuseNewConnections, new connections are cut at once until release (the whole
   * store unreachable).
   */
  holdNext(marker: string, options?: { refuseNewConnections?: boolean }): Held;
  /**
   * On the connection whose client sends `marker`, let it through, and cut the connection (both
   * sides) once the server's whole answer to it (up to ReadyForQuery) has come back, without
   * passing it on: the statement ran and committed, its answer is lost.
   */
  cutAnswerTo(marker: string): { readonly cut: Promise<void> };
  close(): Promise<void>;
}

async function holdingProxy(port: number, target: { host: string; port: number }): Promise<HoldingProxy> {
  const sockets = new Set<Socket>();
  let armed: { marker: string; holding: () => void; released: Promise<void>; upstreamClosed: () => void } | undefined;
  let refusing: Promise<void> | undefined;
  let cutting: { marker: string; cut: () => void } | undefined;
  const server: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    let hold: Promise<void> | undefined;
    let cutAfterAnswer: (() => void) | undefined;
    let answer = Buffer.alloc(0);
    let onUpstreamClosed: (() => void) | undefined;
    let queue = Promise.resolve();
    upstream.on('close', () => {
      onUpstreamClosed?.();
      client.destroy();
    });
    upstream.on('error', () => {});
    client.on('error', () => {});
    client.on('data', (chunk: Buffer) => {
      if (cutting && chunk.toString('latin1').includes(cutting.marker)) {
        cutAfterAnswer = cutting.cut;
        cutting = undefined;
      }
      if (armed && !hold && chunk.toString('latin1').includes(armed.marker)) {
        hold = armed.released;
        onUpstreamClosed = armed.upstreamClosed;
        armed.holding();
        armed = undefined;
      }
      const h = hold;
      queue = queue.then(async () => {
        if (h) await h;
        if (!upstream.destroyed) upstream.write(chunk);
      });
    });
    // A client that gives up closes its socket; what it had sent still reaches the server once
    // the partition heals (TCP retransmits it), then the end.
    client.on('close', () => void queue.then(() => upstream.end()));
    upstream.on('data', (chunk: Buffer) => {
      if (cutAfterAnswer) {
        // Swallowed until ReadyForQuery ('Z', length 5, state) ends the answer: the server has
        // committed the autocommitted statement by then. Then both sides are cut.
        answer = Buffer.concat([answer, chunk]);
        const n = answer.length;
        if (n >= 6 && answer[n - 6] === 0x5a && answer.readInt32BE(n - 5) === 5) {
          const done = cutAfterAnswer;
          cutAfterAnswer = undefined;
          client.destroy();
          upstream.destroy();
          done();
        }
        return;
      }
      if (!client.destroyed) client.write(chunk);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port,
    holdNext(marker, options = {}) {
      let holding!: () => void;
      let release!: () => void;
      let upstreamClosed!: () => void;
      const holdingP = new Promise<void>((r) => (holding = r));
      const released = new Promise<void>((r) => (release = r));
      const closedP = new Promise<void>((r) => (upstreamClosed = r));
      armed = { marker, holding, released, upstreamClosed };
      // From the moment the append is held, the store is unreachable for everyone.
      if (options.refuseNewConnections) void holdingP.then(() => (refusing = released));
      return {
        holding: holdingP,
        upstreamClosed: closedP,
        release() {
          refusing = undefined;
          release();
        },
      };
    },
    cutAnswerTo(marker) {
      let cut!: () => void;
      const cutP = new Promise<void>((r) => (cut = r));
      cutting = { marker, cut };
      return { cut: cutP };
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

