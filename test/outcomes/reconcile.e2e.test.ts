// Reconciliation against a real session log and a real target (issue 15): what it closes, with
// which outcome, and what it must leave alone — a read's complete result, a session too young to
// judge, one still running in this process, a transaction still in progress, an unreachable target.
import test from 'ava';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import { createSecretSource } from '../../shared/adapters/secrets/index.ts';
import { createTargetDatabase } from '../../shared/postgres/index.ts';
import { reconcile } from '../../shared/reconcile/reconcile.ts';
import { sessionStatus } from '../../shared/audit/status.ts';
import * as ev from '../../shared/audit/drafts.ts';
import type { EventDraft, SessionEvent } from '../../shared/audit/events.ts';
import { hashEvent } from '../../shared/audit/chain.ts';
import type { SessionLog, TargetDatabase } from '../../shared/ports.ts';
import { createTestDatabase, testPgKind, type TestDatabase } from '../helpers/pg.ts';

let audit: TestDatabase;
let targetDb: TestDatabase;
let log: SessionLog;
let target: TargetDatabase;
let unreachable: TargetDatabase;
let admin: pg.Pool;
const since = new Date(Date.now() - 60_000);

test.before(async () => {
  audit = await createTestDatabase();
  targetDb = await createTestDatabase();
  log = await createPostgresSessionLog({ connectionString: audit.url, poolSize: 2 });
  const secrets = createSecretSource({ env: { T: targetDb.url, DOWN: 'postgres://nobody@127.0.0.1:1/none' } });
  target = createTargetDatabase({ connections: { main: { credentials: 'env://T' } }, secrets, poolSize: 2 });
  unreachable = createTargetDatabase({ connections: { main: { credentials: 'env://DOWN' } }, secrets, poolSize: 1 });
  admin = new pg.Pool({ connectionString: targetDb.url, max: 3 });
  await admin.query('CREATE TABLE t (a int)');
});
test.after.always(async () => {
  await Promise.allSettled([log?.close(), target?.close(), unreachable?.close(), admin?.end()]);
  await Promise.allSettled([audit?.drop(), targetDb?.drop()]);
});

/** A session as a gateway records it, up to `last`. */
async function session(opts: { readOnly: boolean; result?: { txid?: string }; timeoutMs?: number }): Promise<string> {
  const id = randomUUID();
  const drafts: EventDraft[] = [
    { type: 'request', data: { endpoint: 'query', connection: 'main', sql: opts.readOnly ? 'SELECT 1' : 'INSERT INTO t VALUES (1)', params: [] } },
    { type: 'analysis', data: { kind: opts.readOnly ? 'select' : 'insert', class: opts.readOnly ? 'read' : 'write', reasons: [] } },
    { type: 'decision', data: { action: 'allow', rule: 'test', reasons: [] } },
    ev.executionStartedEvent({ connection: 'main', readOnly: opts.readOnly, maxRows: 10, statementTimeoutMs: opts.timeoutMs ?? 50 }),
  ];
  if (opts.result) drafts.push({ type: 'execution.result', data: { command: 'INSERT', rowCount: 1, ...(opts.result.txid ? { txid: opts.result.txid } : {}) } });
  await log.append(id, drafts);
  return id;
}

async function txid(client: pg.PoolClient | pg.Pool): Promise<string> {
  return (await client.query<{ x: string }>('SELECT txid_current()::text AS x')).rows[0]!.x;
}

const run = (deps: Partial<Parameters<typeof reconcile>[0]> = {}) =>
  reconcile({ sessions: log, target, graceMs: 0, reconciledBy: 'test', ...deps }, { since });

