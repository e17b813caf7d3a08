// Issue 13, reviewed again by an attacker: a bot whose policy allows only `read`, against real
// PostgreSQL 15 (dblink and tablefunc installed, a non-superuser role that owns large objects), with
// `masking.predicates: deny`. The attacker knows the gateway parses with a newer PostgreSQL grammar
// (libpg-query 17) than the target runs, and that PostgreSQL calls operators and functions where no
// call is written. Every statement here must either be refused before it runs — nothing written,
// nothing unlinked — or come back masked; the answers and the stored session events are scanned for
// every seeded value in raw, digits-only, reversed and hex form. The first suite
// (read-allowlist.e2e.test.ts) has the attacks of the issue itself; this one adds what it missed and
// new spellings of what held.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import pg from 'pg';
import { startTestGateway, testPolicy, type TestGateway } from '../helpers/gateway.ts';
import { testPgKind, testPgUrl } from '../helpers/pg.ts';
import { forms, leaks, SEED } from '../masking/fixture.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const ROLE = `gh_bot_${randomBytes(4).toString('hex')}`;
const real = testPgKind === 'postgres';

// Functions named like PostgreSQL 16/17 SQL/JSON syntax (compatibility shims people wrote for
// older servers), and user operators PostgreSQL picks for CASE, BETWEEN and IN (subquery). Each
// unlinks a large object: allowed inside READ ONLY on PostgreSQL 15, so only the analysis stops it.
const UNLINK = 'SELECT lo_unlink(oid)::text FROM pg_largeobject_metadata LIMIT 1';
const EXTRA_SEED = `
CREATE EXTENSION dblink;
CREATE EXTENSION tablefunc;
CREATE TABLE notes (body text);
CREATE SEQUENCE seq1;
CREATE FUNCTION json_array(int, int) RETURNS text LANGUAGE sql AS $$ ${UNLINK} $$;
CREATE FUNCTION json_value(text, text) RETURNS text LANGUAGE sql AS $$ ${UNLINK} $$;
CREATE FUNCTION json_query(text, text) RETURNS text LANGUAGE sql AS $$ ${UNLINK} $$;
CREATE FUNCTION json_exists(text, text) RETURNS text LANGUAGE sql AS $$ ${UNLINK} $$;
CREATE FUNCTION json_scalar(int) RETURNS text LANGUAGE sql AS $$ ${UNLINK} $$;
CREATE FUNCTION json_serialize(text) RETURNS text LANGUAGE sql AS $$ ${UNLINK} $$;
CREATE FUNCTION json(text) RETURNS text LANGUAGE sql AS $$ ${UNLINK} $$;
CREATE FUNCTION merge_action() RETURNS text LANGUAGE sql AS $$ ${UNLINK} $$;
CREATE FUNCTION json_arrayagg_step(text, int) RETURNS text LANGUAGE sql AS $$ ${UNLINK} $$;
CREATE AGGREGATE json_arrayagg(int) (SFUNC = json_arrayagg_step, STYPE = text);
CREATE FUNCTION planted_cmp(int, text) RETURNS boolean LANGUAGE sql AS $$ SELECT lo_unlink(oid) IS NULL FROM pg_largeobject_metadata LIMIT 1 $$;
CREATE OPERATOR public.= (LEFTARG = int, RIGHTARG = text, FUNCTION = planted_cmp);
CREATE OPERATOR public.>= (LEFTARG = int, RIGHTARG = text, FUNCTION = planted_cmp);
CREATE OPERATOR public.<= (LEFTARG = int, RIGHTARG = text, FUNCTION = planted_cmp);
CREATE OPERATOR public.< (LEFTARG = int, RIGHTARG = text, FUNCTION = planted_cmp);
CREATE OPERATOR public.> (LEFTARG = int, RIGHTARG = text, FUNCTION = planted_cmp);
CREATE FUNCTION planted_check(text) RETURNS boolean LANGUAGE sql AS $$ SELECT lo_unlink(oid) >= 0 FROM pg_largeobject_metadata LIMIT 1 $$;
CREATE DOMAIN planted_domain AS text CHECK (planted_check(VALUE));
CREATE DOMAIN planted_domain2 AS planted_domain;
CREATE TYPE planted_row AS (d planted_domain);
CREATE TABLE withdom (id int, d planted_domain);
INSERT INTO withdom VALUES (1, 'a');
CREATE VIEW withdom_view AS SELECT id, d FROM withdom;
CREATE TABLE texts (id text);
INSERT INTO texts VALUES ('1'), ('2');
CREATE ROLE ${ROLE} LOGIN;
GRANT USAGE ON SCHEMA public TO ${ROLE};
GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${ROLE};
GRANT ALL ON SEQUENCE seq1 TO ${ROLE};
GRANT INSERT ON notes TO ${ROLE};
-- A legacy setting some databases keep: backslashes escape quotes in ordinary string literals.
ALTER ROLE ${ROLE} SET standard_conforming_strings = off;
SELECT lo_from_bytea(0, '\\x6f6e65'::bytea), lo_from_bytea(0, '\\x74776f'::bytea);
DO $$ DECLARE o oid; BEGIN FOR o IN SELECT oid FROM pg_largeobject_metadata LOOP EXECUTE format('ALTER LARGE OBJECT %s OWNER TO ${ROLE}', o); END LOOP; END $$;
ANALYZE customers;
`;

