// Can an agent get the seeded PII out, in any form? Each query runs through the real statement
// path (createTargetDatabase) against real PostgreSQL, then the masker, exactly as the gateway
// will; none of the seeded emails, phones, SSNs or card numbers — nor their local parts, digit
// forms, reversals, hex, base64 or md5 — may appear in the masked rows or in the decisions, and
// the columns that carry them must be reported masked.
import test from 'ava';
import { statementOutputs } from '../../shared/masking/lineage.ts';
import { loadParser, parseOne } from '../../shared/sql/parse.ts';
import { CONFIG, leaks, openFixture, type Fixture } from './fixture.ts';

let fx: Fixture;
test.before(async () => {
  fx = await openFixture();
});
test.after.always(async () => {
  await fx?.close();
});

/** `concat(f(substr(col, 1, 1)), …, f(substr(col, n, 1)))`: a value rebuilt one character at a time. */
function spelled(column: string, n: number, f: (char: string) => string): string {
  return `concat(${Array.from({ length: n }, (_, i) => f(`substr(${column}, ${i + 1}, 1)`)).join(', ')})`;
}

/** [sql, indexes of the output columns that must be reported masked] */
const ATTACKS: readonly (readonly [string, readonly number[]])[] = [
  // plain references, aliases, stars
  ['SELECT email AS e FROM customers', [0]],
  ['SELECT c.email AS contact, c.ssn AS s FROM customers AS c', [0, 1]],
  ['SELECT * FROM customers', [2, 3, 4, 5]],
  ['TABLE customers', [2, 3, 4, 5]],
  ['SELECT c.* FROM customers c', [2, 3, 4, 5]],
  ['SELECT ssn FROM public.customers', [0]],
  ['SELECT "email" FROM "customers"', [0]],
  // joins, CTEs, subqueries, the view
  ['SELECT c.email, o.total FROM customers c JOIN orders o ON o.customer_id = c.id', [0]],
  ['WITH x AS (SELECT email FROM customers) SELECT email FROM x', [0]],
  ['WITH x(a, b) AS (SELECT email, ssn FROM customers) SELECT a, b FROM x', [0, 1]],
  ['SELECT e FROM (SELECT email AS e FROM customers) s', [0]],
  ['SELECT ssn FROM (SELECT * FROM customers) s', [0]],
  ['SELECT * FROM customer_contacts', [1, 2]],
  ['SELECT upper(email), reverse(phone) FROM customer_contacts', [0, 1]],
  ['SELECT (SELECT email FROM customers c2 WHERE c2.id = o.customer_id) FROM orders o', [0]],
  ['SELECT c2.ssn FROM orders o JOIN LATERAL (SELECT * FROM customers c WHERE c.id = o.customer_id) c2 ON true', [0]],
  ['SELECT l.e FROM customers c, LATERAL (SELECT c.email AS e) l', [0]],
  ['SELECT s FROM customers c, LATERAL unnest(ARRAY[c.email, c.ssn, c.card_number]) s', [0]],
  // string functions
  ['SELECT lower(email), upper(ssn) FROM customers', [0, 1]],
  ['SELECT substr(card_number, 1, 12), substring(card_number from 5) FROM customers', [0, 1]],
  ['SELECT left(ssn, 6), right(card_number, 12) FROM customers', [0, 1]],
  ['SELECT reverse(email), reverse(card_number) FROM customers', [0, 1]],
  ["SELECT replace(ssn, '-', ''), replace(phone, '-', '') FROM customers", [0, 1]],
  ["SELECT concat(email, ''), concat_ws('/', ssn, card_number) FROM customers", [0, 1]],
  ["SELECT format('%s|%s', email, ssn) FROM customers", [0]],
  ["SELECT email || '', '' || card_number FROM customers", [0, 1]],
  ["SELECT translate(ssn, '0123456789', 'abcdefghij') FROM customers", [0]],
  ["SELECT overlay(card_number placing 'xxxx' from 1 for 4) FROM customers", [0]],
  ["SELECT split_part(email, '@', 1) FROM customers", [0]],
  ["SELECT regexp_replace(phone, '\\D', '', 'g') FROM customers", [0]],
  ["SELECT string_to_array(ssn, '-') FROM customers", [0]],
  ['SELECT lower(email COLLATE "C"), pg_catalog.lower(email) FROM customers', [0, 1]],
  // casts, digests, encodings
  ['SELECT card_number::text, card_number::bigint, ssn::bytea FROM customers', [0, 1, 2]],
  ['SELECT md5(email) FROM customers', [0]],
  ["SELECT encode(convert_to(email, 'UTF8'), 'base64'), encode(convert_to(ssn, 'UTF8'), 'hex') FROM customers", [0, 1]],
  ["SELECT convert_to(email, 'UTF8') FROM customers", [0]],
  // JSON, arrays, aggregates
  ['SELECT to_json(email), to_jsonb(ssn) FROM customers', [0, 1]],
  ['SELECT row_to_json(c) FROM customers c', [0]],
  ['SELECT json_agg(c) FROM customers c', [0]],
  ["SELECT json_build_object('e', email, 's', ssn) FROM customers", [0]],
  ['SELECT jsonb_build_array(phone, card_number) FROM customers', [0]],
  ['SELECT json_object_agg(email, id) FROM customers', [0]],
  ["SELECT jsonb_path_query(to_jsonb(c), '$.email') FROM customers c", [0]],
  ['SELECT array_agg(card_number) FROM customers', [0]],
  ["SELECT string_agg(phone, ',') FROM customers", [0]],
  ['SELECT to_jsonb(array_agg(ssn)) FROM customers', [0]],
  ['SELECT ARRAY(SELECT phone FROM customers)', [0]],
  ['SELECT min(card_number), max(ssn) FROM customers', [0, 1]],
  ['SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY ssn), mode() WITHIN GROUP (ORDER BY email) FROM customers', [0, 1]],
  ['SELECT x FROM unnest(ARRAY(SELECT card_number FROM customers)) AS u(x)', [0]],
  ['SELECT xmlelement(name x, email)::text FROM customers', [0]],
  // CASE, COALESCE, set operations, VALUES
  ['SELECT CASE WHEN id > 0 THEN ssn END FROM customers', [0]],
  ["SELECT coalesce(ssn, 'none'), greatest(email, ''), nullif(card_number, '') FROM customers", [0, 1, 2]],
  ['SELECT name FROM products UNION ALL SELECT email FROM customers', [0]],
  ['SELECT 1 AS k, email FROM customers INTERSECT SELECT 1, email FROM customers', [1]],
  ["SELECT email FROM customers EXCEPT SELECT 'x'", [0]],
  ['SELECT * FROM customers UNION ALL SELECT * FROM customers', [2, 3, 4, 5]],
  ["SELECT v.label, c.ssn FROM customers c JOIN (VALUES (1, 'a'), (2, 'b')) v(id, label) ON v.id = c.id", [1]],
  ['VALUES ((SELECT email FROM customers ORDER BY id LIMIT 1))', [0]],
  // whole rows
  ['SELECT c FROM customers c', [0]],
  ['SELECT c::text FROM customers c', [0]],
  ['SELECT (c).email, (c).card_number FROM customers c', [0, 1]],
  ['SELECT email(c) FROM customers c', [0]],
  ['SELECT customers FROM customers', [0]],
  // windows, grouping, recursion, DISTINCT
  ['SELECT email, row_number() OVER (ORDER BY email) FROM customers', [0]],
  ['SELECT lag(ssn) OVER (ORDER BY id), first_value(card_number) OVER () FROM customers', [0, 1]],
  ['SELECT email, count(*) FROM customers GROUP BY email', [0]],
  ['SELECT DISTINCT ON (id) email FROM customers', [0]],
  ['WITH RECURSIVE r(n, e) AS (SELECT 1, email FROM customers UNION ALL SELECT n + 1, e FROM r WHERE n < 2) SELECT e FROM r', [0]],
  ['SELECT * FROM (SELECT email FROM customers) a NATURAL JOIN (SELECT email FROM customers) b', [0]],
  // subscripts: the index picks an element of a constant, so the element spells the masked value
  [`SELECT ${spelled('ssn', 11, (c) => `('{0,1,2,3,4,5,6,7,8,9}'::text[])[ascii(${c}) - 47]`)} FROM customers`, [0]],
  [`SELECT ${spelled('card_number', 16, (c) => `array_to_string((ARRAY['0','1','2','3','4','5','6','7','8','9'])[ascii(${c}) - 47:ascii(${c}) - 47], '')`)} FROM customers`, [0]],
  [`SELECT ${spelled('ssn', 11, (c) => `('{"0":"0","1":"1","2":"2","3":"3","4":"4","5":"5","6":"6","7":"7","8":"8","9":"9"}'::jsonb)[${c}] ->> 0`)} FROM customers`, [0]],
  [`SELECT ${spelled('ssn', 11, (c) => `(d.a)[ascii(${c}) - 47]`)} FROM customers, (SELECT '{0,1,2,3,4,5,6,7,8,9}'::text[] AS a) d`, [0]],
  // a CTE's SEARCH and CYCLE columns hold the searched (cycle) columns' values; a function in FROM
  // could otherwise be taken for where the name comes from
  ["WITH RECURSIVE r AS (SELECT id, encode(convert_to(ssn, 'UTF8'), 'hex') AS h FROM customers UNION ALL SELECT id, h FROM r WHERE false) SEARCH DEPTH FIRST BY h SET ord SELECT ord FROM r, generate_series(1, 1) g", [0]],
  ['WITH RECURSIVE r AS (SELECT id, email FROM customers UNION ALL SELECT id, email FROM r WHERE false) CYCLE email SET m USING p SELECT p FROM r, generate_series(1, 1) g', [0]],
  // WITH RECURSIVE: a CTE may read one defined after it
  ["WITH RECURSIVE a AS (SELECT x || '' AS u FROM b), b AS (SELECT encode(convert_to(ssn, 'UTF8'), 'hex') AS x FROM customers) SELECT u FROM a", [0]],
  // IS NULL of a computed value is any condition over it: it spells the value out as CASE does
  [`SELECT ${spelled('ssn', 11, (c) => `array_position(ARRAY[${[...'0123456789'].map((d) => `nullif(${c}, '${d}') IS NULL`).join(', ')}], true) - 1`)} FROM customers`, [0]],
  // a join's alias can rename its columns: j.x5 is c.ssn
  ["SELECT j.x5 || '' FROM (customers c JOIN orders o ON o.customer_id = c.id) AS j(a, b, c2, d, x5)", [0]],
  ["SELECT x5 || '' FROM (SELECT * FROM (customers c JOIN orders o ON o.customer_id = c.id) AS j(a, b, c2, d, x5)) s, generate_series(1, 1) g", [0]],
  // `(c).*` in an output list is every column of c, not one column named c
  ["SELECT ssn || '' FROM (SELECT (c).* FROM customers c) s, generate_series(1, 1) g", [0]],
  ["SELECT email || '' FROM (SELECT (x).* FROM (SELECT c AS x FROM customers c) q) s, generate_series(1, 1) g", [0]],
  // a subquery in FROM without LATERAL cannot see the FROM items beside it: t is the outer query's
  ["SELECT (SELECT x FROM products t, (SELECT t.v || '' AS x) q LIMIT 1) FROM (SELECT ssn AS v FROM customers) t", [0]],
  ["SELECT (SELECT x FROM products t, (SELECT t.email || '' AS x) q LIMIT 1) FROM customers t", [0]],
  // attribute notation on a join's alias is a function of the join's whole row
  ['SELECT j.to_jsonb FROM (customers c CROSS JOIN orders o) AS j', [0]],
  ['SELECT (j).row_to_json::text FROM (customers c CROSS JOIN orders o) AS j', [0]],
  // … and on a subquery's: one output whose name is not worked out must not stand for the row
  ['SELECT s.to_jsonb FROM (SELECT upper(name), ssn FROM customers) s', [0]],
  ["SELECT s.x || '' FROM (SELECT f.*, c.name AS x FROM customers c, jsonb_to_record(to_jsonb(c)) AS f(ssn text)) s(x, y)", [0]],
  ["SELECT s.upper || '' FROM (SELECT f.*, upper(c.name) FROM customers c, jsonb_to_record(to_jsonb(c)) AS f(ssn text)) s(upper, y)", [0]],
  // an alias on a join hides the names of the tables inside it: t is the outer query's again
  ["SELECT (SELECT t.v || '' FROM (products t CROSS JOIN orders o) AS j LIMIT 1) FROM (SELECT ssn AS v FROM customers) t", [0]],
  // round trips through other representations
  ['SELECT * FROM ROWS FROM (jsonb_to_recordset((SELECT jsonb_agg(c) FROM customers c))) AS x(email text, ssn text)', [0, 1]],
  ['SELECT key, value FROM customers c, jsonb_each_text(to_jsonb(c))', [1]],
  ['SELECT (VALUES (c.email)) FROM customers c', [0]],
  ["SELECT to_tsvector('simple', email)::text FROM customers", [0]],
  ["SELECT (xpath('/a/text()', xmlelement(name a, ssn)))[1]::text FROM customers", [0]],
  ["SELECT array_to_string(array_agg(ssn), ',') FROM customers", [0]],
  ['SELECT email FROM customers TABLESAMPLE SYSTEM (100)', [0]],
  ['SELECT customers.email FROM (SELECT upper(email) AS email FROM customers) customers', [0]],
];

