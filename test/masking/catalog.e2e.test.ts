// The catalog reader against real PostgreSQL: views (over views, with expressions, whole rows),
// materialized views, partitions, user functions that read tables, and the cache's refresh.
import test from 'ava';
import { createMasker } from '../../shared/masking/index.ts';
import type { CatalogReader } from '../../shared/ports.ts';
import { CONFIG, KEY, leaks, openFixture, type Fixture } from './fixture.ts';

const MORE = `
  CREATE SCHEMA crm;
  CREATE TABLE crm.customers (id int, email text);
  INSERT INTO crm.customers VALUES (1, 'not-sensitive@crm.example');
  CREATE VIEW contact_emails AS SELECT email, lower(email) AS email_lc, id FROM customer_contacts JOIN customers USING (name, email, phone);
  CREATE VIEW contact_emails_2 AS SELECT e.email_lc AS x, e.id FROM contact_emails e;
  CREATE VIEW customer_rows AS SELECT c AS whole, c.id FROM customers c;
  CREATE MATERIALIZED VIEW card_report AS SELECT id, card_number, ssn || '' AS ssn_copy FROM customers;
  CREATE TABLE people (id int NOT NULL, email text NOT NULL) PARTITION BY RANGE (id);
  CREATE TABLE people_low PARTITION OF people FOR VALUES FROM (0) TO (100);
  INSERT INTO people SELECT id, email FROM customers;
  CREATE FUNCTION email_of(int) RETURNS text LANGUAGE sql STABLE AS 'SELECT email FROM customers WHERE id = $1';
  CREATE FUNCTION all_customers() RETURNS SETOF customers LANGUAGE sql STABLE AS 'SELECT * FROM customers';
  CREATE VIEW through_function AS SELECT * FROM all_customers();
`;

let now = 1_000_000;
let fx: Fixture;
test.before(async () => {
  // The partitioned table's entry names the parent only.
  const config = { ...CONFIG, columns: { ...CONFIG.columns, 'public.people.email': 'email' as const } };
  fx = await openFixture(MORE, { maxAgeMs: 60_000, clock: () => now, config });
});
test.after.always(async () => {
  await fx?.close();
});

test('describe: a table by OID, with its columns; a view with each column resolved to base columns', async (t) => {
  const { rows } = await fx.admin.query<{ c: number; v: number }>("SELECT 'customers'::regclass::oid::int AS c, 'customer_contacts'::regclass::oid::int AS v");
  const { c, v } = rows[0]!;
  const infos = await fx.catalog.describe('t', [c, v, 999_999_999]);
  t.is(infos.size, 2);
  const table = infos.get(c)!;
  t.like(table, { schema: 'public', name: 'customers', kind: 'table' });
  t.deepEqual([...table.columns.values()], ['id', 'name', 'email', 'phone', 'ssn', 'card_number', 'date_of_birth', 'created_at']);
  const view = infos.get(v)!;
  t.is(view.kind, 'view');
  t.deepEqual([...view.viewColumns!.entries()], [
    [1, { sources: ['public.customers.name'], derived: false, failClosed: false, opaque: false }],
    [2, { sources: ['public.customers.email'], derived: false, failClosed: false, opaque: false }],
    [3, { sources: ['public.customers.phone'], derived: false, failClosed: false, opaque: false }],
  ]);
});

test('lookup: a bare name finds that relation in every schema; a qualified one only its own', async (t) => {
  const found = await fx.catalog.lookup('t', ['customers', 'crm.customers', 'no_such_table']);
  t.deepEqual(found.get('customers')!.map((r) => `${r.schema}.${r.name}`).sort(), ['crm.customers', 'public.customers']);
  t.deepEqual(found.get('crm.customers')!.map((r) => `${r.schema}.${r.name}`), ['crm.customers']);
  t.deepEqual(found.get('no_such_table'), []);
});

test('views over views: expressions stay derived through every level', async (t) => {
  const { rows } = await fx.admin.query<{ v: number }>("SELECT 'contact_emails_2'::regclass::oid::int AS v");
  const info = (await fx.catalog.describe('t', [rows[0]!.v])).get(rows[0]!.v)!;
  t.deepEqual(info.viewColumns!.get(1), { sources: ['public.customers.email'], derived: true, failClosed: false, opaque: false });
  t.deepEqual(info.viewColumns!.get(2)!.sources, ['public.customers.id']);

  const { masked } = await fx.run('SELECT x, id FROM contact_emails_2 ORDER BY id');
  t.is(masked.rows[0]![0], '[REDACTED]'); // lower(email): derived, so the email strategy becomes redact
  t.is(masked.rows[0]![1], 1);
  t.deepEqual(masked.decisions.map((d) => [d.column, d.strategy, d.why, d.source]), [['x', 'redact', 'provenance', ['public.customers.email']]]);
  t.deepEqual(leaks(fx.forbidden, masked.rows), []);
});