let gw: TestGateway;
let token: string;
let forbidden: readonly string[];

const policy = (issuer: string) =>
  testPolicy(issuer, `masking:
  predicates: deny
  columns:
    public.customers.email: email
    public.customers.ssn: redact
    public.customers.card_number: last4
    public.customers.phone: hash
  detectors: [email, card, ssn, phone]
`);

test.before(async () => {
  if (!real) return;
  gw = await startTestGateway({ seedSql: SEED + EXTRA_SEED, policy, targetRole: ROLE });
  token = await gw.token(BOT, { groups: [] });
  const { rows } = await gw.sql('SELECT email, phone, ssn, card_number FROM customers ORDER BY id');
  forbidden = rows.flatMap(forms);
});

test.after.always(async () => {
  if (!real) return;
  await gw?.close();
  const admin = new pg.Client({ connectionString: testPgUrl() });
  await admin.connect();
  await admin.query(`DROP ROLE IF EXISTS ${ROLE}`).catch(() => {});
  await admin.end();
});

function query(sql: string, params?: unknown[]) {
  return gw.post('/v1/query', { connection: 'main', sql, ...(params ? { params } : {}) }, { authorization: `Bearer ${token}`, 'x-agent-model': 'test-model' });
}

async function storedEvents(sessionId: string): Promise<{ type: string; data: any }[]> {
  return [...(await gw.runtime.sessions.read(sessionId))] as never;
}

async function untouched(t: import('ava').ExecutionContext): Promise<void> {
  t.is((await gw.sql('SELECT count(*)::int AS n FROM pg_largeobject_metadata')).rows[0].n, 2, 'no large object was unlinked');
  t.is((await gw.sql('SELECT count(*)::int AS n FROM notes')).rows[0].n, 0, 'nothing was written to notes');
  t.false((await gw.sql('SELECT is_called FROM seq1')).rows[0].is_called, 'the sequence did not move');
}

/**
 * Written as SQL/JSON syntax, which the gateway's parser (PostgreSQL 17's grammar) reads as a
 * JSON expression node — no call — while the PostgreSQL 15 target parses it as an ordinary call of
 * whatever function of that name it has. And operators PostgreSQL applies with no operator written.
 */
const REFUSED: readonly (readonly [string, unknown[]?])[] = [
  ['SELECT json_array(1, 2)'],
  ['SELECT JSON_ARRAY($1::int, 2)', [1]],
  ["SELECT json_value('x', 'y')"],
  ["SELECT \"json_value\"('x', 'y')"],
  ["SELECT json_query('x', 'y')"],
  ["SELECT json_exists('x', 'y')"],
  ['SELECT json_scalar(1)'],
  ["SELECT json_serialize('x')"],
  ["SELECT json('1')"],
  ['SELECT merge_action()'],
  ['SELECT json_arrayagg(id) FROM customers'],
  ['EXPLAIN ANALYZE SELECT json_array(1, 2)'],
  ['SELECT id FROM customers WHERE json_scalar(id) IS NULL'],
  // implicit operators: simple CASE compares with =, BETWEEN with >= and <=, IN (subquery) with =
  ["SELECT CASE id WHEN '1'::text THEN 1 END FROM customers"],
  ["SELECT 1 BETWEEN '1'::text AND '2'::text"],
  ["SELECT 1 NOT BETWEEN SYMMETRIC '1'::text AND '2'::text"],
  ['SELECT id FROM customers WHERE id IN (SELECT id FROM texts)'],
  ['SELECT id FROM customers WHERE id = ANY (SELECT id FROM texts)'],
  ['SELECT id FROM customers WHERE id < ALL (SELECT id FROM texts)'],
];

