// The approver sees the blast radius: the planner's estimate for a held statement, in
// GET /v1/approvals/:id, `gatehouse approvals show`, the published notice (Slack / webhook) and the
// approval.requested event. And estimating never runs the statement — attacked with functions the
// planner evaluates, a data-modifying CTE, EXPLAIN ANALYZE, and a planner that takes forever.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { slackMessage } from '../../shared/adapters/webhooks/slack.ts';
import { approvalMessage, parseApprovalNotice } from '../../shared/approvals/message.ts';
import { describeEstimate } from '../../shared/blast-radius/describe.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { BOT, DBA, EVENTS_ROWS, MODEL, startAgentGateway } from './fixture.ts';

const run = promisify(execFile);
let gw: TestGateway;
test.before(async () => {
  gw = await startAgentGateway();
  await gw.sql(`
    CREATE TABLE side_effects (at timestamptz NOT NULL DEFAULT now(), what text);
    CREATE FUNCTION volatile_write(n int) RETURNS int LANGUAGE plpgsql VOLATILE AS $$
      BEGIN INSERT INTO side_effects (what) VALUES ('volatile ' || n); RETURN n; END $$;
    -- Declared IMMUTABLE (a lie), so the planner folds a call with constant arguments at plan
    -- time: EXPLAIN alone runs it, and through the volatile function it writes.
    CREATE FUNCTION planted_write(n int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
      BEGIN PERFORM volatile_write(n); RETURN n; END $$;
    CREATE FUNCTION planted_sleep(n int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
      BEGIN PERFORM pg_sleep(30); RETURN n; END $$;`);
});
test.after.always(async () => {
  await gw?.close();
});

const botHeaders = async () => ({ authorization: `Bearer ${await gw.token(BOT)}`, 'x-agent-model': MODEL });
async function hold(sql: string, params: unknown[] = []) {
  const r = await gw.post('/v1/query', { connection: 'main', sql, params }, await botHeaders());
  if (r.status !== 202) throw new Error(`expected 202 for ${sql}, got ${r.status}: ${JSON.stringify(r.body)}`);
  return r.body as { sessionId: string; approval: { id: string } };
}
async function approvalOf(id: string) {
  const r = await gw.get(`/v1/approvals/${id}`, { authorization: `Bearer ${await gw.token(DBA)}` });
  if (r.status !== 200) throw new Error(JSON.stringify(r.body));
  return r.body.approval;
}
async function requestedEvent(sessionId: string) {
  const r = await gw.get(`/v1/sessions/${sessionId}`, await botHeaders());
  return r.body.events.find((e: any) => e.type === 'approval.requested');
}
const sideEffects = async () => (await gw.sql('SELECT count(*)::int AS n FROM side_effects')).rows[0].n as number;

