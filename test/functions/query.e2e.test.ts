// POST /v1/query end to end: real HTTP, real tokens from a JWKS-serving issuer, real PostgreSQL
// for both the target and the session log.
import test from 'ava';
import { generateKeyPair, SignJWT } from 'jose';
import { verifyChain } from '../../shared/audit/chain.ts';
import { startTestGateway, TEST_AUDIENCE, testPolicy, type TestGateway } from '../helpers/gateway.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const SEED = `
  CREATE TABLE orders (id int PRIMARY KEY, total numeric(10,2) NOT NULL, placed date NOT NULL);
  INSERT INTO orders SELECT g, g * 1.5, DATE '2026-01-01' + g FROM generate_series(1, 250) g;
  CREATE TABLE audit_probe (x int);
  CREATE FUNCTION planted() RETURNS int LANGUAGE sql AS $$ INSERT INTO audit_probe VALUES (1) RETURNING 1 $$;
  CREATE FUNCTION unlisted() RETURNS int LANGUAGE sql AS $$ INSERT INTO audit_probe VALUES (2) RETURNING 1 $$;
`;
// A policy mistake to test the second layer with: it vouches for planted() as a read.
const POLICY = (issuer: string) => testPolicy(issuer, `functions:
  - signature: public.planted()
    class: read
    reason: wrongly believed to be pure