test.serial('closes each kind with what the target or the protocol proves, and leaves the rest open', async (t) => {
  if (testPgKind === 'pglite') return t.pass('txid_status needs a real PostgreSQL');
  // A committed write, a rolled-back write, a write still in progress on the target.
  const committedTx = await admin.connect();
  await committedTx.query('BEGIN');
  const committedId = await txid(committedTx);
  await committedTx.query('INSERT INTO t VALUES (1)');
  await committedTx.query('COMMIT');
  committedTx.release();
  const abortedTx = await admin.connect();
  await abortedTx.query('BEGIN');
  const abortedId = await txid(abortedTx);
  await abortedTx.query('ROLLBACK');
  abortedTx.release();
  const openTx = await admin.connect();
  await openTx.query('BEGIN');
  const openId = await txid(openTx);

  const ids = {
    committed: await session({ readOnly: false, result: { txid: committedId } }),
    aborted: await session({ readOnly: false, result: { txid: abortedId } }),
    inProgress: await session({ readOnly: false, result: { txid: openId } }),
    read: await session({ readOnly: true, result: {} }),
    readStarted: await session({ readOnly: true }),
    writeStarted: await session({ readOnly: false }),
    noTxid: await session({ readOnly: false, result: {} }),
    young: await session({ readOnly: false, timeoutMs: 3_600_000 }),
    mine: await session({ readOnly: false }),
  };
  await new Promise((r) => setTimeout(r, 100));
  const report = await run({ inFlight: new Set([ids.mine]) });
  const status = async (id: string) => sessionStatus(await log.read(id));
  const last = async (id: string) => (await log.read(id)).at(-1)!;

  t.is(await status(ids.committed), 'committed');
  t.like((await last(ids.committed)).data, { basis: 'target_transaction_status', txid: committedId });
  t.is(await status(ids.aborted), 'rolled_back');
  t.is(await status(ids.inProgress), 'result', 'a transaction still in progress is not judged');
  t.is(await status(ids.read), 'result', "a read's result is complete: nothing appended");
  t.is(await status(ids.readStarted), 'rolled_back');
  t.like((await last(ids.readStarted)).data, { basis: 'read_only' });
  t.is(await status(ids.writeStarted), 'rolled_back');
  t.like((await last(ids.writeStarted)).data, { basis: 'protocol' });
  t.is(await status(ids.noTxid), 'unknown', 'a write result without a txid cannot be vouched for');
  t.is(await status(ids.young), 'running', 'younger than its own statement timeout');
  t.is(await status(ids.mine), 'running', 'in flight in this process');
  t.is(report.skipped.inProgress, 1);
  t.is(report.skipped.inFlight, 1);
  t.is(report.skipped.tooRecent, 1);

  // The transaction finishes: the next pass settles it.
  await openTx.query('COMMIT');
  openTx.release();
  await run();
  t.is(await status(ids.inProgress), 'committed');
  t.is((await admin.query('SELECT count(*)::int AS n FROM t')).rows[0].n, 1, 'the target holds exactly the committed write');
});

test.serial('an unreachable target leaves the session open and counts an error, never a guess', async (t) => {
  const id = await session({ readOnly: false, result: { txid: '12345' } });
  await new Promise((r) => setTimeout(r, 100));
  const report = await run({ target: unreachable });
  t.true(report.errors >= 1);
  t.is(sessionStatus(await log.read(id)), 'result');
  // With the target back, the session is settled (txid 12345 is long gone or in the future: unknown or a real answer).
  await run();
  t.not(sessionStatus(await log.read(id)), 'result');
});

// The log's INSERT right alone (the append function the gateway calls) lets a writer put an
// `execution.started` or `execution.result` after any session's last event. The reconciler then
// read that session as open and appended its own `execution.abandoned` — the gateway's word
// (`reconciledBy`, an outcome, a basis) on a session its log does not back, and for a forged
// execution.result, a question to the target about a transaction id the writer chose.
// A session whose chain does not hold, or whose events leave the gateway's order, is now left
// alone and named (skipped.sessionTampered, tamperedSessions with the stable code).
const planted = async (sessionId: string, type: string, data: Record<string, unknown>, hashed: boolean) => {
  const pool = new pg.Pool({ connectionString: audit.url, max: 1 });
  try {
    const prev = (await pool.query('SELECT seq, hash FROM gatehouse_session_events WHERE session_id = $1 ORDER BY seq DESC LIMIT 1', [sessionId])).rows[0];
    const event = { sessionId, seq: prev.seq + 1, type, at: '2000-01-01T00:00:00.000Z', data, prevHash: prev.hash as string };
    const hash = hashed ? hashEvent(event as Omit<SessionEvent, 'hash'>) : 'e'.repeat(64);
    await pool.query('SELECT gatehouse_append_events($1, $2, $3, $4, $5, $6, $7, false, NULL, NULL, NULL, NULL, NULL)', [
      sessionId, [event.seq], [type], [event.at], [JSON.stringify(data)], [event.prevHash], [hash],
    ]);
  } finally {
    await pool.end();
  }
};

