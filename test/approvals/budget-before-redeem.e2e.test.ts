// An approval is spent only by a statement that can run: the process-wide budget of result bytes
// in flight (docs/outcomes.md, "Result bytes in flight") is reserved BEFORE the approval is
// redeemed, so a 503 result_budget_exhausted — nothing ran — leaves the approval approved, for the
// bot to present again, instead of burning a human's vote on this process's memory being full.
import test from 'ava';
import { startTestGateway, testPolicy, withBotWriteApproval, type TestGateway } from '../helpers/gateway.ts';

const MiB = 1024 * 1024;
const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const model = { 'x-agent-model': 'test-model' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let gw: TestGateway;

test.before(async () => {
  gw = await startTestGateway({
    seedSql: 'CREATE TABLE notes (id int, body text)',
    policy: (issuer) => withBotWriteApproval(testPolicy(issuer)),
    // One statement's maxResultBytes (the 4 MiB default) takes all of it; nobody may wait.
    resultBudget: { maxBytes: 4 * MiB, maxQueue: 0, timeoutMs: 200 },
  });
});
test.after.always(() => gw?.close());

const asBot = async (body: unknown) => gw.post('/v1/query', body, { authorization: `Bearer ${await gw.token(BOT)}`, ...model });
const asAlice = async (sql: string) =>
  gw.post('/v1/query', { connection: 'main', sql }, { authorization: `Bearer ${await gw.token('alice@acme.com')}`, ...model });
const approve = async (id: string) => gw.post(`/v1/approvals/${id}/approve`, { comment: 'ok' }, { authorization: `Bearer ${await gw.token('alice@acme.com')}` });

async function runningOnTarget(pattern: string): Promise<void> {
  for (let waited = 0; waited < 15_000; waited += 25) {
    const { rows } = await gw.sql("SELECT 1 FROM pg_stat_activity WHERE query LIKE $1 AND state = 'active' AND pid <> pg_backend_pid()", [pattern]);
    if (rows.length > 0) return;
    await sleep(25);
  }
  throw new Error(`nothing like ${pattern} ran on the target`);
}

for (const [name, sql, params] of [
  ['with parameters', 'INSERT INTO notes VALUES ($1, $2)', [1, 'x']],
  ['literal, returning rows', "UPDATE notes SET body = 'y' WHERE id = 1 RETURNING id", []],
] as const) {
  test.serial(`the budget taken when an approved write is presented (${name}): 503, the approval is not spent, nothing ran; presented again it runs once`, async (t) => {
    const body = { connection: 'main', sql, params };
    const held = await asBot(body);
    t.is(held.status, 202, JSON.stringify(held.body));
    const id = held.body.approval.id as string;
    t.is((await approve(id)).status, 200);
    const before = (await gw.sql('SELECT id, body FROM notes ORDER BY id')).rows;

    const holder = asAlice('SELECT pg_sleep(1.5) AS slept');
    await runningOnTarget('SELECT pg_sleep(1.5)%'); // it holds the whole budget
    const refused = await asBot({ ...body, approvalId: id });
    t.is(refused.status, 503, JSON.stringify(refused.body));
    t.is(refused.body.error?.code, 'result_budget_exhausted');
    t.is((await holder).status, 200);

    t.deepEqual((await gw.sql('SELECT id, body FROM notes ORDER BY id')).rows, before, 'nothing ran');
    t.is((await gw.runtime.approvals!.store.get(id))!.state, 'approved', 'the approval is still there to present');
    const events = await gw.runtime.sessions.read(refused.body.sessionId);
    t.false(events.some((e) => e.type === 'approval.redeemed'), 'no redemption was recorded');
    // Recorded as not run, naming the budget — the way a session reads when the approval store is down.
    const last = events.at(-1)!;
    t.is(last.type, 'decision');
    t.is((last.data as any).action, 'deny');
    t.regex(JSON.stringify((last.data as any).reasons), /result_budget_exhausted: not run, and the approval not used/);
    t.false(events.some((e) => e.type.startsWith('execution.')), 'nothing started');

    const again = await asBot({ ...body, approvalId: id });
    t.is(again.status, 200, JSON.stringify(again.body));
    const twice = await asBot({ ...body, approvalId: id });
    t.is(twice.status, 409, 'and only once');
    t.is(twice.body.error?.code, 'approval_used');
  });
}

test.serial('a redemption refused after the reservation gives the bytes back: later statements still run', async (t) => {
  const body = { connection: 'main', sql: 'INSERT INTO notes VALUES ($1, $2)', params: [7, 'z'] };
  const held = await asBot(body);
  t.is(held.status, 202);
  // Not approved yet, then an id nobody issued, then another statement's approval: each refused
  // after the budget was reserved. A reservation not given back would take the whole budget.
  for (const approvalId of [held.body.approval.id, '00000000-0000-4000-8000-000000000000']) {
    const refused = await asBot({ ...body, approvalId });
    t.true(refused.status === 403 || refused.status === 404 || refused.status === 409, JSON.stringify(refused.body));
  }
  const other = await asBot({ ...body, params: [8, 'z'], approvalId: held.body.approval.id });
  t.not(other.status, 200);
  const read = await asAlice('SELECT count(*)::int AS n FROM notes');
  t.is(read.status, 200, JSON.stringify(read.body));
  t.is((await gw.sql('SELECT count(*)::int AS n FROM notes WHERE id IN (7, 8)')).rows[0].n, 0);
});