for (const [sql, params] of REFUSED) {
  test.serial(`refused as unknown, nothing runs: ${sql}`, async (t) => {
    if (!real) return t.pass('needs real PostgreSQL (roles, large objects)');
    const res = await query(sql, params);
    t.is(res.status, 403, JSON.stringify(res.body));
    const events = await storedEvents(res.body.sessionId);
    t.is(events.find((e) => e.type === 'analysis')?.data.class, 'unknown');
    t.false(events.some((e) => e.type.startsWith('execution.')), 'nothing ran');
    t.deepEqual(leaks(forbidden, res.body, events), []);
    await untouched(t);
  });
}

/**
 * A domain whose CHECK calls a user function runs it whenever a value is converted to the domain —
 * and to anything that holds it: a domain over it, a composite type or a table's row type with a
 * column of it, a column definition list or XMLTABLE column of that type, and a whole row passed to
 * json_populate_record. Only `'x'::planted_domain` itself was refused before.
 */
const DOMAIN_REFUSED: readonly string[] = [
  "SELECT 'x'::planted_domain2",
  "SELECT '(x)'::planted_row",
  "SELECT ROW('x')::public.planted_row",
  'SELECT json_populate_record(NULL::planted_row, \'{"d":"x"}\')',
  'SELECT * FROM jsonb_to_record(\'{"d":"x"}\') AS x(d planted_domain)',
  'SELECT * FROM json_to_recordset(\'[{"d":"x"}]\') AS x(d planted_domain2)',
  "SELECT * FROM xmltable('/a' PASSING xmlparse(document '<a>x</a>') COLUMNS d planted_domain PATH '.')",
  'SELECT jsonb_populate_record(NULL::withdom, \'{"d":"y"}\')',
  'SELECT jsonb_populate_record(w, \'{"d":"y"}\') FROM withdom w',
  'SELECT jsonb_populate_record(w.*, \'{"d":"y"}\') FROM withdom AS w',
  'SELECT jsonb_populate_record(v, \'{"d":"y"}\') FROM withdom_view v',
  'WITH x AS (SELECT d FROM withdom) SELECT jsonb_populate_record(x, \'{"d":"y"}\') FROM x',
  'SELECT jsonb_populate_record((SELECT w FROM withdom w), \'{"d":"z"}\')',
];

for (const sql of DOMAIN_REFUSED) {
  test.serial(`a conversion that runs a domain CHECK's user function is refused: ${sql}`, async (t) => {
    if (!real) return t.pass('needs real PostgreSQL');
    const res = await query(sql);
    t.is(res.status, 403, JSON.stringify(res.body));
    t.true(res.body.reasons.some((r: string) => r.includes('planted_check()')), JSON.stringify(res.body.reasons));
    const events = await storedEvents(res.body.sessionId);
    t.false(events.some((e) => e.type.startsWith('execution.')), 'nothing ran');
    await untouched(t);
  });
}

test.serial('a table with such a domain column is still read as usual (no whole row, no conversion)', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  for (const sql of ['SELECT id, d FROM withdom', 'SELECT w.* FROM withdom w', 'SELECT * FROM withdom_view', "SELECT upper(d) FROM withdom WHERE d LIKE 'a%'"]) {
    const res = await query(sql);
    t.is(res.status, 200, `${sql}: ${JSON.stringify(res.body)}`);
  }
  await untouched(t);
});