test(`${ATTACKS.length} attack queries: no seeded value leaks, and the columns are reported masked`, async (t) => {
  t.true(ATTACKS.length >= 30);
  t.true(fx.forbidden.length > 100);
  const rawLeaks: string[] = [];
  for (const [sql, expected] of ATTACKS) {
    const { raw, plan, masked } = await fx.run(sql);
    t.true(raw.rows.length > 0, `${sql}: returned no rows`);
    // What the database returns, read directly: the engine no longer keeps a masked cell longer
    // than its byte-budget cost (json_agg of every row), so its raw rows are not the control.
    const direct = await fx.admin.query({ text: sql, rowMode: 'array', types: { getTypeParser: () => (text: string) => text } as never });
    if (leaks(fx.forbidden, direct.rows).length === 0) rawLeaks.push(sql);
    t.deepEqual(leaks(fx.forbidden, masked.rows, masked.decisions, plan), [], `${sql}: leaked`);
    for (const i of expected) {
      t.true(masked.columns[i]?.masked, `${sql}: column ${i} (${raw.fields[i]?.name}) not reported masked`);
      t.true(
        masked.decisions.some((d) => d.index === i),
        `${sql}: no decision for column ${i}`,
      );
    }
  }
  // Without masking, the checks above would have fired: the raw results hold the PII in a
  // recognisable form, except where the query itself scrambles it beyond the forms checked.
  t.deepEqual(rawLeaks, [
    "SELECT translate(ssn, '0123456789', 'abcdefghij') FROM customers",
    "SELECT string_to_array(ssn, '-') FROM customers",
  ]);
});

