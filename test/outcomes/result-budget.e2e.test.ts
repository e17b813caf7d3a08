// The process-wide budget of result bytes in flight, end to end (docs/outcomes.md, "Result bytes in
// flight"): a statement that cannot reserve its connection's maxResultBytes waits, then answers 503
// result_budget_exhausted with its session id; the session says execution.failed with that code;
// and the target shows that nothing ran. Bytes come back when an answer is written, or fails.
import test from 'ava';
import { createRuntime } from '../../shared/config.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let gw: TestGateway;
let run: (sql: string) => Promise<{ status: number; body: any }>;

test.before(async () => {
  gw = await startTestGateway({
    seedSql: "CREATE TABLE marks (who text); CREATE TABLE seeded (v text); INSERT INTO seeded VALUES ('original')",
    // One statement's maxResultBytes (the 4 MiB default): a second one must wait for the first.
    resultBudget: { maxBytes: 4 * MiB, maxQueue: 1, timeoutMs: 400 },
  });
  const token = await gw.token('alice@acme.com');
  run = (sql) => gw.post('/v1/query', { connection: 'main', sql }, { authorization: `Bearer ${token}`, 'x-agent-model': 'test-model' });
});
test.after.always(() => gw?.close());

async function runningOnTarget(pattern: string): Promise<void> {
  for (let waited = 0; waited < 15_000; waited += 25) {
    const { rows } = await gw.sql("SELECT 1 FROM pg_stat_activity WHERE query LIKE $1 AND state = 'active' AND pid <> pg_backend_pid()", [pattern]);
    if (rows.length > 0) return;
    await sleep(25);
  }
  throw new Error(`nothing like ${pattern} ran on the target`);
}

async function lastEvents(sessionId: string) {
  const events = await gw.runtime.sessions.read(sessionId);
  return events.map((e) => e.type);
}

test.serial('over the budget: waits, then 503 result_budget_exhausted with the session id; nothing ran', async (t) => {
  const holder = run('SELECT pg_sleep(1.5) AS slept');
  await runningOnTarget('SELECT pg_sleep(1.5)%'); // it reserved the whole budget before it got there
  // Three writes, three syntaxes: the first waits in the queue (its one place) and times out, the
  // others find the queue full and are refused at once. Any that ran would leave a trace.
  const waited = run("INSERT INTO marks VALUES ('insert')");
  await sleep(50);
  const [full1, full2] = await Promise.all([
    run("WITH x AS (INSERT INTO marks VALUES ('cte') RETURNING who) SELECT who FROM x"),
    run("UPDATE seeded SET v = 'changed'"),
  ]);
  const answers = [await waited, full1, full2];
  for (const a of answers) {
    t.is(a.status, 503, JSON.stringify(a.body));
    t.is(a.body.error.code, 'result_budget_exhausted');
    t.is(typeof a.body.sessionId, 'string');
    const types = await lastEvents(a.body.sessionId);
    t.is(types.at(-1), 'execution.failed');
    t.false(types.includes('execution.result'), 'a refused statement has no result');
    const events = await gw.runtime.sessions.read(a.body.sessionId);
    t.is((events.at(-1)!.data as any).error.code, 'result_budget_exhausted');
  }
  // One of them got the queue's one place and waited it out; the others found it taken.
  t.deepEqual(answers.map((a) => a.body.error.details?.reason).sort(), ['queue_full', 'queue_full', 'queue_timeout']);
  const held = await holder;
  t.is(held.status, 200);
  // The target: not one of the refused writes happened.
  t.deepEqual((await gw.sql('SELECT who FROM marks')).rows, []);
  t.deepEqual((await gw.sql('SELECT v FROM seeded')).rows, [{ v: 'original' }]);
});

test.serial('the budget comes back once each answer is written: requests in a row all run', async (t) => {
  // Each reserves the whole budget; with a 400 ms wait, one that was never given back would refuse the next.
  for (let i = 0; i < 6; i++) {
    const a = await run(`INSERT INTO marks VALUES ('row ${i}') RETURNING who`);
    t.is(a.status, 200, JSON.stringify(a.body));
  }
  t.is((await gw.sql("SELECT count(*)::int AS n FROM marks WHERE who LIKE 'row %'")).rows[0].n, 6);
  await gw.sql('DELETE FROM marks');
});

test.serial('a statement that fails gives its reservation back too', async (t) => {
  for (const sql of ['SELECT 1/0', 'SELECT * FROM no_such_table', "SELECT 'x'::int"]) {
    const a = await run(sql);
    t.true(a.status >= 400 && a.status < 500, `${sql}: ${a.status} ${JSON.stringify(a.body)}`);
  }
  const ok = await run("INSERT INTO marks VALUES ('after failures') RETURNING who");
  t.is(ok.status, 200, JSON.stringify(ok.body));
  t.deepEqual((await gw.sql('SELECT who FROM marks')).rows, [{ who: 'after failures' }]);
  await gw.sql('DELETE FROM marks');
});

test.serial('a client that hangs up before its answer is read does not keep the budget', async (t) => {
  const token = await gw.token('alice@acme.com');
  const controller = new AbortController();
  const abandoned = fetch(`${gw.url}/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-agent-model': 'test-model' },
    body: JSON.stringify({ connection: 'main', sql: 'SELECT pg_sleep(0.5), repeat($$x$$, 100000) AS filler' }),
    signal: controller.signal,
  }).catch(() => 'aborted');
  await sleep(200);
  controller.abort();
  t.is(await abandoned, 'aborted');
  await sleep(900); // the statement finishes and its answer goes nowhere
  const a = await run("INSERT INTO marks VALUES ('after hang-up') RETURNING who");
  t.is(a.status, 200, JSON.stringify(a.body));
  await gw.sql('DELETE FROM marks');
});

test('a malformed GATEHOUSE_MAX_INFLIGHT_RESULT_BYTES refuses to start, before anything is opened', async (t) => {
  for (const bad of ['lots', '0', '-1MiB', '32MB', '1.5GiB']) {
    // The store URL points nowhere: had the runtime opened anything first, the error would be that.
    const e = await t.throwsAsync(
      createRuntime({
        policy: gw.policyPath,
        sessionStore: { kind: 'postgres', url: 'postgres://gatehouse@127.0.0.1:1/nowhere' },
        env: { GATEHOUSE_MAX_INFLIGHT_RESULT_BYTES: bad },
        maskingKey: 'env://GATEHOUSE_TEST_MASKING_KEY',
      }),
    );
    t.true(e instanceof TypeError && /GATEHOUSE_MAX_INFLIGHT_RESULT_BYTES/.test(e.message), `${bad}: ${e?.message}`);
  }
});