/**
 * With `predicates: deny`, a masked value may only reach output cells (which are masked). Used to
 * decide how many rows come back — a set-returning function's arguments, LIMIT/OFFSET, duplicate
 * removal (DISTINCT, UNION, INTERSECT, EXCEPT), or a WHERE clause inside EXPLAIN — it is a value
 * channel: `count(*)` over `generate_series(1, ascii(ssn))` is the character code in clear.
 */
const ORACLES: readonly string[] = [
  'SELECT c.id FROM customers c, generate_series(1, ascii(substr(c.ssn, 1, 1))) g',
  'SELECT id, (SELECT count(*) FROM generate_series(1, ascii(substr(c.ssn, 1, 1)))) AS n FROM customers c',
  'SELECT c.id, (SELECT count(*) FROM ROWS FROM (generate_series(1, ascii(c.email)))) FROM customers c',
  'SELECT id, generate_series(1, ascii(ssn)) FROM customers',
  "SELECT id, abs(regexp_split_to_table(ssn, '-')::int) * 0 FROM customers",
  'SELECT 1 FROM generate_series(1, 1000) LIMIT (SELECT ascii(ssn) FROM customers ORDER BY id LIMIT 1)',
  'SELECT 1 FROM generate_series(1, 1000) OFFSET (SELECT ascii(card_number) FROM customers ORDER BY id LIMIT 1)',
  'SELECT c.id FROM customers c JOIN LATERAL (SELECT 1 FROM generate_series(1, 100) LIMIT ascii(c.ssn)) x ON true',
  "SELECT ssn FROM customers INTERSECT SELECT '123-45-6789'",
  "SELECT email FROM customers EXCEPT SELECT 'ada@example.com'",
  "SELECT ssn FROM customers UNION SELECT '123-45-6789'",
  'SELECT DISTINCT substr(ssn, 1, 1) FROM customers',
  "EXPLAIN ANALYZE SELECT * FROM customers WHERE ssn LIKE '9%'",
  "EXPLAIN SELECT id FROM customers WHERE email LIKE 'a%'",
  "EXPLAIN (ANALYZE, FORMAT JSON) SELECT count(*) FROM customers GROUP BY substr(phone, 1, 3)",
  // the sampling percentage or seed, and a window frame's offset, decide how many rows are counted
  'SELECT count(*) FROM customers TABLESAMPLE BERNOULLI ((SELECT ascii(ssn) FROM customers LIMIT 1) / 2.56)',
  'SELECT count(*) FROM customers TABLESAMPLE BERNOULLI (50) REPEATABLE ((SELECT ascii(ssn) FROM customers LIMIT 1))',
  'SELECT id, count(*) OVER (ORDER BY id ROWS BETWEEN (SELECT ascii(substr(ssn, 1, 1)) - 48 FROM customers ORDER BY id LIMIT 1) PRECEDING AND CURRENT ROW) FROM customers',
  'SELECT id, count(*) OVER w FROM customers WINDOW w AS (ORDER BY id ROWS (SELECT ascii(phone) - 48 FROM customers LIMIT 1) PRECEDING)',
  // IS NULL in WHERE is the null-count oracle count(phone) already is (JOIN … USING and NATURAL JOIN
  // over a masked column: test/masking/predicates.e2e.test.ts, this database's planted = operator
  // makes every USING join unknown here)
  'SELECT count(*) FROM customers WHERE phone IS NULL',
  // functions in FROM over masked values: as many rows as the value has tokens, matches, nodes
  "SELECT t.* FROM ts_debug('simple', (SELECT string_agg(email, ' ') FROM customers)) t",
  "SELECT * FROM ts_parse('default', (SELECT string_agg(ssn, ' ') FROM customers))",
  "SELECT * FROM regexp_matches((SELECT string_agg(ssn, ' ') FROM customers), '.+')",
  "SELECT * FROM xmltable('/a' PASSING xmlelement(name a, (SELECT string_agg(ssn, ',') FROM customers)) COLUMNS v text PATH '.')",
  'SELECT * FROM jsonb_to_record((SELECT to_jsonb(c) FROM customers c LIMIT 1)) AS x(email text)',
  // A CTE's CYCLE clause stops the recursion when a row's cycle columns equal an earlier row's:
  // 2 rows when the SSN is the guess, 3 when not
  "WITH RECURSIVE r AS (SELECT v FROM (SELECT ssn AS v FROM customers ORDER BY id LIMIT 1) c UNION ALL SELECT '123-45-6789' FROM r) CYCLE v SET m USING p SELECT count(*) FROM r",
  // EXCEPT ALL and INTERSECT ALL remove or keep rows by comparing them as the plain forms do
  // (no = in these: this database's planted = operator would refuse them for that reason)
  "SELECT count(*) FROM (SELECT '9' EXCEPT ALL (SELECT substr(ssn, 1, 1) FROM customers ORDER BY id LIMIT 1)) x",
  "SELECT count(*) FROM (SELECT '9' INTERSECT ALL (SELECT substr(ssn, 1, 1) FROM customers ORDER BY id LIMIT 1)) x",
  // ORDER BY of a set operation or of VALUES, ORDER BY / GROUP BY / DISTINCT ON by position or by
  // an output column's name (ORDER BY prefers it to an input column of the same name)
  "SELECT id, ssn FROM customers UNION ALL SELECT 0, '' ORDER BY ssn",
  "VALUES (1, (SELECT ssn FROM customers ORDER BY id LIMIT 1)), (2, '5') ORDER BY 2",
  'SELECT id, ssn FROM customers ORDER BY 2',
  'SELECT id, ssn AS name FROM customers ORDER BY name',
  'SELECT DISTINCT ON (2) id, substr(ssn, 1, 1) FROM customers',
  'SELECT substr(ssn, 1, 1), count(*) FROM customers GROUP BY 1',
  // inside GROUPING SETS, ROLLUP and CUBE a parenthesised list is a list of grouping items
  'SELECT id, substr(ssn, 1, 1), count(*) FROM customers GROUP BY GROUPING SETS ((2, 1))',
  'SELECT id, substr(ssn, 1, 1), count(*) FROM customers GROUP BY ROLLUP ((1, 2))',
  // a join's alias renames its columns: j.x5 is c.ssn
  "SELECT j.a FROM (customers c CROSS JOIN products p) AS j(a, b, c2, d, x5) WHERE j.x5 LIKE '9%'",
  // neither a subquery in FROM without LATERAL nor a JOIN's ON sees the FROM items beside it: t is
  // the outer query's customers, not products
  "SELECT (SELECT count(*) FROM products t, (SELECT 1 WHERE t.ssn LIKE '9%') q) FROM customers t",
  "SELECT (SELECT count(*) FROM products t, orders o JOIN products p ON t.ssn LIKE '9%') FROM customers t",
  "SELECT (SELECT count(*) FROM (products t CROSS JOIN orders o) AS j WHERE t.ssn LIKE '9%') FROM customers t",
  // a set-returning function called in attribute notation: as many rows as the array is long
  'SELECT id, (array_fill(0, ARRAY[ascii(ssn)])).unnest FROM customers',
];

