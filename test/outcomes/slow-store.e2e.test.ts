// The outcome protocol under a slow or locked session store (issue 15): the log never says a write
// committed when it did not, an append the gateway gave up on never lands later, and every 503
// after admission names its session. Real faults in the real audit database, injected with SQL;
// each test waits for the store to release and re-reads both the log and the target.
import test from 'ava';
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { sessionStatus } from '../../shared/audit/status.ts';

const DBA = 'alice@acme.com';
const model = { 'x-agent-model': 'test-model' };
// The store's server aborts any statement after this; the client waits 5 s longer.
const STORE_TIMEOUT_MS = 1000;
let gw: TestGateway;
let audit: pg.Pool;

test.before(async () => {
  gw = await startTestGateway({ seedSql: 'CREATE TABLE notes (id int PRIMARY KEY, body text)', storeStatementTimeoutMs: STORE_TIMEOUT_MS,
    reconcile: { intervalMs: 0, startupLookbackMs: 0, graceMs: 0 },
  });
  audit = new pg.Pool({ connectionString: gw.audit.url, max: 3 });
  audit.on('error', () => {});
});
test.after.always(async () => {
  await audit?.end();
  await gw?.close();
});

async function dbaInsert(id: number, sql = 'INSERT INTO notes VALUES ($1, $2)') {
  return gw.post('/v1/query', { connection: 'main', sql, params: [id, 'x'] }, { authorization: `Bearer ${await gw.token(DBA)}`, ...model });
}
async function noteExists(id: number): Promise<boolean> {
  return (await gw.sql('SELECT 1 FROM notes WHERE id = $1', [id])).rowCount === 1;
}
async function typesOf(sessionId: string): Promise<string[]> {
  const { rows } = await audit.query<{ type: string }>('SELECT type FROM gatehouse_session_events WHERE session_id = $1 ORDER BY seq', [sessionId]);
  return rows.map((r) => r.type);
}

async function withSlowResult(seconds: number, work: () => Promise<void>): Promise<void> {
  // Sleeps inside the INSERT of the result event only: the admission and the rolled_back record
  // go through at once, the result append outlives the store's statement_timeout.
  await audit.query(`
    CREATE OR REPLACE FUNCTION slow_result() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.type = 'execution.result' THEN PERFORM pg_sleep(${seconds}); END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER slow_result BEFORE INSERT ON gatehouse_session_events FOR EACH ROW EXECUTE FUNCTION slow_result();`);
  try {
    await work();
  } finally {
    await audit.query('DROP TRIGGER slow_result ON gatehouse_session_events; DROP FUNCTION slow_result()');
  }
}

test.serial('slow result append past the store bound: 503 with the session id, the write rolled back, and the log never says committed', async (t) => {
  await withSlowResult(4, async () => {
    const started = Date.now();
    const r = await dbaInsert(1);
    t.is(r.status, 503);
    t.is(r.body.error.code, 'audit_unavailable');
    t.is(typeof r.body.sessionId, 'string', 'a 503 after admission carries the session id');
    t.true(Date.now() - started < 4000, 'the store aborted the append itself; nobody waited for the trigger');
    // Let the sleeping trigger's time pass entirely: an append PostgreSQL had kept would have landed by now.
    await sleep(5000);
    const types = await typesOf(r.body.sessionId);
    t.deepEqual(types, ['request', 'analysis', 'decision', 'execution.started', 'execution.rolled_back']);
    t.false(types.includes('execution.result'), 'the abandoned result append never committed later');
    t.false(types.includes('execution.committed'));
    t.false(await noteExists(1), 'the target has no row');
    const shown = await gw.get(`/v1/sessions/${r.body.sessionId}`, { authorization: `Bearer ${await gw.token(DBA)}` });
    t.is(shown.body.status, 'rolled_back');
  });
});

test.serial('the same with another write syntax (UPDATE … RETURNING via a CTE): rolled back, never committed', async (t) => {
  await gw.sql("INSERT INTO notes VALUES (50, 'before')");
  await withSlowResult(3, async () => {
    const r = await dbaInsert(50, "WITH u AS (UPDATE notes SET body = 'after' WHERE id = $1 RETURNING id, $2::text AS b) SELECT * FROM u");
    t.is(r.status, 503);
    await sleep(4000);
    t.false((await typesOf(r.body.sessionId)).includes('execution.committed'));
    t.is((await gw.sql('SELECT body FROM notes WHERE id = 50')).rows[0].body, 'before');
  });
});

