// Step 7 through the whole request path: the HTTP answer, the response's columns[], the stored
// execution.completed event and the analyze preview — against the demo schema's seeded PII.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { startTestGateway, testPolicy, type TestGateway } from '../helpers/gateway.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const SEED = readFileSync(new URL('../../infra/demo-db/seed.sql', import.meta.url), 'utf8');
const MASKING = `masking:
  columns:
    public.customers.email: email
    public.customers.ssn: redact
    public.customers.card_number: last4
    public.customers.phone: hash
  derived: mask
  detectors: [email, card, ssn, phone, iban, secret]
`;

let gw: TestGateway;
let raw: string[] = [];
test.before(async () => {
  gw = await startTestGateway({ seedSql: SEED, policy: (issuer) => testPolicy(issuer, MASKING) });
  const { rows } = await gw.sql('SELECT email, ssn, card_number, phone FROM customers');
  raw = rows.flatMap((r) => [r.email, r.ssn, r.card_number, r.phone]);
});
test.after.always(async () => {
  await gw?.close();
});

async function query(sql: string) {
  return gw.post('/v1/query', { connection: 'main', sql }, { authorization: `Bearer ${await gw.token(BOT)}`, 'x-agent-model': 'test-model' });
}
function leaked(text: string): string[] {
  return raw.filter((v) => text.includes(v));
}

for (const sql of [
  'SELECT name, email, ssn, card_number, phone FROM customers',
  'SELECT * FROM customers',
  'SELECT lower(email) AS e, ssn || \'\' AS s FROM customers',
  'SELECT c FROM customers c',
  'SELECT row_to_json(c) FROM customers c',
  'SELECT name, email FROM customer_contacts',
  "SELECT email FROM customers UNION ALL SELECT 'x'",
]) {
  test(`no raw PII in the answer or the session log: ${sql}`, async (t) => {
    const r = await query(sql);
    t.is(r.status, 200, JSON.stringify(r.body).slice(0, 300));
    t.deepEqual(leaked(JSON.stringify(r.body)), []);
    t.true(r.body.columns.some((c: any) => c.masked), 'a column is reported masked');
    const events = await gw.runtime.sessions.read(r.body.sessionId);
    t.deepEqual(leaked(JSON.stringify(events)), [], 'the stored events hold only the masked result');
    const done = events.find((e) => e.type === 'execution.result')!.data as any;
    t.true(Array.isArray(done.masking) && done.masking.length > 0, 'masking decisions are recorded');
    t.regex(done.rawHmacSha256, /^[0-9a-f]{64}$/);
  });
}

test('columns[] says how each column was masked; ordinary columns come back untouched', async (t) => {
  const r = await query('SELECT id, name, email, card_number, ssn FROM customers ORDER BY id LIMIT 1');
  t.is(r.status, 200);
  const cols = Object.fromEntries(r.body.columns.map((c: any) => [c.name, c]));
  t.is(cols.id.masked, false);
  t.is(cols.email.mask, 'email');
  t.is(cols.card_number.mask, 'last4');
  t.is(cols.ssn.mask, 'redact');
  const [id, name, email, card] = r.body.rows[0];
  t.is(id, 1);
  t.is(name, 'Ada Lovelace');
  t.regex(email, /@example\.com$/);
  t.not(email, 'ada.lovelace@example.com');
  t.true(String(card).endsWith('1111'));
  const orders = await query('SELECT id, total FROM orders ORDER BY id LIMIT 3');
  t.true(orders.body.columns.every((c: any) => !c.masked));
});

test('an error message that would quote a sensitive value is redacted, in the answer and the log', async (t) => {
  const r = await query('SELECT ssn::int FROM customers');
  t.is(r.status, 422);
  t.deepEqual(leaked(JSON.stringify(r.body)), []);
  const events = await gw.runtime.sessions.read(r.body.sessionId);
  t.deepEqual(leaked(JSON.stringify(events)), []);
});

test('POST /v1/analyze previews which columns would be masked', async (t) => {
  const r = await gw.post('/v1/analyze', { connection: 'main', sql: 'SELECT name, upper(email) FROM customers' }, { authorization: `Bearer ${await gw.token(BOT)}`, 'x-agent-model': 'test-model' });
  t.is(r.status, 200);
  const masked = r.body.masking.filter((m: any) => m.strategy !== null);
  t.true(masked.length >= 1);
  t.false(r.body.masking.some((m: any) => m.column === 'name' && m.strategy !== null));
});

test('a COMMIT refused with a message about sensitive data is still recorded as rolled back (the message withheld, not the outcome)', async (t) => {
  // A deferred unique constraint fails at COMMIT, and PostgreSQL's message names the key's value.
  await gw.sql('ALTER TABLE customers ADD CONSTRAINT customers_ssn_unique UNIQUE (ssn) DEFERRABLE INITIALLY DEFERRED');
  t.teardown(() => gw.sql('ALTER TABLE customers DROP CONSTRAINT customers_ssn_unique').then(() => undefined));
  const r = await gw.post(
    '/v1/query',
    { connection: 'main', sql: 'UPDATE customers SET ssn = (SELECT ssn FROM customers WHERE id = 2) WHERE id = 1' },
    { authorization: `Bearer ${await gw.token('alice@acme.com', { groups: ['dba'] })}`, 'x-agent-model': 'test-model' },
  );
  t.not(r.status, 200, JSON.stringify(r.body));
  t.deepEqual(leaked(JSON.stringify(r.body)), []);
  const events = await gw.runtime.sessions.read(r.body.sessionId);
  t.deepEqual(leaked(JSON.stringify(events)), []);
  t.deepEqual(
    events.map((e) => e.type).slice(-3),
    ['execution.started', 'execution.result', 'execution.rolled_back'],
    'the gateway knows COMMIT was refused: it says rolled_back now, not "result" until reconciliation',
  );
  t.like(events.at(-1)!.data, { reason: { code: 'execution_failed' } });
  t.regex((events.at(-1)!.data as { reason: { message: string } }).reason.message, /unique_violation \(SQLSTATE 23505\)/, 'the condition, not the server text');
  t.is((await gw.sql('SELECT count(DISTINCT ssn)::int AS n FROM customers')).rows[0].n, (await gw.sql('SELECT count(*)::int AS n FROM customers')).rows[0].n);
});