async function denied(): Promise<string> {
  const id = randomUUID();
  await log.append(id, [
    { type: 'request', data: { endpoint: 'query', connection: 'main', sql: 'DROP TABLE t', params: [] } },
    { type: 'analysis', data: { kind: 'drop', class: 'ddl', reasons: [] } },
    { type: 'decision', data: { action: 'deny', rule: 'test', reasons: [] } },
  ]);
  return id;
}

for (const [label, make] of [
  ['an execution.started whose hash does not hold, appended to a denied session', async () => { const id = await denied(); await planted(id, 'execution.started', { connection: 'main', readOnly: false, maxRows: 10, statementTimeoutMs: 50 }, false); return { id, code: 'hash_mismatch' }; }],
  ['a correctly chained execution.started appended to a denied session', async () => { const id = await denied(); await planted(id, 'execution.started', { connection: 'main', readOnly: false, maxRows: 10, statementTimeoutMs: 50 }, true); return { id, code: 'event_out_of_protocol' }; }],
  ['an execution.result naming a transaction id of the writer\'s choosing, its hash not holding', async () => { const id = await session({ readOnly: false }); await planted(id, 'execution.result', { command: 'INSERT', rowCount: 1, txid: '3' }, false); return { id, code: 'hash_mismatch' }; }],
] as const) {
  test.serial(`${label}: not closed, named as tampered`, async (t) => {
    const { id, code } = await make();
    const before = await log.read(id);
    const asked: string[] = [];
    const report = await run({ target: { transactionStatus: async (_c: string, txid: string) => { asked.push(txid); return 'committed'; } } });
    t.deepEqual(await log.read(id), before, 'nothing appended to a session the log does not back');
    t.false(report.closedSessions.some((c) => c.sessionId === id));
    t.deepEqual(asked, [], 'the target is not asked about a transaction id a tampered session names');
    t.true(report.skipped.sessionTampered >= 1);
    t.like(report.tamperedSessions.find((s) => s.sessionId === id), { sessionId: id, code });
  });
}

// A pass lists at most maxSessions sessions (200 a page), oldest first. The INSERT right alone
// can fill the start of the window with sessions of its own: the pass then stopped before the
// genuine ones and said nothing — an abandoned write left open, every pass, in silence. It now
// says where it stopped (report.truncated; `sessions reconcile` exits 1, the gateway logs it).
test.serial('a flood of forged sessions at the start of the window: the pass says it stopped before the rest', async (t) => {
  const windowStart = new Date(Date.now() - 30_000);
  const pool = new pg.Pool({ connectionString: audit.url, max: 1 });
  try {
    // 200 sessions started just after the window opens (one page), each a request the writer hashed itself.
    const at = new Date(windowStart.getTime() + 1).toISOString();
    const ids = Array.from({ length: 200 }, () => randomUUID());
    const hashes = ids.map((id) => hashEvent({ sessionId: id, seq: 0, type: 'request', at, data: {}, prevHash: null }));
    await pool.query(
      `SELECT gatehouse_append_events(id, ARRAY[0], ARRAY['request'], ARRAY[$2::timestamptz], ARRAY['{}'], ARRAY[NULL::text], ARRAY[h], true, $2::timestamptz, NULL, NULL, NULL, NULL)
       FROM unnest($1::text[], $3::text[]) AS f(id, h)`,
      [ids, at, hashes],
    );
  } finally {
    await pool.end();
  }
  const abandoned = await session({ readOnly: false });
  await new Promise((r) => setTimeout(r, 100));
  const report = await reconcile({ sessions: log, target, graceMs: 0, reconciledBy: 'test' }, { since: windowStart, maxSessions: 200 });
  t.false(report.closedSessions.some((c) => c.sessionId === abandoned), 'the cap was reached before it');
  t.truthy(report.truncated, 'the pass says it did not reach the end of the window');
  t.is(report.truncated?.listed, 200);
  t.is(typeof report.truncated?.after, 'string');
  // A pass without the cap reaches it.
  const whole = await reconcile({ sessions: log, target, graceMs: 0, reconciledBy: 'test' }, { since: windowStart });
  t.true(whole.closedSessions.some((c) => c.sessionId === abandoned));
  t.is(whole.truncated, undefined);
});
