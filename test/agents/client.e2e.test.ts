// The TypeScript client (shared/client) against a real gateway on real PostgreSQL: each outcome
// typed, each error by its stable code with the session that recorded it, and waitForApproval
// running a held statement exactly once.
import test from 'ava';
import { Gatehouse, GatehouseApiError, isGatehouseApiError } from '../../shared/client/index.ts';
import type { TestGateway } from '../helpers/gateway.ts';
import { freePort } from '../../infra/free-port.ts';
import { BOT, DBA, EVENTS_ROWS, MODEL, seededPii, startAgentGateway } from './fixture.ts';

let gw: TestGateway;
let pii: string[] = [];
test.before(async () => {
  gw = await startAgentGateway();
  pii = await seededPii(gw);
});
test.after.always(async () => {
  await gw?.close();
});

const bot = (o: { model?: string; runId?: string } = {}) =>
  new Gatehouse({ url: gw.url, tokenProvider: () => gw.token(BOT), model: o.model ?? MODEL, runId: o.runId });
const dba = () => new Gatehouse({ url: gw.url, tokenProvider: () => gw.token(DBA) });

async function refusal(t: any, work: () => Promise<unknown>, code: string): Promise<GatehouseApiError> {
  const e = await t.throwsAsync(work, { instanceOf: GatehouseApiError });
  t.is(e.code, code, e.message);
  t.true(isGatehouseApiError(e, code as never));
  return e;
}

test('executed: typed rows, masked columns marked, no seeded PII in the answer', async (t) => {
  const r = await bot().query({ connection: 'main', sql: 'SELECT name, email, ssn FROM customers ORDER BY id LIMIT 3' });
  if (r.status !== 'executed') return t.fail(`expected executed, got ${r.status}`);
  t.is(r.rowCount, 3);
  t.deepEqual(
    r.columns.map((c) => [c.name, c.masked, c.mask ?? null]),
    [
      ['name', false, null],
      ['email', true, 'email'],
      ['ssn', true, 'redact'],
    ],
  );
  const text = JSON.stringify(r);
  t.deepEqual(pii.filter((v) => text.includes(v)), []);
  t.is(r.risk.class, 'read');
});

test('denied: a typed denial with its rule and reasons, recorded', async (t) => {
  const r = await bot().query({ connection: 'main', sql: 'DROP TABLE orders' });
  if (r.status !== 'denied') return t.fail(`expected denied, got ${r.status}`);
  t.is(r.rule, 'nothing-else');
  t.true(r.reasons.length > 0);
  const s = await bot().session(r.sessionId);
  t.is(s.status, 'denied');
});

test('pending → still pending → approved by a DBA → waitForApproval runs it exactly once', async (t) => {
  // As on GCP, where a bot may reach only the query function: the approvals API is out of reach,
  // and the wait goes through the bot's own session.
  const noApprovalsApi: typeof fetch = async (input, init) => {
    if (String(input).includes('/v1/approvals')) throw new TypeError('blocked: bots cannot reach the approvals function');
    return fetch(input, init);
  };
  const gh = new Gatehouse({ url: gw.url, tokenProvider: () => gw.token(BOT), model: MODEL, runId: 'run-wait-1', fetch: noApprovalsApi });
  const before = (await gw.sql("SELECT count(*)::int AS n FROM events WHERE payload = 'cleared'")).rows[0].n;
  const r = await gh.query({ connection: 'main', sql: 'UPDATE events SET payload = $1 WHERE kind = $2', params: ['cleared', 'error'] });
  if (r.status !== 'pending_approval') return t.fail(`expected pending_approval, got ${r.status}`);
  t.deepEqual(r.approval.approvers, ['group:dba']);

  const early = await gh.waitForApproval(r, { timeoutSec: 1 });
  t.is(early.status, 'still_pending');
  t.is((await gw.sql("SELECT count(*)::int AS n FROM events WHERE payload = 'cleared'")).rows[0].n, before, 'nothing ran while pending');

  // The bot waits (long poll) while the DBA decides.
  const waiting = gh.waitForApproval({ approvalId: r.approval.id, sessionId: r.sessionId }, { timeoutSec: 30 });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const decided = await dba().decide(r.approval.id, 'approve', 'error payloads may be cleared');
  t.is(decided.status, 'approved');
  const done = await waiting;
  if (done.status !== 'executed') return t.fail(`expected executed, got ${done.status}`);
  t.is(done.command, 'UPDATE');
  t.is(done.rowCount, EVENTS_ROWS / 10);

  // A second wait (or a replay of the same approval) is refused: it ran once.
  await refusal(t, () => gh.waitForApproval(r, { timeoutSec: 1 }), 'approval_used');
  // With only the id, the session is found through the approval view (reachable here).
  await refusal(t, () => bot().waitForApproval(r.approval.id, { timeoutSec: 1 }), 'approval_used');
  const again = await refusal(t, () => gh.query({ connection: 'main', sql: 'UPDATE events SET payload = $1 WHERE kind = $2', params: ['cleared', 'error'], approvalId: r.approval.id }), 'approval_used');
  t.truthy(again.sessionId);
  t.is((await gw.sql("SELECT count(*)::int AS n FROM events WHERE payload = 'cleared'")).rows[0].n, EVENTS_ROWS / 10);

  // The redemption is its own session, with the model and run id the client sent.
  const s = await gh.session(done.sessionId);
  const request = s.events.find((e) => e.type === 'request')!;
  t.deepEqual((request.data as any).agent, { model: MODEL, runId: 'run-wait-1' });
  t.is((request.data as any).approvalId, r.approval.id);
});