for (const sql of ORACLES) {
  test.serial(`deny: a masked value deciding the row count is refused: ${sql}`, async (t) => {
    if (!real) return t.pass('needs real PostgreSQL');
    const res = await query(sql);
    t.is(res.status, 403, JSON.stringify(res.body).slice(0, 300));
    t.is(res.body.error?.code, 'masking_denied');
    t.is(res.body.error?.details?.reason, 'masked_column_in_predicate');
    const events = await storedEvents(res.body.sessionId);
    // Refused by the masker before the statement reached the target: a failure, never a result.
    t.false(events.some((e) => e.type === 'execution.result'), 'nothing ran');
    t.deepEqual(leaks(forbidden, res.body, events), []);
  });
}

test.serial('deny: a clause nested deeper than the lineage analysis can follow is refused, not skipped', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  // 900 nested scalar subqueries: within the parser's depth guard, past what the (recursive)
  // lineage analysis follows. The WHERE at the bottom decides whether the one row comes back.
  let inner = "SELECT 1 FROM customers WHERE ssn LIKE '9%' LIMIT 1";
  for (let i = 0; i < 900; i++) inner = `SELECT (${inner})`;
  const res = await query(`SELECT 1 AS one WHERE EXISTS (${inner})`);
  t.is(res.status, 403, JSON.stringify(res.body).slice(0, 300));
  t.is(res.body.error?.details?.reason, 'masked_column_in_predicate');
  const events = await storedEvents(res.body.sessionId);
  t.false(events.some((e) => e.type === 'execution.result'), 'nothing ran');
});

