// Fail closed across the two stores: an approval exists only with its `approval.requested`, a
// decision only with its event, a redemption only with its decision — faults injected with SQL
// into the real session log and approval store databases.
import test from 'ava';
import pg from 'pg';
import { startTestGateway, testPolicy, withBotWriteApproval, type TestGateway } from '../helpers/gateway.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const model = { 'x-agent-model': 'test-model' };
let gw: TestGateway;
let audit: pg.Pool;
let state: pg.Pool;

test.before(async () => {
  gw = await startTestGateway({
    seedSql: 'CREATE TABLE notes (id int, body text)',
    policy: (issuer) =>
      withBotWriteApproval(testPolicy(issuer)),
  });
  audit = new pg.Pool({ connectionString: gw.audit.url, max: 1 });
  state = new pg.Pool({ connectionString: gw.state.url, max: 1 });
});
test.after.always(async () => {
  await audit?.end();
  await state?.end();
  await gw?.close();
});

const insert = (id: number, approvalId?: string) => ({ connection: 'main', sql: 'INSERT INTO notes VALUES ($1, $2)', params: [id, 'x'], ...(approvalId ? { approvalId } : {}) });
async function asBot(body: unknown) {
  return gw.post('/v1/query', body, { authorization: `Bearer ${await gw.token(BOT)}`, ...model });
}
async function approve(id: string) {
  return gw.post(`/v1/approvals/${id}/approve`, { comment: 'ok' }, { authorization: `Bearer ${await gw.token('alice@acme.com')}` });
}
const approvalsStored = async () => Number((await state.query('SELECT count(*) AS n FROM gatehouse_approvals')).rows[0].n);

/** Makes the session log refuse events of one type until the returned function is called. */
async function refuseEvents(type: string): Promise<() => Promise<void>> {
  await audit.query(`
    CREATE FUNCTION refuse_some() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.type = '${type}' THEN RAISE EXCEPTION 'disk full (injected)'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER refuse_some BEFORE INSERT ON gatehouse_session_events FOR EACH ROW EXECUTE FUNCTION refuse_some();`);
  return async () => {
    await audit.query('DROP TRIGGER refuse_some ON gatehouse_session_events; DROP FUNCTION refuse_some()');
  };
}

test.serial('the approval store down: 503 approvals_unavailable, the session records a deny, nothing is held or run', async (t) => {
  await state.query('ALTER TABLE gatehouse_approvals RENAME TO gatehouse_approvals_gone');
  let r;
  try {
    r = await asBot(insert(1));
  } finally {
    await state.query('ALTER TABLE gatehouse_approvals_gone RENAME TO gatehouse_approvals');
  }
  t.is(r.status, 503);
  t.is(r.body.error.code, 'approvals_unavailable');
  const events = await gw.runtime.sessions.read(r.body.sessionId);
  t.deepEqual(events.map((e) => e.type), ['request', 'analysis', 'decision']);
  t.is((events[2]!.data as any).action, 'deny');
  t.regex((events[2]!.data as any).reasons.at(-1), /approval store is unavailable/);
  t.is((await gw.sql('SELECT count(*)::int AS n FROM notes WHERE id = 1')).rows[0].n, 0);
});

test.serial('a log that refuses approval.requested: 503, and no approval exists (nobody could be asked for it)', async (t) => {
  const before = await approvalsStored();
  const restore = await refuseEvents('approval.requested');
  let r;
  try {
    r = await asBot(insert(2));
  } finally {
    await restore();
  }
  t.is(r.status, 503);
  t.is(r.body.error.code, 'audit_unavailable');
  t.is(await approvalsStored(), before);
});

test.serial('a log that refuses approval.granted: 503, and the approval is still pending', async (t) => {
  const held = await asBot(insert(3));
  t.is(held.status, 202);
  const restore = await refuseEvents('approval.granted');
  let r;
  try {
    r = await approve(held.body.approval.id);
  } finally {
    await restore();
  }
  t.is(r.status, 503);
  t.is(r.body.error.code, 'audit_unavailable');
  t.is((await gw.runtime.approvals!.store.get(held.body.approval.id))!.state, 'pending');
  t.is((await approve(held.body.approval.id)).status, 200, 'with the log back, the same decision goes through');
});

test.serial('a log that refuses the redemption decision: 503, the approval is not used, and nothing ran', async (t) => {
  const held = await asBot(insert(4));
  await approve(held.body.approval.id);
  const restore = await refuseEvents('decision');
  let r;
  try {
    r = await asBot(insert(4, held.body.approval.id));
  } finally {
    await restore();
  }
  t.is(r.status, 503);
  t.is((await gw.runtime.approvals!.store.get(held.body.approval.id))!.state, 'approved');
  t.is((await gw.sql('SELECT count(*)::int AS n FROM notes WHERE id = 4')).rows[0].n, 0);
  const again = await asBot(insert(4, held.body.approval.id));
  t.is(again.status, 200, 'the approval was not spent by the failed attempt');
});