test('rejected: waitForApproval throws approval_rejected with the requesting session', async (t) => {
  const r = await bot().query({ connection: 'main', sql: "UPDATE products SET price = price + 1 WHERE sku = 'X'" });
  if (r.status !== 'pending_approval') return t.fail(r.status);
  await dba().decide(r.approval.id, 'reject', 'no price changes today');
  const e = await refusal(t, () => bot().waitForApproval(r.approval.id, { timeoutSec: 5 }), 'approval_rejected');
  t.is(e.sessionId, r.sessionId);
});

test('analyze: typed, recorded, nothing runs', async (t) => {
  const a = await bot().analyze({ connection: 'main', sql: 'DELETE FROM orders' });
  t.is(a.risk.class, 'destructive');
  t.is(a.decision, 'deny');
  t.deepEqual(a.statement.tables.written, ['orders']);
  t.is((await gw.sql('SELECT count(*)::int AS n FROM orders')).rows[0].n, 50);
});

test('errors come back typed by their stable code, with the session that recorded them', async (t) => {
  const gh = bot();
  const unparsable = await refusal(t, () => gh.query({ connection: 'main', sql: 'SELEC 1' }), 'sql_unparsable');
  t.is(unparsable.status, 400);
  t.truthy(unparsable.sessionId);
  t.is(typeof unparsable.details?.position, 'number');
  t.truthy((await gh.session(unparsable.sessionId!)).events.length);

  t.truthy((await refusal(t, () => gh.query({ connection: 'nope', sql: 'SELECT 1' }), 'unknown_connection')).sessionId);
  t.is((await refusal(t, () => gh.query({ connection: 'main', sql: 'SELECT 1; SELECT 2' }), 'sql_multiple_statements')).status, 400);
  await refusal(t, () => gh.query({ connection: 'main', sql: 'SELECT $1', params: [{ nested: true }] as never }), 'invalid_params');
  const model = await refusal(t, () => bot({ model: 'gpt-evil' }).query({ connection: 'main', sql: 'SELECT 1' }), 'model_not_allowed');
  t.is(model.status, 403);
  t.truthy(model.sessionId);
  await refusal(t, () => gh.query({ connection: 'main', sql: "SELECT 'a'::int" }), 'execution_failed');
  await refusal(t, () => gh.session('00000000-0000-0000-0000-000000000000'), 'session_not_found');
  await refusal(t, () => gh.approval('no-such-approval'), 'approval_not_found');
  await refusal(t, () => gh.query({ connection: 'main', sql: 'UPDATE events SET kind = kind WHERE id = 1', approvalId: 'made-up' }), 'approval_unknown');

  // Identity problems: 401, not recorded (the caller is unknown), no session id.
  const forged = await refusal(t, () => new Gatehouse({ url: gw.url, token: 'not-a-jwt', model: MODEL }).query({ connection: 'main', sql: 'SELECT 1' }), 'token_invalid');
  t.is(forged.status, 401);
  t.is(forged.sessionId, undefined);
  const expired = await gw.token(BOT, { ttlSec: 1, now: new Date(Date.now() - 3_600_000) });
  await refusal(t, () => new Gatehouse({ url: gw.url, token: expired, model: MODEL }).query({ connection: 'main', sql: 'SELECT 1' }), 'token_expired');

  // Client-side: no token, no server.
  const noToken = await refusal(
    t,
    () =>
      new Gatehouse({
        url: gw.url,
        tokenProvider: () => {
          throw new Error('metadata server unreachable');
        },
      }).query({ connection: 'main', sql: 'SELECT 1' }),
    'token_unavailable',
  );
  t.is(noToken.status, 0);
  const closed = await freePort();
  await refusal(t, () => new Gatehouse({ url: `http://127.0.0.1:${closed}`, token: 'x' }).query({ connection: 'main', sql: 'SELECT 1' }), 'unreachable');
  t.throws(() => new Gatehouse({ url: gw.url }), { instanceOf: TypeError });
});