/** Still allowed under deny: row counts that do not depend on a masked value. */
const FINE: readonly string[] = [
  'SELECT id, generate_series(1, 2) FROM customers',
  'SELECT count(*) FROM customers TABLESAMPLE BERNOULLI (50) REPEATABLE (7)',
  'SELECT id, email IS NULL FROM customers WHERE name IS NOT NULL',
  'SELECT id, count(*) OVER (ORDER BY id ROWS 2 PRECEDING), email FROM customers',
  'SELECT c.id, g FROM customers c, generate_series(1, c.id) g',
  'SELECT name FROM customers UNION SELECT name FROM products',
  'SELECT email FROM customers UNION ALL SELECT email FROM customers',
  'SELECT DISTINCT name FROM customers',
  'SELECT email FROM customers ORDER BY id LIMIT 2 OFFSET 1',
  'EXPLAIN SELECT email FROM customers ORDER BY id LIMIT 1',
  // a masked value passed on, not operated on; operations on values that are not masked
  "SELECT ssn::text, email::varchar, ROW(ssn, email), ARRAY[phone], coalesce(ssn, 'none'), CASE WHEN id IS NOT NULL THEN ssn ELSE card_number END FROM customers",
  'SELECT (c).ssn, c, c::text, (c.*)::text FROM customers c',
  "SELECT upper(name), length(name), id / 2, created_at::date, name::varchar(3) FROM customers WHERE name <> ''",
  // output names and positions in ORDER BY, GROUP BY and DISTINCT ON are the outputs they name
  'SELECT name AS customer, email FROM customers ORDER BY customer',
  'SELECT name, count(*) FROM customers GROUP BY 1 ORDER BY 2 DESC',
  'SELECT upper(name) AS n, count(*) FROM customers GROUP BY n',
  'SELECT DISTINCT ON (1) name, email FROM customers ORDER BY 1, id',
  'SELECT name FROM customers UNION ALL SELECT name FROM products ORDER BY name',
  'SELECT id, (ARRAY[1, 2]).unnest, email FROM customers',
];

for (const sql of FINE) {
  test.serial(`deny still answers: ${sql}`, async (t) => {
    if (!real) return t.pass('needs real PostgreSQL');
    const res = await query(sql);
    t.is(res.status, 200, JSON.stringify(res.body).slice(0, 300));
    t.deepEqual(leaks(forbidden, res.body, await storedEvents(res.body.sessionId)), []);
  });
}

/**
 * The gateway's parser reads `'a\'` as a complete string (standard_conforming_strings on). With the
 * role's setting off, PostgreSQL reads `\'` as an escaped quote, so text the analysis saw inside a
 * dollar-quoted string is SQL the server runs: a `read` of two constants that unlinked every large
 * object, or returned every SSN encoded past the detectors.
 */
const LEXER_SKEW: readonly (readonly [string, string])[] = [
  ["SELECT 'a\\', $$' , lo_unlink(oid) FROM pg_largeobject_metadata -- $$", "' , lo_unlink(oid) FROM pg_largeobject_metadata -- "],
  ["SELECT 'a\\', $$' , translate(ssn, '0123456789', 'abcdefghij') || '' FROM customers -- $$", "' , translate(ssn, '0123456789', 'abcdefghij') || '' FROM customers -- "],
];

for (const [sql, second] of LEXER_SKEW) {
  test.serial(`the server reads SQL text as the parser did (standard_conforming_strings off for the role): ${sql}`, async (t) => {
    if (!real) return t.pass('needs real PostgreSQL');
    const res = await query(sql);
    t.is(res.status, 200, JSON.stringify(res.body).slice(0, 300));
    // Exactly the two string constants the analysis saw, one row: nothing else was run or read.
    // (Compared, not diffed: a failure must not print what the server returned instead.)
    t.true(JSON.stringify(res.body.rows) === JSON.stringify([['a\\', second]]), 'the answer is the two constants the analysis saw');
    t.deepEqual(leaks(forbidden, res.body, await storedEvents(res.body.sessionId)), []);
    await untouched(t);
  });
}

