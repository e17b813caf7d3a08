// Lineage from the parse tree alone, construct by construct. Each output is summarised as
// `sources` (relation.column as written) and flags: D derived, A ambiguous, U unknown, O opaque.
import test from 'ava';
import { alignOutputs, statementOutputs, type LineageOptions } from '../../shared/masking/lineage.ts';
import { loadParser } from '../../shared/sql/index.ts';
import { parseOne } from '../../shared/sql/parse.ts';

test.before(async () => {
  await loadParser();
});

type Summary = string | [string, string];

function lineage(sql: string, options?: LineageOptions): Summary[] | string {
  const { pgType, node } = parseOne(sql);
  const outs = statementOutputs(pgType, node, options);
  if (typeof outs === 'string') return outs;
  return outs.map((o) => {
    const l = o.lineage;
    const flags = `${l.derived ? 'D' : ''}${l.ambiguous ? 'A' : ''}${l.unknown ? 'U' : ''}${l.opaque ? 'O' : ''}${o.single ? '' : '*'}`;
    const sources = l.sources.map((s) => `${s.relation}.${s.column}`).sort().join(' ');
    return flags ? [sources, flags] : sources;
  });
}

const CUSTOMER_COLUMNS = ['id', 'name', 'email', 'phone', 'ssn', 'card_number', 'date_of_birth', 'created_at'];
const catalog: LineageOptions = {
  columnsOf: (rel) => (rel === 'customers' ? CUSTOMER_COLUMNS : rel === 'orders' ? ['id', 'customer_id', 'total', 'status', 'created_at'] : undefined),
  isOpaque: (name) => name === 'secret_lookup',
};

test('plain references, aliases and qualified names', (t) => {
  t.deepEqual(lineage('SELECT email, c.ssn AS s, public.customers.phone FROM public.customers, customers c'), [
    'customers.email public.customers.email',
    'customers.ssn',
    'public.customers.phone',
  ]);
});

test('expressions: functions, casts, ||, CASE (conditions included), COALESCE, operators', (t) => {
  t.deepEqual(lineage("SELECT lower(email), ssn::int, email || 'x', CASE WHEN ssn LIKE '9%' THEN 'a' ELSE 'b' END, coalesce(card_number, ''), id + 1 FROM customers"), [
    ['customers.email', 'D'],
    ['customers.ssn', 'D'],
    ['customers.email', 'D'],
    ['customers.ssn', 'D'],
    ['customers.card_number', 'D'],
    ['customers.id', 'D'],
  ]);
});

test('aggregates carry their arguments; count and IS NULL carry no value; WITHIN GROUP carries its ORDER BY', (t) => {
  t.deepEqual(
    lineage('SELECT count(*), count(email), max(ssn), string_agg(phone, \',\' ORDER BY email), array_agg(card_number), email IS NULL, percentile_disc(0.5) WITHIN GROUP (ORDER BY ssn) FROM customers'),
    ['', '', ['customers.ssn', 'D'], ['customers.phone', 'D'], ['customers.card_number', 'D'], '', ['customers.ssn', 'D']],
  );
});

test('JSON builders and whole-row references carry every column of the row', (t) => {
  t.deepEqual(lineage("SELECT to_json(email), row_to_json(c), json_agg(c.*), json_build_object('e', email), c, customers FROM customers c, customers"), [
    ['customers.email', 'D'],
    ['customers.* customers.c', 'D'], // the row c, or a column named c: either way every column
    ['customers.*', 'D'],
    ['customers.email', 'D'],
    ['customers.* customers.c', 'D'],
    ['customers.* customers.customers', 'D'],
  ]);
});

test('(c).email is that column; with the catalog, an unqualified name depends only on the tables that have it', (t) => {
  t.deepEqual(lineage('SELECT (c).email, total FROM customers c JOIN orders o ON o.customer_id = c.id', catalog), ['customers.email', 'orders.total']);
  t.deepEqual(lineage('SELECT total FROM customers JOIN orders ON true'), ['customers.total orders.total']);
});

test('scalar subqueries, ARRAY(), EXISTS and IN', (t) => {
  t.deepEqual(lineage('SELECT (SELECT email FROM customers LIMIT 1), ARRAY(SELECT ssn FROM customers), EXISTS (SELECT email FROM customers), 1 IN (SELECT id FROM customers)'), [
    'customers.email',
    ['customers.ssn', 'D'],
    '',
    ['customers.id', 'D'],
  ]);
  t.deepEqual(lineage('SELECT (SELECT c.email) FROM customers c'), ['customers.email']);
});

test('CTEs (renaming columns), subqueries, SELECT * through them', (t) => {
  t.deepEqual(lineage('WITH x(a, b) AS (SELECT email, ssn FROM customers) SELECT b, upper(a) FROM x'), ['customers.ssn', ['customers.email', 'D']]);
  t.deepEqual(lineage('SELECT ssn FROM (SELECT * FROM customers) s'), ['customers.ssn']);
  t.deepEqual(lineage('WITH w AS (SELECT email FROM customers) SELECT (SELECT md5(email) FROM w LIMIT 1)'), [['customers.email', 'D']]);
  // A CTE shadows a table of the same name.
  t.deepEqual(lineage('WITH customers AS (SELECT 1 AS email) SELECT email FROM customers'), ['']);
});