test('ORDER BY and WHERE on a sensitive column leave the output unmasked: no value reaches it', async (t) => {
  const { raw, masked } = await fx.run("SELECT id FROM customers WHERE email LIKE '%@example.com' ORDER BY email");
  t.deepEqual(masked.rows, raw.rows.map((r) => [...r]));
  t.deepEqual(masked.decisions, []);
  t.false(masked.columns[0]!.masked);
});

test('the masked forms are the policy strategies: email keeps the domain, last4 the last four digits, hash a pseudonym', async (t) => {
  const { masked } = await fx.run('SELECT email, ssn, card_number, phone FROM customers WHERE id = 1');
  t.deepEqual(masked.rows, [['***@example.com', '[REDACTED]', '••••1111', masked.rows[0]![3]]]);
  t.regex(String(masked.rows[0]![3]), /^h:[0-9a-f]{16}$/);
  t.deepEqual(
    masked.decisions.map((d) => [d.column, d.strategy, d.why, d.source, d.cells]),
    [
      ['email', 'email', 'provenance', ['public.customers.email'], 1],
      ['ssn', 'redact', 'provenance', ['public.customers.ssn'], 1],
      ['card_number', 'last4', 'provenance', ['public.customers.card_number'], 1],
      ['phone', 'hash', 'provenance', ['public.customers.phone'], 1],
    ],
  );
});

