// Fail closed: if the session log cannot be written, nothing runs — neither before execution
// (request/analysis/decision) nor at the end (a write whose outcome cannot be recorded rolls back).
// The faults are real ones in the audit database, injected with SQL.
import test from 'ava';
import pg from 'pg';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

const DBA = 'alice@acme.com';
const model = { 'x-agent-model': 'test-model' };
let gw: TestGateway;
let audit: pg.Pool;

test.before(async () => {
  gw = await startTestGateway({ seedSql: 'CREATE TABLE notes (id int PRIMARY KEY, body text)' });
  audit = new pg.Pool({ connectionString: gw.audit.url, max: 1 });
});
test.after.always(async () => {
  await audit?.end();
  await gw?.close();
});

async function dbaInsert(id: number) {
  return gw.post('/v1/query', { connection: 'main', sql: 'INSERT INTO notes VALUES ($1, $2)', params: [id, 'x'] }, { authorization: `Bearer ${await gw.token(DBA)}`, ...model });
}
async function noteExists(id: number): Promise<boolean> {
  return (await gw.sql('SELECT 1 FROM notes WHERE id = $1', [id])).rowCount === 1;
}

test.serial('a log that refuses every write: 503 audit_unavailable and the statement never runs', async (t) => {
  await audit.query('ALTER TABLE gatehouse_session_events RENAME TO gatehouse_session_events_gone');
  try {
    const r = await dbaInsert(1);
    t.is(r.status, 503);
    t.is(r.body.error.code, 'audit_unavailable');
    t.is(r.body.sessionId, undefined, 'no session id is handed out for a session that was not recorded');
    t.false(await noteExists(1));
  } finally {
    await audit.query('ALTER TABLE gatehouse_session_events_gone RENAME TO gatehouse_session_events');
  }
  const ok = await dbaInsert(2);
  t.is(ok.status, 200, 'the control: with the log back, the same request runs');
  t.true(await noteExists(2));
});

test.serial('a log that fails at the result record: the write rolls back, the answer is 503 with the session id, and the log says rolled_back', async (t) => {
  await audit.query(`
    CREATE FUNCTION refuse_completion() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.type = 'execution.result' THEN RAISE EXCEPTION 'disk full (injected)'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER refuse_completion BEFORE INSERT ON gatehouse_session_events
      FOR EACH ROW EXECUTE FUNCTION refuse_completion();`);
  try {
    const r = await dbaInsert(3);
    t.is(r.status, 503);
    t.is(r.body.error.code, 'audit_unavailable');
    t.false(await noteExists(3), 'the INSERT was rolled back because its outcome could not be recorded');
    const { rows } = await audit.query("SELECT session_id FROM gatehouse_session_events WHERE type = 'execution.started' ORDER BY at DESC LIMIT 1");
    t.is(r.body.sessionId, rows[0].session_id, 'a 503 after admission names the session it belongs to');
    const events = await gw.runtime.sessions.read(rows[0].session_id);
    t.deepEqual(events.map((e) => e.type), ['request', 'analysis', 'decision', 'execution.started', 'execution.rolled_back']);
    t.is((events.at(-1)!.data as any).reason.code, 'audit_unavailable');
  } finally {
    await audit.query('DROP TRIGGER refuse_completion ON gatehouse_session_events; DROP FUNCTION refuse_completion()');
  }
});