test.serial('the gateway\'s sessions lex with standard_conforming_strings on whatever the role says', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  const res = await query('SHOW standard_conforming_strings');
  t.is(res.status, 200);
  t.deepEqual(res.body.rows, [['on']]);
});

/** New spellings of attacks the first suite has in one form; these held. */
const HELD_REFUSED: readonly string[] = [
  'SELECT U&"pg_advisory\\006cock"(1)',
  'SELECT "pg_advisory_lock"(1)',
  'SELECT (1::bigint).pg_advisory_lock',
  "SELECT ('seq1'::regclass).nextval",
  "SELECT * FROM nextval('seq1')",
  "VALUES (nextval('seq1'))",
  "SELECT id FROM customers LIMIT (SELECT setval('seq1', 100))",
  "EXPLAIN SELECT nextval('seq1')",
  'EXPLAIN (ANALYZE) SELECT pg_advisory_lock(1)',
  "SELECT pg_catalog.set_config('application_name', 'x', false)",
  'SELECT lo_creat(-1)',
  'SELECT pg_export_snapshot()',
  'SELECT pg_current_xact_id()',
  "SELECT 1 = '1'::text",
  'SELECT 1 OPERATOR(public.<) $1::text',
  'SELECT * FROM customers FOR KEY SHARE',
  'DECLARE c CURSOR WITH HOLD FOR SELECT 1',
  'LISTEN c',
  'NOTIFY c',
  "SELECT * FROM pg_mcv_list_items((SELECT stxdmcv FROM pg_statistic_ext_data LIMIT 1))",
  // calls where lineage looks since the subscript fix: an index, a slice bound; and in the ORDER BY
  // of a set operation (a CYCLE clause's mark values are constants in the grammar)
  "SELECT ('{1,2}'::int[])[nextval('seq1')]",
  "SELECT ('{1,2}'::int[])[1:pg_advisory_lock(1)::text::int]",
  "SELECT 1 AS a UNION ALL SELECT 2 ORDER BY nextval('seq1')",
];

for (const sql of HELD_REFUSED) {
  test.serial(`held, refused before it runs: ${sql}`, async (t) => {
    if (!real) return t.pass('needs real PostgreSQL');
    const res = await query(sql, sql.includes('$1') ? ['1'] : undefined);
    t.is(res.status, 403, JSON.stringify(res.body).slice(0, 300));
    const events = await storedEvents(res.body.sessionId);
    t.false(events.some((e) => e.type.startsWith('execution.')), 'nothing ran');
    await untouched(t);
  });
}

test.serial('held: several statements in one request, COMMIT first included, are refused', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  for (const sql of ['SELECT 1; SELECT 2', 'COMMIT; SELECT 1', 'SELECT 1; LISTEN c']) {
    const res = await query(sql);
    t.is(res.status, 400);
    t.is(res.body.error.code, 'sql_multiple_statements');
  }
});

/** Whole rows, stars, unicode-escaped names and set-returning functions over masked values: masked. */
const HELD_MASKED: readonly string[] = [
  'SELECT (c.*)::text FROM customers c',
  'SELECT ARRAY[c] FROM customers c',
  'SELECT (SELECT c) FROM customers c',
  'SELECT x FROM customers c, LATERAL (SELECT c) x',
  'SELECT (x).c FROM (SELECT c FROM customers c) x',
  'SELECT customers::text FROM customers',
  'SELECT * FROM customers*',
  'SELECT U&"em\\0061il" FROM customers',
  'SELECT (SELECT email FROM customers LIMIT 1) AS id',
  'WITH x AS MATERIALIZED (SELECT email AS id FROM customers) SELECT id FROM x',
];

for (const sql of HELD_MASKED) {
  test.serial(`held, answered masked: ${sql}`, async (t) => {
    if (!real) return t.pass('needs real PostgreSQL');
    const res = await query(sql);
    t.is(res.status, 200, JSON.stringify(res.body).slice(0, 300));
    t.true(res.body.rows.length > 0);
    t.deepEqual(leaks(forbidden, res.body, await storedEvents(res.body.sessionId)), []);
  });
}