`);

let gw: TestGateway;
test.before(async () => {
  gw = await startTestGateway({ seedSql: SEED, policy: POLICY });
});
test.after.always(async () => {
  await gw?.close();
});

const model = { 'x-agent-model': 'gemini-2.5-pro-002' };
async function asBot(body: unknown, headers: Record<string, string> = {}) {
  return gw.post('/v1/query', body, { authorization: `Bearer ${await gw.token(BOT)}`, ...model, ...headers });
}
async function events(sessionId: string) {
  return gw.runtime.sessions.read(sessionId);
}

test('a permitted read answers 200 with rows, and the session records every step with a verifying chain', async (t) => {
  const r = await asBot({ connection: 'main', sql: 'SELECT id, total FROM orders WHERE id <= $1 ORDER BY id', params: [3] }, { 'x-agent-run-id': 'run-42' });
  t.is(r.status, 200, JSON.stringify(r.body));
  t.is(r.body.status, 'executed');
  t.is(r.body.command, 'SELECT');
  t.is(r.body.rowCount, 3);
  t.false(r.body.truncated);
  t.deepEqual(r.body.rows, [[1, '1.50'], [2, '3.00'], [3, '4.50']]);
  t.deepEqual(r.body.columns.map((c: any) => [c.name, c.type, c.masked]), [['id', 'int4', false], ['total', 'numeric', false]]);
  t.is(r.body.risk.class, 'read');
  const evs = await events(r.body.sessionId);
  t.deepEqual(evs.map((e) => e.type), ['request', 'analysis', 'decision', 'execution.started', 'execution.result']);
  t.deepEqual(verifyChain(r.body.sessionId, evs), []);
  const req = evs[0]!.data as any;
  t.is(req.principal.email, BOT);
  t.is(req.agent.model, 'gemini-2.5-pro-002');
  t.is(req.agent.runId, 'run-42');
  const decision = evs[2]!.data as any;
  t.is(decision.rule, 'bots-read');
  t.is(decision.policySha256, gw.runtime.policy.sha256);
  t.is((evs[3]!.data as any).readOnly, true);
});

test('DROP TABLE answers 403 with the rule and reasons, and nothing runs', async (t) => {
  const r = await asBot({ connection: 'main', sql: 'DROP TABLE orders' });
  t.is(r.status, 403);
  t.is(r.body.status, 'denied');
  t.is(r.body.rule, 'nothing-else');
  t.true(r.body.reasons.length > 0);
  t.truthy(r.body.sessionId);
  const still = await gw.sql('SELECT count(*)::int AS n FROM orders');
  t.is(still.rows[0].n, 250);
  const evs = await events(r.body.sessionId);
  t.deepEqual(evs.map((e) => e.type), ['request', 'analysis', 'decision']);
  t.is((evs[2]!.data as any).action, 'deny');
});

test('the row cap truncates without the bot choosing more than the connection allows', async (t) => {
  const r = await asBot({ connection: 'main', sql: 'SELECT id FROM orders ORDER BY id', maxRows: 5000 });
  t.is(r.status, 200);
  t.is(r.body.rows.length, 100); // the connection's maxRows
  t.true(r.body.truncated);
  const small = await asBot({ connection: 'main', sql: 'SELECT id FROM orders ORDER BY id', maxRows: 7 });
  t.is(small.body.rows.length, 7);
  t.true(small.body.truncated);
});

// Serial: it counts all sessions, which concurrent tests in this file would change.
test.serial('no token, an expired, a forged or a wrong-audience token answer 401 with a challenge, and record nothing', async (t) => {
  const before = (await gw.runtime.sessions.list({ limit: 10_000 })).length;
  const body = { connection: 'main', sql: 'SELECT 1' };
  const none = await gw.post('/v1/query', body, model);
  t.is(none.status, 401);
  t.is(none.body.error.code, 'token_missing');
  t.is(none.headers.get('www-authenticate'), 'Bearer');

  const expired = await gw.token(BOT, { now: new Date(Date.now() - 2 * 3600_000), ttlSec: 600 });
  const r1 = await gw.post('/v1/query', body, { ...model, authorization: `Bearer ${expired}` });
  t.is(r1.status, 401);
  t.is(r1.body.error.code, 'token_expired');
  t.regex(r1.headers.get('www-authenticate') ?? '', /invalid_token/);

  // Forged: right issuer, audience and kid, but signed by a key that is not the issuer's.
  const good = await gw.token(BOT);
  const header = JSON.parse(Buffer.from(good.split('.')[0]!, 'base64url').toString());
  const { privateKey } = await generateKeyPair(header.alg);
  const forged = await new SignJWT({ email: BOT, email_verified: true })
    .setProtectedHeader(header)
    .setIssuer(gw.issuer)
    .setAudience(TEST_AUDIENCE)
    .setSubject(BOT)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(privateKey);
  const r2 = await gw.post('/v1/query', body, { ...model, authorization: `Bearer ${forged}` });
  t.is(r2.status, 401);
  t.is(r2.body.error.code, 'token_signature_invalid');

  const wrongAud = await gw.token(BOT, { aud: 'someone-else' });
  const r3 = await gw.post('/v1/query', body, { ...model, authorization: `Bearer ${wrongAud}` });
  t.is(r3.status, 401);
  t.is(r3.body.error.code, 'token_audience_mismatch');

  const garbage = await gw.post('/v1/query', body, { ...model, authorization: 'Bearer not.a.jwt' });
  t.is(garbage.status, 401);
  t.false(JSON.stringify(r2.body).includes(forged), 'the token is never echoed');
  const after = (await gw.runtime.sessions.list({ limit: 10_000 })).length;
  t.is(after, before, 'unauthenticated requests create no sessions');
});

for (const [name, send, status, code] of [
  ['malformed JSON', '{"connection": "main", "sql": ', 400, 'invalid_json'],
  ['a body that is not an object', '[1,2]', 400, 'bad_request'],
  ['a missing sql field', { connection: 'main' }, 400, 'bad_request'],
  ['an unknown field', { connection: 'main', sql: 'SELECT 1', sneaky: true }, 400, 'bad_request'],
  ['a mistyped maxRows', { connection: 'main', sql: 'SELECT 1', maxRows: 'all' }, 400, 'bad_request'],
  ['params of the wrong shape', { connection: 'main', sql: 'SELECT $1', params: [{ a: 1 }] }, 400, 'invalid_params'],
  ['params that are not an array', { connection: 'main', sql: 'SELECT $1', params: 'x' }, 400, 'invalid_params'],
  ['an unknown connection', { connection: 'prod', sql: 'SELECT 1' }, 400, 'unknown_connection'],
  ['SQL PostgreSQL cannot parse', { connection: 'main', sql: 'SELEC id FROM orders' }, 400, 'sql_unparsable'],
  ['two statements', { connection: 'main', sql: 'SELECT 1; DELETE FROM orders' }, 400, 'sql_multiple_statements'],
  ['empty SQL', { connection: 'main', sql: '  -- nothing\n' }, 400, 'sql_empty'],
  ['a body over the size limit', { connection: 'main', sql: `SELECT '${'x'.repeat(300_000)}'` }, 413, 'body_too_large'],
] as const) {
  test(`bad input from an authenticated caller: ${name} → ${status} ${code}, recorded as a session`, async (t) => {
    const r = await asBot(send);
    t.is(r.status, status, JSON.stringify(r.body).slice(0, 300));
    t.is(r.body.error.code, code);
    t.truthy(r.body.sessionId, 'the refusal names its session');
    const evs = await events(r.body.sessionId);
    t.true(evs.length >= 1);
    t.is(evs[0]!.type, 'request');
    const rejected = (evs[0]!.data as any).rejected ?? (evs[1]?.data as any)?.error;
    t.is(rejected.code, code);
    t.false(evs.some((e) => e.type.startsWith('execution')));
  });
}

test('SQL that cannot be parsed reports the parser message and position', async (t) => {
  const r = await asBot({ connection: 'main', sql: 'SELECT id FROM orders WHERE' });
  t.is(r.status, 400);
  t.is(r.body.error.code, 'sql_unparsable');
  t.regex(r.body.error.message, /syntax error/);
  t.is(typeof r.body.error.details.position, 'number');
});

test('agent model: missing → 400 model_required, not allowed → 403 model_not_allowed; both recorded', async (t) => {
  const token = await gw.token(BOT);
  const body = { connection: 'main', sql: 'SELECT 1' };
  const missing = await gw.post('/v1/query', body, { authorization: `Bearer ${token}` });
  t.is(missing.status, 400);
  t.is(missing.body.error.code, 'model_required');
  const other = await gw.post('/v1/query', body, { authorization: `Bearer ${token}`, 'x-agent-model': 'gpt-4o' });
  t.is(other.status, 403);
  t.is(other.body.error.code, 'model_not_allowed');
  const evs = await events(other.body.sessionId);
  t.deepEqual(evs.map((e) => e.type), ['request', 'decision']);
  t.is((evs[1]!.data as any).action, 'deny');
});

test('first layer: a user function the policy does not list makes a SELECT unknown (denied), and nothing runs', async (t) => {
  const r = await asBot({ connection: 'main', sql: 'SELECT unlisted()' });
  t.is(r.status, 403, JSON.stringify(r.body));
  t.true(r.body.reasons.some((x: string) => /unlisted\(\), which is a user-defined sql function not listed in the policy/.test(x)));
  const evs = await events(r.body.sessionId);
  t.is((evs.find((e) => e.type === 'analysis')!.data as any).class, 'unknown');
  t.false(evs.some((e) => e.type.startsWith('execution.')));
  t.is((await gw.sql('SELECT count(*)::int AS n FROM audit_probe')).rows[0].n, 0);
});

test('second layer: a read that calls a writing function the policy wrongly lists is refused by READ ONLY, recorded as failed', async (t) => {
  const r = await asBot({ connection: 'main', sql: 'SELECT planted()' });
  t.is(r.status, 422, JSON.stringify(r.body));
  t.is(r.body.error.code, 'read_only_violation');
  const rows = await gw.sql('SELECT count(*)::int AS n FROM audit_probe');
  t.is(rows.rows[0].n, 0);
  const evs = await events(r.body.sessionId);
  t.is(evs.at(-1)!.type, 'execution.failed');
  t.is((evs.at(-1)!.data as any).error.code, 'read_only_violation');
});

test('a DBA write runs in a read-write transaction and reports rows affected', async (t) => {
  const token = await gw.token('alice@acme.com');
  const r = await gw.post('/v1/query', { connection: 'main', sql: 'UPDATE orders SET total = total WHERE id = $1', params: [1] }, { authorization: `Bearer ${token}`, ...model });
  t.is(r.status, 200, JSON.stringify(r.body));
  t.is(r.body.command, 'UPDATE');
  t.is(r.body.rowCount, 1);
  t.is(r.body.risk.class, 'write');
});

test('GET /v1/sessions/:id: the requester and auditors see it; another caller gets 404', async (t) => {
  const r = await asBot({ connection: 'main', sql: 'SELECT 1 AS one' });
  const get = async (sub: string) =>
    fetch(`${gw.url}/v1/sessions/${r.body.sessionId}`, { headers: { authorization: `Bearer ${await gw.token(sub)}` } });
  const own = await get(BOT);
  t.is(own.status, 200);
  const body = (await own.json()) as any;
  t.is(body.status, 'result');
  t.is(body.events.length, 5);
  t.is((await get('carol@acme.com')).status, 200);
  const stranger = await get('mallory@acme.com');
  t.is(stranger.status, 404);
  t.is(((await stranger.json()) as any).error.code, 'session_not_found');
  const noToken = await fetch(`${gw.url}/v1/sessions/${r.body.sessionId}`);
  t.is(noToken.status, 401);
});

test('POST /v1/analyze answers risk, decision and statement, records a session, runs nothing', async (t) => {
  const r = await gw.post('/v1/analyze', { connection: 'main', sql: 'DELETE FROM orders' }, { authorization: `Bearer ${await gw.token(BOT)}`, ...model });
  t.is(r.status, 200);
  t.is(r.body.risk.class, 'destructive');
  t.is(r.body.decision, 'deny');
  t.is(r.body.rule, 'nothing-else');
  t.deepEqual(r.body.statement.tables.written, ['orders']);
  t.is(typeof r.body.statement.fingerprint, 'string');
  const evs = await events(r.body.sessionId);
  t.deepEqual(evs.map((e) => e.type), ['request', 'analysis', 'decision']);
  t.is((await gw.sql('SELECT count(*)::int AS n FROM orders')).rows[0].n, 250);
});

test('wrong method and unknown route answer with coded errors', async (t) => {
  const r = await fetch(`${gw.url}/v1/query`);
  t.is(r.status, 405);
  t.is(((await r.json()) as any).error.code, 'method_not_allowed');
  const nf = await fetch(`${gw.url}/v1/nothing`);
  t.is(nf.status, 404);
});