test('recursive CTEs reach a fixpoint', (t) => {
  t.deepEqual(lineage('WITH RECURSIVE r(n, e) AS (SELECT 1, email FROM customers UNION ALL SELECT n + 1, lower(e) FROM r WHERE n < 3) SELECT n, e FROM r'), [
    ['', 'D'],
    ['customers.email', 'D'],
  ]);
});

test('UNION, INTERSECT, EXCEPT: column i depends on column i of every arm', (t) => {
  t.deepEqual(lineage("SELECT email, id FROM customers UNION SELECT name, 1 FROM products EXCEPT SELECT 'x', 2"), ['customers.email products.name', 'customers.id']);
  t.deepEqual(lineage('SELECT email FROM customers INTERSECT SELECT lower(ssn) FROM customers'), [['customers.email customers.ssn', 'D']]);
});

test('VALUES, VALUES joins and LATERAL', (t) => {
  t.deepEqual(lineage("SELECT v.a, c.ssn FROM customers c JOIN (VALUES (1, 'x')) v(id, a) ON v.id = c.id"), ['', 'customers.ssn']);
  t.deepEqual(lineage('VALUES ((SELECT email FROM customers LIMIT 1), 1)'), ['customers.email', '']);
  t.deepEqual(lineage('WITH x AS (SELECT ssn FROM customers) VALUES ((SELECT ssn FROM x LIMIT 1))'), ['customers.ssn']);
  t.deepEqual(lineage('SELECT l.e FROM customers c, LATERAL (SELECT c.email AS e) l'), ['customers.email']);
  // Without the catalog, `s` could also be a column of customers.
  t.deepEqual(lineage('SELECT s FROM customers c, LATERAL unnest(ARRAY[c.email, c.ssn]) s'), [['customers.email customers.s customers.ssn', 'D']]);
  t.deepEqual(lineage('SELECT s FROM customers c, LATERAL unnest(ARRAY[c.email, c.ssn]) s', catalog), [['customers.email customers.ssn', 'D']]);
});

test('SELECT * without the catalog is one item of unknown width; with it, one column each', (t) => {
  t.deepEqual(lineage('SELECT * FROM customers'), [['customers.*', 'A*']]);
  t.deepEqual(lineage('SELECT * FROM customers', catalog), CUSTOMER_COLUMNS.map((c) => `customers.${c}`));
  t.deepEqual(lineage('SELECT * FROM customers UNION ALL SELECT * FROM customers', catalog), CUSTOMER_COLUMNS.map((c) => `customers.${c}`));
  // USING merges the join columns first.
  t.deepEqual(lineage('SELECT * FROM customers JOIN orders USING (id)', catalog).slice(0, 3), ['customers.id orders.id', 'customers.name', 'customers.email']);
  // A column alias list hides which column a renamed name is.
  t.deepEqual(lineage('SELECT lower(x3) FROM customers c(x1, x2, x3)'), [['customers.*', 'DA']]);
});

test('alignment places known columns from both ends of a `*` of unknown width', (t) => {
  const { pgType, node } = parseOne("SELECT 'a', *, lower(email) FROM customers");
  const aligned = alignOutputs(statementOutputs(pgType, node), 10);
  t.deepEqual(aligned[0]!.sources, []);
  t.deepEqual(aligned[9]!.sources, [{ relation: 'customers', column: 'email' }]);
  for (let i = 1; i < 9; i++) t.deepEqual(aligned[i]!.sources, [{ relation: 'customers', column: '*' }]);
  // A shape that contradicts the wire is unknown, not guessed.
  t.true(alignOutputs(statementOutputs(pgType, node), 1).every((l) => l.unknown));
});

test('functions: user functions are opaque, schema-qualified non-catalog ones always', (t) => {
  t.deepEqual(lineage('SELECT secret_lookup(1), lower(name), public.anything(id) FROM customers', catalog), [
    ['', 'DUO'],
    ['customers.name', 'D'],
    ['customers.id', 'DUO'],
  ]);
  t.deepEqual(lineage('SELECT * FROM secret_lookup()', catalog), [['', 'DAUO*']]);
});

test('RETURNING, EXPLAIN, SHOW, and statements whose output cannot be traced', (t) => {
  t.deepEqual(lineage('UPDATE customers SET name = name RETURNING email, lower(ssn)'), ['customers.email', ['customers.ssn', 'D']]);
  t.deepEqual(lineage('DELETE FROM orders o USING customers c WHERE c.id = o.customer_id RETURNING c.card_number'), ['customers.card_number']);
  t.is(lineage('EXPLAIN SELECT email FROM customers'), 'no-values');
  t.is(lineage('SHOW search_path'), 'no-values');
  t.is(lineage('FETCH ALL FROM c'), 'unknown');
});

test('unknown names fail closed', (t) => {
  t.deepEqual(lineage('SELECT nosuch.email FROM customers'), [['', 'U']]);
  t.deepEqual(lineage("SELECT x FROM (VALUES ('a')) v(y)"), [['', 'U']]);
});