// Whether a statement fails is answered (its SQLSTATE), so any operation on a masked value that
// can fail depending on it is one bit per request: `1 / (ascii(ssn) - 57)` fails with
// division_by_zero exactly when the SSN starts with 9. Under predicates: deny such a statement is
// refused before it runs, in every spelling; passing a masked value on (above) is still answered.
test.serial('deny: an error that depends on a masked value is not an oracle', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  // (No = here: this database's planted = operator would refuse the statement for that reason.)
  const nine = await query('SELECT id, 1 / (ascii(ssn) - 57) AS x FROM customers ORDER BY id LIMIT 1');
  const eight = await query('SELECT id, 1 / (ascii(ssn) - 56) AS x FROM customers ORDER BY id LIMIT 1');
  // Both refused before running, the same way.
  t.is(nine.status, 403);
  t.is(eight.status, 403);
  t.is(nine.body.error?.details?.reason, 'masked_column_computed');
  t.deepEqual(nine.body.error, { ...eight.body.error, message: nine.body.error.message });
  t.deepEqual(nine.body.error.details.columns, ['public.customers.ssn']);
});

/** Operations whose failure depends on a masked value, in other spellings: each refused before it runs. */
const COMPUTED: readonly (readonly [string, unknown[]?])[] = [
  ['SELECT ssn::int FROM customers'],
  ['SELECT CAST(substr(ssn, 1, 3) AS integer) FROM customers'],
  ['SELECT ssn::text::int FROM customers'],
  ['SELECT (ssn).int4 FROM customers'],
  ['SELECT (c.ssn).int4 FROM customers c'],
  ['SELECT c.ssn::date FROM customers c'],
  ['SELECT ssn::jsonb FROM customers'],
  ["SELECT CASE WHEN ssn LIKE '9%' THEN 1 / 0 END FROM customers"],
  ['SELECT 1 / (ascii(ssn) - $1::int) FROM customers', [57]],
  ['SELECT make_date(2000, 1, ascii(ssn) - 48) FROM customers'],
  ['SELECT (SELECT 1 / (ascii(x) - 57) FROM (SELECT ssn AS x FROM customers ORDER BY id LIMIT 1) s)'],
  ['WITH m AS MATERIALIZED (SELECT id, 1 / (ascii(ssn) - 57) AS x FROM customers) SELECT count(*) FROM m'],
  ['VALUES ((SELECT 1 / (ascii(ssn) - 57) FROM customers ORDER BY id LIMIT 1))'],
  ['SELECT (ARRAY[1])[1 / (ascii(ssn) - 57)] FROM customers'],
  ['SELECT lag(1 / (ascii(ssn) - 57)) OVER () FROM customers'],
  ["SELECT to_jsonb(c) -> 'ssn' FROM customers c"],
  ['SELECT c.to_jsonb FROM customers c'],
  ["SELECT pg_catalog.format('%I', email) FROM customers"],
  ['SELECT xmlparse(content email)::text FROM customers'],
  ['SELECT substr(query, 1) FROM pg_catalog.pg_stat_activity'],
  ['SELECT id, email IS JSON FROM customers'],
  ['SELECT ssn LIKE ANY (SELECT ssn FROM customers) FROM customers'],
];

for (const [sql, params] of COMPUTED) {
  test.serial(`deny: an operation on a masked value is refused before it runs: ${sql}`, async (t) => {
    if (!real) return t.pass('needs real PostgreSQL');
    const res = await query(sql, params);
    t.is(res.status, 403, JSON.stringify(res.body).slice(0, 300));
    t.is(res.body.error?.code, 'masking_denied');
    t.is(res.body.error?.details?.reason, 'masked_column_computed');
    const events = await storedEvents(res.body.sessionId);
    t.false(events.some((e) => e.type === 'execution.result'), 'nothing ran');
    t.deepEqual(leaks(forbidden, res.body, events), []);
  });
}


test.serial('after all of it: nothing unlinked, written or advanced', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  await untouched(t);
});