test('an answer outside the contract is refused as unexpected_response, not passed on', async (t) => {
  const lying: typeof fetch = async () => new Response(JSON.stringify({ sessionId: 's', status: 'executed', rows: 'all of them' }), { status: 200 });
  await refusal(t, () => new Gatehouse({ url: gw.url, token: 'x', fetch: lying }).query({ connection: 'main', sql: 'SELECT 1' }), 'unexpected_response');
  const html: typeof fetch = async () => new Response('<html>502 Bad Gateway</html>', { status: 502 });
  await refusal(t, () => new Gatehouse({ url: gw.url, token: 'x', fetch: html }).query({ connection: 'main', sql: 'SELECT 1' }), 'unexpected_response');
});

test('connections and describe_table: recorded, read-only, sensitive columns marked', async (t) => {
  const c = await bot({ runId: 'run-describe' }).connections();
  t.deepEqual(c.connections.map((x) => [x.name, x.read]), [['main', 'allow']]);
  const d = await bot({ runId: 'run-describe' }).describeTable('main', 'public.customers');
  t.is(d.kind, 'table');
  const byName = new Map(d.columns.map((col) => [col.name, col]));
  t.deepEqual([byName.get('email')?.sensitive, byName.get('email')?.mask], [true, 'email']);
  t.deepEqual([byName.get('ssn')?.sensitive, byName.get('ssn')?.mask], [true, 'redact']);
  t.is(byName.get('name')?.sensitive, false);
  t.is(byName.get('id')?.nullable, false);
  // A bare name means public.
  t.is((await bot().describeTable('main', 'customers')).table, 'customers');
  // A view's columns that show masked base columns are sensitive too (through the catalog).
  const v = await bot().describeTable('main', 'public.customer_contacts');
  t.is(v.kind, 'view');
  const inView = new Map(v.columns.map((col) => [col.name, col]));
  t.deepEqual([inView.get('email')?.sensitive, inView.get('email')?.mask], [true, 'email']);
  t.is(inView.get('name')?.sensitive, false);

  for (const sessionId of [c.sessionId, d.sessionId]) {
    const s = await bot().session(sessionId);
    const request = s.events.find((e) => e.type === 'request')!.data as any;
    t.deepEqual(request.agent, { model: MODEL, runId: 'run-describe' });
  }
  const s = await bot().session(d.sessionId);
  t.deepEqual(s.events.map((e) => e.type), ['request', 'analysis', 'decision']);
  t.is((s.events[2]!.data as any).action, 'allow');

  await refusal(t, () => bot().describeTable('main', 'public.no_such_table'), 'table_not_found');
  await refusal(t, () => bot().describeTable('nope', 'public.customers'), 'unknown_connection');
  await refusal(t, () => bot().describeTable('main', 'a.b.c'), 'bad_request');
  // Names are bind parameters of a fixed catalog query: nothing in them is SQL.
  for (const name of ["public.x'; DROP TABLE orders; --", 'public.customers) OR (1=1', '"public"."customers""; DROP TABLE orders; --"']) {
    await refusal(t, () => bot().describeTable('main', name), 'table_not_found');
  }
  t.is((await gw.sql('SELECT count(*)::int AS n FROM orders')).rows[0].n, 50);
  // Quoted names with a dot inside are one identifier.
  await gw.sql('CREATE SCHEMA IF NOT EXISTS "odd.schema"; CREATE TABLE IF NOT EXISTS "odd.schema"."t.1" (x int)');
  t.deepEqual((await bot().describeTable('main', '"odd.schema"."t.1"')).columns.map((col) => col.name), ['x']);
  // Someone the policy does not let read: denied, recorded.
  const stranger = new Gatehouse({ url: gw.url, tokenProvider: () => gw.token('stranger@else.com'), model: MODEL });
  const denied = await refusal(t, () => stranger.describeTable('main', 'public.customers'), 'policy_denied');
  t.truthy(denied.sessionId);
  t.deepEqual((await stranger.connections()).connections.map((x) => x.read), ['deny']);
});
