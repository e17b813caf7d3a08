// The masker against real PostgreSQL beyond the attacks: no over-masking of ordinary data,
// detectors on columns nobody marked, derived: deny, keyed pseudonyms and digests, error messages.
import test from 'ava';
import { isGatehouseError } from '../../shared/errors.ts';
import { deriveKeys, rawResultDigest } from '../../shared/masking/keys.ts';
import { CONFIG, DESIGN_CONFIG, KEY, leaks, openFixture, type Fixture } from './fixture.ts';

const NOTES = `
  CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL, meta jsonb);
  INSERT INTO notes VALUES
    (1, 'Call Ada on +1-202-555-0199 or write to ada@personal.example.org', NULL),
    (2, 'card on file: 4242 4242 4242 4242, ssn 123-45-6789', '{"owner": {"mail": "bob@corp.example.net"}, "n": 7}'),
    (3, 'refund of 123.45 on 2024-03-01 for order 1042', '{"total": 123.45, "when": "2024-03-01"}'),
    (4, 'IBAN DE89 3704 0044 0532 0130 00, key AKIAIOSFODNN7EXAMPLE', NULL);
`;

let fx: Fixture;
test.before(async () => {
  fx = await openFixture(NOTES);
});
test.after.always(async () => {
  await fx?.close();
});

test('ordinary data comes back untouched: order totals, dates, ids, statuses, products', async (t) => {
  for (const sql of [
    'SELECT id, customer_id, total, status, created_at FROM orders ORDER BY id',
    'SELECT o.id, o.total, oi.quantity, oi.unit_price, p.sku, p.name FROM orders o JOIN order_items oi ON oi.order_id = o.id JOIN products p ON p.id = oi.product_id',
    'SELECT id, name, date_of_birth, created_at FROM customers',
    'SELECT status, count(*), sum(total), avg(total)::numeric(10,2), min(created_at) FROM orders GROUP BY status',
    "SELECT gen_random_uuid(), 42, 123.45, '2024-03-01'::text, now()::text, '550e8400-e29b-41d4-a716-446655440000'",
    'SELECT count(*) FROM customers',
    'SELECT count(email), count(DISTINCT ssn) FROM customers',
    'SELECT exists (SELECT 1 FROM customers WHERE ssn IS NULL), (SELECT count(*) FROM customers) AS n',
    'EXPLAIN SELECT email FROM customers',
    'SELECT ctid, xmin, tableoid, id FROM customers',
  ]) {
    const { raw, masked } = await fx.run(sql);
    t.deepEqual(masked.rows, raw.rows.map((r) => [...r]), sql);
    t.deepEqual(masked.decisions, [], sql);
    t.true(masked.columns.every((c) => !c.masked), sql);
  }
});

test('a column nobody marked is caught by the detectors, in text and inside JSON', async (t) => {
  const { masked } = await fx.run('SELECT id, body, meta FROM notes ORDER BY id');
  t.deepEqual(masked.rows, [
    [1, 'Call Ada on [REDACTED] or write to ***@personal.example.org', null],
    [2, 'card on file: [REDACTED], ssn [REDACTED]', { owner: { mail: '***@corp.example.net' }, n: 7 }],
    [3, 'refund of 123.45 on 2024-03-01 for order 1042', { total: 123.45, when: '2024-03-01' }],
    [4, 'IBAN [REDACTED], key [REDACTED]', null],
  ]);
  const byDetector = masked.decisions.map((d) => [d.column, d.why, d.detector, d.strategy, d.cells]);
  t.deepEqual(byDetector, [
    ['body', 'detector', 'phone', 'redact', 1],
    ['body', 'detector', 'email', 'email', 1],
    ['body', 'detector', 'card', 'redact', 1],
    ['body', 'detector', 'ssn', 'redact', 1],
    ['body', 'detector', 'iban', 'redact', 1],
    ['body', 'detector', 'secret', 'redact', 1],
    ['meta', 'detector', 'email', 'email', 1],
  ]);
  t.deepEqual(masked.columns.map((c) => [c.name, c.masked, c.mask]), [
    ['id', false, undefined],
    ['body', true, 'redact'],
    ['meta', true, 'email'],
  ]);
});

test('a literal email in a statement over no sensitive table is caught by the detector', async (t) => {
  const { masked } = await fx.run("SELECT 'someone@else.org' AS contact, 'not an address' AS other");
  t.deepEqual(masked.rows, [['***@else.org', 'not an address']]);
  t.deepEqual(masked.decisions, [{ column: 'contact', index: 0, strategy: 'email', why: 'detector', detector: 'email', cells: 1 }]);
});

test('with the documented example policy (phones not listed), phone numbers are still caught by the detector', async (t) => {
  const design = fx.masker2(DESIGN_CONFIG);
  for (const sql of ['SELECT phone FROM customers', 'SELECT name, phone FROM customer_contacts', "SELECT replace(phone, '-', '') FROM customers"]) {
    const { masked } = await fx.run(sql, design);
    t.deepEqual(leaks(fx.forbidden, masked.rows, masked.decisions), [], sql);
    t.true(masked.decisions.some((d) => d.why === 'detector' && d.detector === 'phone'), sql);
  }
});