test('a derived value of a partially masked or hashed column is redacted whole: no part of it is chosen by the query', async (t) => {
  const { masked } = await fx.run('SELECT reverse(email), substr(card_number, 1, 4), lower(phone) FROM customers WHERE id = 1');
  t.is(masked.rows[0]![0], '[REDACTED]');
  t.is(masked.rows[0]![1], '[REDACTED]');
  t.is(masked.rows[0]![2], '[REDACTED]'); // a pseudonym of a chosen part would be a codebook entry
  t.deepEqual(masked.decisions.map((d) => d.why), ['lineage', 'lineage', 'lineage']);
});

test('a whole-row reference reports every sensitive column of its table as its source', async (t) => {
  const { masked } = await fx.run('SELECT c FROM customers c WHERE id = 1');
  t.is(masked.rows[0]![0], '[REDACTED]');
  t.deepEqual(masked.decisions[0]!.source, ['public.customers.card_number', 'public.customers.email', 'public.customers.phone', 'public.customers.ssn']);
  t.is(masked.decisions[0]!.why, 'provenance');
});

test('a hashed column cannot be decoded one character at a time: a derived value is not pseudonymised under the column\'s key', async (t) => {
  // Pseudonyms of chosen characters (derived from phone, so masked with its strategy) next to
  // pseudonyms of each character of the phone: with equal pseudonyms for equal text, one answer is
  // a codebook and every phone number reads off it.
  const chars = [...'0123456789+-'];
  const codebook = chars.map((ch) => `concat(substr(phone, 1, 0), '${ch}')`);
  const positions = Array.from({ length: 15 }, (_, i) => `substr(phone, ${i + 1}, 1)`);
  const { raw, masked } = await fx.run(`SELECT ${[...codebook, ...positions].join(', ')} FROM customers ORDER BY id`, fx.masker2({ ...CONFIG, detectors: [] }));
  const decode = (row: readonly unknown[]) => {
    const table = new Map(chars.map((ch, i) => [row[i], ch]));
    return row.slice(chars.length).map((v) => table.get(v) ?? '?').join('');
  };
  t.true(raw.rows.length > 0 && leaks(fx.forbidden, raw.rows.map(decode)).length > 0, 'the decoding works on the raw answer');
  t.deepEqual(leaks(fx.forbidden, masked.rows.map(decode)), []);
});