test('a view column holding a whole row carries every sensitive column', async (t) => {
  const { masked } = await fx.run('SELECT whole, id FROM customer_rows');
  t.true(masked.rows.every((r) => r[0] === '[REDACTED]'));
  t.deepEqual(masked.decisions[0]!.source, ['public.customers.card_number', 'public.customers.email', 'public.customers.phone', 'public.customers.ssn']);
  t.false(masked.columns[1]!.masked);
});

test('a materialized view resolves like a view: stored copies are masked as their sources', async (t) => {
  const { masked } = await fx.run('SELECT id, card_number, ssn_copy FROM card_report ORDER BY id');
  t.deepEqual(masked.rows[0], [1, '••••1111', '[REDACTED]']);
  t.deepEqual(leaks(fx.forbidden, masked.rows), []);
});

test('a partition is masked by its parent table entry', async (t) => {
  const { masked } = await fx.run('SELECT email FROM people_low ORDER BY id LIMIT 1');
  t.deepEqual(masked.rows, [['***@example.com']]);
  t.deepEqual(masked.decisions[0]!.source, ['public.people.email']);
});

test('the same table name in a schema without a policy entry is not masked by provenance', async (t) => {
  const { masked } = await fx.run('SELECT id FROM crm.customers');
  t.deepEqual(masked.decisions, []);
});

test('a user function that reads tables is opaque: its result is masked (fail closed)', async (t) => {
  for (const sql of ['SELECT email_of(1)', 'SELECT * FROM all_customers()', 'SELECT email FROM through_function']) {
    const { raw, masked } = await fx.run(sql);
    t.true(leaks(fx.forbidden, raw.rows).length > 0, sql);
    t.deepEqual(leaks(fx.forbidden, masked.rows, masked.decisions), [], sql);
    t.true(masked.decisions.every((d) => d.why === 'fail-closed'), sql);
  }
  t.deepEqual([...(await fx.catalog.userFunctions('t', ['email_of', 'lower', 'all_customers']))].sort(), ['all_customers', 'email_of']);
});

test.serial('a relation created after the cache was filled is seen: its unknown OID refreshes the cache', async (t) => {
  await fx.run('SELECT id FROM orders');
  await fx.admin.query('CREATE VIEW late_view AS SELECT ssn AS s FROM customers');
  const { masked } = await fx.run('SELECT s FROM late_view');
  t.true(masked.rows.every((r) => r[0] === '[REDACTED]'));
  t.is(masked.decisions[0]!.why, 'provenance');
});

test.serial('a view replaced in place (same OID) is re-read once its cache entry is older than maxAgeMs', async (t) => {
  await fx.admin.query('CREATE VIEW swap_view AS SELECT id, name AS label FROM customers');
  const before = await fx.run('SELECT label FROM swap_view ORDER BY id LIMIT 1');
  t.deepEqual(before.masked.rows, [['Ada Lovelace']]);
  await fx.admin.query('CREATE OR REPLACE VIEW swap_view AS SELECT id, email AS label FROM customers');
  now += 61_000;
  const after = await fx.run('SELECT label FROM swap_view ORDER BY id LIMIT 1');
  t.deepEqual(after.masked.rows, [['***@example.com']]);
});

test('after prepare(), plan() asks the catalog nothing: it runs while the statement holds its connection', async (t) => {
  const calls: string[] = [];
  const counting: CatalogReader = {
    describe: (c, oids) => (calls.push('describe'), fx.catalog.describe(c, oids)),
    lookup: (c, names) => (calls.push('lookup'), fx.catalog.lookup(c, names)),
    userFunctions: (c, names) => (calls.push('userFunctions'), fx.catalog.userFunctions(c, names)),
  };
  const masker = createMasker({ config: CONFIG, catalog: counting, hashKey: async () => KEY });
  const sql = 'SELECT c.email, v.phone, o.total, c FROM customers c JOIN customer_contacts v USING (email) JOIN orders o ON o.customer_id = c.id';
  const prepared = await masker.prepare({ connection: 't', sql });
  t.true(calls.length > 0);
  calls.length = 0;
  const raw = await fx.target.run({ connection: 't', sql, params: [], readOnly: true, maxRows: 5, statementTimeoutMs: 5000 });
  const plan = await masker.plan({ connection: 't', sql, fields: raw.fields, prepared });
  t.deepEqual(calls, []);
  t.deepEqual(plan.columns.map((c) => [c.strategy, c.why]), [['email', 'provenance'], ['hash', 'provenance'], [null, undefined], ['redact', 'provenance']]);
});