test.serial('an UPDATE: the estimate is in the approval, the CLI, the notice and the approval.requested event', async (t) => {
  const held = await hold('UPDATE events SET payload = $1 WHERE kind = $2', ['archived', 'error']);
  const a = await approvalOf(held.approval.id);
  t.is(a.estimate.state, 'estimated');
  t.is(a.estimate.topNode, 'ModifyTable (Update)');
  t.deepEqual(a.estimate.tables, ['public.events']);
  // The planner's estimate from statistics (ANALYZE ran in the fixture): 10% of the rows.
  t.true(a.estimate.rows > EVENTS_ROWS / 10 / 2 && a.estimate.rows < (EVENTS_ROWS / 10) * 2, `rows ${a.estimate.rows}`);
  t.is(typeof a.estimate.totalCost, 'number');

  // Recorded in the session, exactly as shown.
  const event = await requestedEvent(held.sessionId);
  t.deepEqual(event.data.estimate, a.estimate);

  // `gatehouse approvals show`
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bin/gatehouse.ts', 'approvals', 'show', held.approval.id, '--url', gw.url, '--token', await gw.token(DBA)], { timeout: 60_000 });
  t.regex(stdout, /estimate {4}≈ [\d,]+ rows · ModifyTable \(Update\) · public\.events \(planner's estimate\)/);

  // The notice published for Slack / webhooks carries it; the Slack message shows it.
  const stored = await gw.runtime.approvals!.store.get(held.approval.id);
  const notice = approvalMessage(stored!, 'https://gatehouse.example/v1/approvals/x').body;
  t.deepEqual(notice.estimate, a.estimate);
  t.deepEqual(parseApprovalNotice(JSON.parse(JSON.stringify(notice)))?.estimate, a.estimate, 'survives the topic');
  t.true(JSON.stringify(slackMessage(notice)).includes(`*Blast radius:* ${describeEstimate(a.estimate)}`));

  // Nothing ran.
  t.is((await gw.sql("SELECT count(*)::int AS n FROM events WHERE payload = 'archived'")).rows[0].n, 0);
});

test.serial('a DELETE with a range and a parameter', async (t) => {
  const held = await hold('DELETE FROM events WHERE id > $1', [EVENTS_ROWS - 1000]);
  const a = await approvalOf(held.approval.id);
  t.is(a.estimate.topNode, 'ModifyTable (Delete)');
  t.true(a.estimate.rows >= 500 && a.estimate.rows <= 2000, `rows ${a.estimate.rows}`);
  t.is((await gw.sql('SELECT count(*)::int AS n FROM events')).rows[0].n, EVENTS_ROWS, 'nothing deleted');
});

test.serial('a function the planner runs at plan time is never planned: no EXPLAIN, no estimate, no side effect', async (t) => {
  // The attack is real: a plain EXPLAIN (no ANALYZE) outside a read-only transaction writes.
  const start = await sideEffects();
  await gw.sql("EXPLAIN UPDATE events SET payload = 'x' WHERE id = planted_write(7)");
  t.is(await sideEffects(), start + 1, 'plain EXPLAIN ran the planted function');

  // READ ONLY would refuse its INSERT, but not what READ ONLY does not cover (mcp-attacks: ending
  // another backend): a statement calling a user function is not explained at all.
  const before = await sideEffects();
  const held = await hold('UPDATE events SET payload = $1 WHERE id = planted_write(7)', ['x']);
  const a = await approvalOf(held.approval.id);
  t.is(a.estimate.state, 'unavailable');
  t.regex(a.estimate.reason, /^not explained: the planner could run what it calls off the read allowlist \(calls planted_write\(\)/);
  t.is(await sideEffects(), before, 'the planted INSERT did not happen');
  t.is((await requestedEvent(held.sessionId)).data.estimate.state, 'unavailable');
});

test.serial('a volatile writing function is not executed: the statement is not explained', async (t) => {
  const before = await sideEffects();
  const held = await hold('UPDATE events SET payload = $1 WHERE id = volatile_write(8)', ['x']);
  const a = await approvalOf(held.approval.id);
  t.is(a.estimate.state, 'unavailable');
  t.regex(a.estimate.reason, /volatile_write/);
  t.is(await sideEffects(), before);
});

test.serial('a data-modifying CTE inside a SELECT is planned, not run', async (t) => {
  const held = await hold('WITH gone AS (DELETE FROM events WHERE id = $1 RETURNING id) SELECT count(*) FROM gone', [1]);
  const a = await approvalOf(held.approval.id);
  t.is(a.estimate.state, 'estimated');
  t.deepEqual(a.estimate.tables, ['public.events']);
  t.is((await gw.sql('SELECT count(*)::int AS n FROM events WHERE id = 1')).rows[0].n, 1, 'row 1 still there');
});

test.serial('EXPLAIN ANALYZE held for approval is not estimated (it would run)', async (t) => {
  const held = await hold('EXPLAIN ANALYZE UPDATE events SET payload = $1 WHERE id = 2', ['analyzed']);
  const a = await approvalOf(held.approval.id);
  t.is(a.estimate.state, 'unavailable');
  t.regex(a.estimate.reason, /does not estimate/);
  t.is((await gw.sql("SELECT count(*)::int AS n FROM events WHERE payload = 'analyzed'")).rows[0].n, 0);
});

test.serial('a function that would keep the planner busy is not planned at all (the statement timeout caps the rest, client-units)', async (t) => {
  const started = Date.now();
  const held = await hold('UPDATE events SET payload = $1 WHERE id = planted_sleep(3)', ['slept']);
  const a = await approvalOf(held.approval.id);
  t.is(a.estimate.state, 'unavailable');
  t.regex(a.estimate.reason, /planted_sleep/);
  t.true(Date.now() - started < 2_000, 'held at once, not after a planner that slept');
  t.is((await gw.sql("SELECT count(*)::int AS n FROM events WHERE payload = 'slept'")).rows[0].n, 0);
});

test.serial('the estimate never carries a parameter value or a message that could quote one', async (t) => {
  const secret = '901-12-3401';
  const held = await hold('UPDATE events SET payload = $1 WHERE id = $2::int', [secret, 'not-a-number-901-12-3401']);
  const a = await approvalOf(held.approval.id);
  t.is(a.estimate.state, 'unavailable');
  t.false(JSON.stringify(a.estimate).includes('901-12-3401'));
  t.false(JSON.stringify((await requestedEvent(held.sessionId)).data.estimate).includes('901-12-3401'));
});