test('lineage names an unaliased output as PostgreSQL does, where it names it at all', async (t) => {
  // ORDER BY and DISTINCT ON take a bare name for an output column's first, and s.x looks for an
  // output named x: a wrong name there is a wrong source.
  const sql =
    "SELECT 1, 1::int, 'x'::text, greatest(1, 2), least(1, 2), (1, 2), ARRAY[1], CASE WHEN true THEN 1 END, CASE WHEN true THEN 1 END::text, " +
    'nullif(1, 1), 1 IN (SELECT 1), EXISTS (SELECT 1), ARRAY(SELECT 1), coalesce(1, 2), 1 + 1, (1 + 1)::numeric, true AND false, NULL IS NULL, ' +
    'true IS TRUE, grouping(id), upper(name), name::varchar(3), (c).name, c.name COLLATE "C", 1 = ANY (SELECT 1), (ARRAY[1])[1], row(1)::text, ' +
    "id::text, CASE WHEN true THEN ssn ELSE name END, CASE WHEN true THEN ssn ELSE 'x' END, CASE WHEN true THEN 'a' ELSE upper(name) END::text, " +
    'ARRAY[1]::text FROM customers c GROUP BY id, name, c, ssn';
  await loadParser();
  const { raw } = await fx.run(sql);
  const outputs = statementOutputs('SelectStmt', parseOne(sql).node);
  t.true(Array.isArray(outputs));
  const names = Array.isArray(outputs) ? outputs.map((o) => o.name) : [];
  t.is(names.length, raw.fields.length);
  t.deepEqual(
    raw.fields.map((f, i) => [f.name, names[i] ?? f.name]),
    raw.fields.map((f) => [f.name, f.name]),
  );
});

test('with every detector off, provenance and lineage alone still hide every attack', async (t) => {
  const noDetectors = fx.masker2({ ...CONFIG, detectors: [] });
  for (const [sql, expected] of ATTACKS) {
    const { plan, masked } = await fx.run(sql, noDetectors);
    t.deepEqual(leaks(fx.forbidden, masked.rows, masked.decisions), [], `${sql}: leaked`);
    for (const i of expected) t.not(plan.columns[i]?.strategy ?? null, null, `${sql}: column ${i} not planned masked`);
    t.false(masked.decisions.some((d) => d.why === 'detector'));
  }
});
