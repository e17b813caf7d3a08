// Attack review (second round) of the listing's `log`: GET /v1/approvals reads every listed row's
// requesting session. Whoever holds the query path's rights (INSERT on the session log and on the
// approval store) could make one such read fail — an event whose stored `data` is not JSON, or is
// JSON `null` — and point a pending row, visible to every reviewer, at that session: the whole
// listing answered 503, hiding every genuine approval from every reviewer. One row's log that
// cannot be read is that row's `log: {agrees: false, reason: "log_unreadable"}`; the rest are
// listed and checked as before. PostgreSQL store (the read is the session log's; the approval
// store only supplies the row). The `null` and array spellings held before this review (the event
// schema refuses them per row); they stay as the other spellings of one unreadable event.
import test from 'ava';
import pg from 'pg';
import type { Approval } from '../../shared/approvals/types.ts';
import { listApprovalsCommand } from '../../shared/cli/approvals.ts';
import { botApprovalPolicy } from './bot-approval-policy.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const model = { 'x-agent-model': 'gemini-2.5-pro-002' };

let gw: TestGateway;
let audit: pg.Pool;
test.before(async () => {
  gw = await startTestGateway({ seedSql: 'CREATE TABLE runs (tag text NOT NULL)', policy: botApprovalPolicy });
  audit = new pg.Pool({ connectionString: gw.audit.url, max: 2 });
});
test.after.always(async () => {
  await audit?.end();
  await gw?.close();
});

const auth = async (sub: string) => ({ authorization: `Bearer ${await gw.token(sub)}` });
const aliceToken = () => gw.token('alice@acme.com', { groups: ['dba'], email: 'alice@acme.com' });
const store = () => gw.runtime.approvals!.store;

async function held(tag: string) {
  const r = await gw.post('/v1/query', { connection: 'main', sql: `INSERT INTO runs (tag) VALUES ('${tag}')` }, { ...(await auth(BOT)), ...model });
  if (r.status !== 202) throw new Error(`expected 202, got ${r.status} ${JSON.stringify(r.body)}`);
  return { sessionId: r.body.sessionId as string, id: r.body.approval.id as string };
}

/** A session written with the log's INSERT right alone, whose one event's stored data is `data`. */
async function unreadableSession(sessionId: string, data: string): Promise<void> {
  // The append function the query path itself calls: it takes the global log's lock and index.
  await audit.query('SELECT gatehouse_append_events($1, $2, $3, $4, $5, $6, $7, true, now(), NULL, NULL, NULL, NULL)', [sessionId, [0], ['request'], [new Date().toISOString()], [data], [null], ['f'.repeat(64)]]);
}

// Text that is not JSON is read as an `unreadable` event (shared/audit/stored-data.ts), so the
// session holds no approval.requested: not_in_log (it failed the read itself before, which made
// the listing 503, then log_unreadable); JSON that is no event's data is read and refused by the
// event schema (event_malformed). Either way only that row is not proven. The rows of all three tests are in one listing (ava runs them at once).
for (const [name, data, reason] of [
  ['not JSON', '{not json', 'not_in_log'],
  ['JSON null', 'null', 'event_malformed'],
  ['a JSON array', '[1,2]', 'event_malformed'],
] as const) {
  test(`a row pointed at a session whose event is ${name} is listed as not proven (${reason}); the genuine rows are still listed and proven`, async (t) => {
    const h = await held(`unreadable-${name.length}`);
    const base = (await store().get(h.id))!;
    const sessionId = `forged-${name.replace(/\W/g, '')}-${Date.now()}`;
    await unreadableSession(sessionId, data);
    const forged: Approval = { ...base, id: `forged-unreadable-${name.replace(/\W/g, '')}-${Date.now()}`, sessionId, createdAt: new Date(Date.parse(base.createdAt) - 60_000).toISOString() };
    await store().create(forged);

    const r = await gw.get('/v1/approvals?status=pending&limit=999', { authorization: `Bearer ${await aliceToken()}` });
    t.is(r.status, 200, JSON.stringify(r.body));
    const rows = new Map((r.body.approvals as { id: string; log: { agrees: boolean; reason?: string; message?: string } }[]).map((a) => [a.id, a]));
    t.like(rows.get(h.id), { log: { agrees: true } }, 'the genuine row is listed and proven');
    t.like(rows.get(forged.id), { log: { agrees: false, reason } });
    t.false(JSON.stringify(rows.get(forged.id)!.log).includes('not json'), 'the stored text is not echoed');

    const table = await listApprovalsCommand({ url: gw.url, token: await aliceToken() }, 'pending', false);
    t.regex(table.split('\n').find((l) => l.includes(forged.id)) ?? '', new RegExp(`NOT PROVEN \\(${reason}\\)`), table);
    t.regex(table.split('\n').find((l) => l.includes(h.id)) ?? '', /proven/);

    // GET /v1/approvals/:id of that row: not proven either (not a 503 that reads like an outage).
    const shown = await gw.get(`/v1/approvals/${forged.id}`, { authorization: `Bearer ${await aliceToken()}` });
    t.is(shown.status, 200, JSON.stringify(shown.body));
    t.like(shown.body.approval.log, { agrees: false, reason });
  });
}

test('a row naming a session that does not exist is listed as not proven (not_in_log), beside a proven genuine row', async (t) => {
  const h = await held('no-session');
  const base = (await store().get(h.id))!;
  const ids = [`no-such-session-${Date.now()}`, '../../etc', 'x'.repeat(2000)];
  for (const [i, sessionId] of ids.entries()) await store().create({ ...base, id: `forged-nosession-${i}-${Date.now()}`, sessionId });
  const r = await gw.get('/v1/approvals?status=pending&limit=999', { authorization: `Bearer ${await aliceToken()}` });
  t.is(r.status, 200, JSON.stringify(r.body));
  const rows = r.body.approvals as { id: string; sessionId: string; log: { agrees: boolean; reason?: string } }[];
  for (const sessionId of ids) t.like(rows.find((a) => a.sessionId === sessionId), { log: { agrees: false, reason: 'not_in_log' } });
  t.like(rows.find((a) => a.id === h.id), { log: { agrees: true } });
});