test.serial('a lock on the events table: every 503 leaves no session, or a session whose id was in the answer', async (t) => {
  const locker = await audit.connect();
  const answers: { status: number; body: any }[] = [];
  const before = new Set((await audit.query<{ session_id: string }>('SELECT session_id FROM gatehouse_sessions')).rows.map((r) => r.session_id));
  const N = 24;
  const requests: Promise<unknown>[] = [];
  try {
    // Requests keep arriving before, during and after a lock held three times the store's bound,
    // so some are caught at admission and some at their result.
    const fire = (async () => {
      for (let i = 0; i < N; i++) {
        requests.push(dbaInsert(100 + i).then((r) => answers.push(r)));
        await sleep(200);
      }
    })();
    await sleep(500);
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE gatehouse_session_events IN ACCESS EXCLUSIVE MODE');
    await sleep(STORE_TIMEOUT_MS * 3);
    await locker.query('COMMIT');
    await fire;
    await Promise.all(requests);
  } finally {
    locker.release();
  }
  await sleep(2500); // anything still in flight in PostgreSQL has landed or died by now
  // A write that committed while the lock kept its `committed` marker out is at `result`:
  // reconciliation asks the target (txid_status) and records what it says.
  await gw.runtime.reconciler.runOnce();
  const named = new Set(answers.map((a) => a.body.sessionId).filter(Boolean));
  const after = (await audit.query<{ session_id: string }>('SELECT session_id FROM gatehouse_sessions')).rows.map((r) => r.session_id).filter((id) => !before.has(id));
  for (const id of after) t.true(named.has(id), `session ${id} is in the log but no answer named it`);
  const refused = answers.filter((a) => a.status === 503);
  t.true(refused.length > 0, 'the lock made some requests fail');
  t.true(answers.some((a) => a.status === 200), 'and the others ran');
  for (const a of refused) t.is(a.body.error.code, 'audit_unavailable', JSON.stringify(a.body));
  // The target holds exactly the writes whose sessions say committed, and every 200 says committed.
  const committed = new Set<number>();
  for (const id of after) {
    const types = await typesOf(id);
    const { rows } = await audit.query<{ data: string }>("SELECT data FROM gatehouse_session_events WHERE session_id = $1 AND type = 'request'", [id]);
    const param = JSON.parse(rows[0]!.data).params[0] as number;
    if (sessionStatus(await gw.runtime.sessions.read(id)) === 'committed') committed.add(param);
    t.not(types.at(-1), 'execution.result', `session ${id} was left at result`);
  }
  for (const a of answers.filter((x) => x.status === 200)) t.is(sessionStatus(await gw.runtime.sessions.read(a.body.sessionId)), 'committed');
  for (let i = 0; i < N; i++) t.is(await noteExists(100 + i), committed.has(100 + i), `note ${100 + i}: target and log agree`);
});

test.serial('a read whose result cannot be recorded: 503, no rows, and the log says failed (its READ ONLY transaction had already ended: nothing to roll back)', async (t) => {
  await gw.sql("INSERT INTO notes VALUES (70, 'secret-ish') ON CONFLICT DO NOTHING");
  const reads: [string, unknown[]][] = [
    ['SELECT id, body FROM notes WHERE id = $1', [70]],
    ['WITH n AS (SELECT * FROM notes) SELECT body FROM n WHERE id = $1', [70]],
    ['TABLE notes', []],
  ];
  const ids: string[] = [];
  await withSlowResult(3, async () => {
    for (const [sql, params] of reads) {
      const r = await gw.post('/v1/query', { connection: 'main', sql, params }, { authorization: `Bearer ${await gw.token(DBA)}`, ...model });
      t.is(r.status, 503, sql);
      t.is(r.body.error.code, 'audit_unavailable', sql);
      t.is(r.body.rows, undefined, `${sql}: no rows are answered`);
      t.false(JSON.stringify(r.body).includes('secret-ish'), sql);
      const types = await typesOf(r.body.sessionId);
      t.deepEqual(types, ['request', 'analysis', 'decision', 'execution.started', 'execution.failed'], sql);
      const events = await gw.runtime.sessions.read(r.body.sessionId);
      t.like(events.at(-1)!.data, { error: { code: 'audit_unavailable' } }, sql);
      t.is(sessionStatus(events), 'failed', sql);
      ids.push(r.body.sessionId);
    }
    await sleep(3500); // the abandoned result appends never land later
    for (const id of ids) t.is((await typesOf(id)).at(-1), 'execution.failed');
  });
});