test('derived: deny refuses lower(email) with masking_denied before anything runs, and plain email is masked as usual', async (t) => {
  const deny = fx.masker2({ ...CONFIG, derived: 'deny' });
  const error = await t.throwsAsync(deny.prepare({ connection: 't', sql: 'SELECT id, lower(email) FROM customers' }));
  t.true(isGatehouseError(error, 'masking_denied'), String(error));
  t.deepEqual((error as { details?: unknown }).details, { columns: [{ column: 'lower', index: 1, source: ['public.customers.email'] }] });
  // plan() refuses too, for a caller that did not prepare.
  const raw = await fx.target.run({ connection: 't', sql: 'SELECT md5(email) FROM customers', params: [], readOnly: true, maxRows: 5, statementTimeoutMs: 5000 });
  await t.throwsAsync(deny.plan({ connection: 't', sql: 'SELECT md5(email) FROM customers', fields: raw.fields }), { code: 'masking_denied' } as never);
  // A whole row is a derived value too.
  await t.throwsAsync(fx.run('SELECT c FROM customers c', deny), { code: 'masking_denied' } as never);

  const { masked } = await fx.run('SELECT email, lower(name) FROM customers WHERE id = 1', deny);
  t.deepEqual(masked.rows, [['***@example.com', 'ada lovelace']]);
});

test('hash pseudonyms are stable for one key (joins and group-bys work) and differ under another key', async (t) => {
  const a = await fx.run('SELECT phone FROM customers ORDER BY id');
  const again = await fx.run('SELECT phone FROM customer_contacts ORDER BY name');
  const sorted = (rows: unknown[][]) => rows.map((r) => String(r[0])).sort();
  t.is(new Set(sorted(a.masked.rows)).size, 20);
  t.deepEqual(sorted(a.masked.rows), sorted(again.masked.rows));
  const other = await fx.run('SELECT phone FROM customers ORDER BY id', fx.masker2(CONFIG, new Uint8Array(32).fill(0x17)));
  a.masked.rows.forEach((row, i) => t.not(row[0], other.masked.rows[i]![0]));
  // GROUP BY a masked column: one pseudonym per group, as the raw groups.
  const grouped = await fx.run('SELECT phone, count(*) FROM customers GROUP BY phone');
  t.is(new Set(grouped.masked.rows.map((r) => r[0])).size, grouped.raw.rows.length);
});

test('the keyed raw digest lets the key holder confirm the raw result; the log never needs the raw rows', async (t) => {
  const { raw, masked } = await fx.run('SELECT id, email, ssn FROM customers ORDER BY id LIMIT 3');
  const digest = await fx.masker.rawDigest(raw.fields, raw.rows);
  t.regex(digest, /^[0-9a-f]{64}$/);
  // The key holder recomputes it from the master key and the raw result obtained again.
  t.is(rawResultDigest(deriveKeys(KEY).digest, ['id', 'email', 'ssn'], raw.rows), digest);
  t.not(await fx.masker.rawDigest(raw.fields, masked.rows), digest);
  t.not(await fx.masker2(CONFIG, new Uint8Array(32).fill(1)).rawDigest(raw.fields, raw.rows), digest);
  t.deepEqual(leaks(fx.forbidden, digest), []);
});

test('a failed statement that reads sensitive data is answered with its condition, never the server text', async (t) => {
  const sql = 'SELECT ssn::int FROM customers';
  const error = await t.throwsAsync(fx.target.run({ connection: 't', sql, params: [], readOnly: true, maxRows: 5, statementTimeoutMs: 5000 }));
  t.regex(error!.message, /invalid input syntax for type integer: "9\d\d-\d\d-\d{4}"/); // PostgreSQL quotes the value
  const sqlstate = (error as { details?: { sqlstate?: string } }).details?.sqlstate;
  t.is(sqlstate, '22P02');
  const shown = await fx.masker.redactError({ connection: 't', sql, message: error!.message, sqlstate });
  t.true(shown.withheld);
  t.regex(shown.message, /invalid_text_representation \(SQLSTATE 22P02\)/);
  t.deepEqual(leaks(fx.forbidden, shown.message), []);
  // A view over the table counts as reading it.
  const viaView = 'SELECT email::int FROM customer_contacts';
  const e2 = await t.throwsAsync(fx.target.run({ connection: 't', sql: viaView, params: [], readOnly: true, maxRows: 5, statementTimeoutMs: 5000 }));
  const shown2 = await fx.masker.redactError({ connection: 't', sql: viaView, message: e2!.message, sqlstate: '22P02' });
  t.true(shown2.withheld);
  t.deepEqual(leaks(fx.forbidden, shown2.message), []);
  // A table with nothing sensitive keeps PostgreSQL's message (detectors still run over it).
  const e3 = await t.throwsAsync(fx.target.run({ connection: 't', sql: 'SELECT nme FROM products', params: [], readOnly: true, maxRows: 5, statementTimeoutMs: 5000 }));
  t.deepEqual(await fx.masker.redactError({ connection: 't', sql: 'SELECT nme FROM products', message: e3!.message, sqlstate: '42703' }), { message: 'column "nme" does not exist', withheld: false });
});

test('pg_stats sampled values (anyarray) are redacted whatever table they describe', async (t) => {
  await fx.admin.query('ANALYZE customers');
  const sql = "SELECT attname, most_common_vals, histogram_bounds FROM pg_stats WHERE tablename = 'customers' AND attname = 'email'";
  const { masked } = await fx.run(sql);
  // The statistics do hold the emails (read directly: the engine does not keep a masked cell this long).
  t.true(leaks(fx.forbidden, (await fx.admin.query({ text: sql, rowMode: 'array' })).rows).length > 0);
  t.deepEqual(leaks(fx.forbidden, masked.rows), []);
  t.deepEqual(masked.rows, [['email', null, '[REDACTED]']]);
});
