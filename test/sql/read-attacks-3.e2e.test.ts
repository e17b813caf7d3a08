// Issue 13, third attack review: functions PostgreSQL runs for a `read` with no call, operator or
// cast written — a type's comparison support (ORDER BY, DISTINCT, GROUP BY, UNION, window ORDER BY,
// max over arrays), an implicit cast a type owner created, a domain CHECK run because an untyped
// literal or parameter takes a domain column's type through a polymorphic function, a view whose
// rule converts to such a domain, and a foreign table whose wrapper runs a program on every scan.
// Against real PostgreSQL 15 as a non-superuser role that owns two large objects: each planted
// function unlinks one (allowed inside READ ONLY on 15), the program leaves a file behind.
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import test from 'ava';
import pg from 'pg';
import { startTestGateway, testPolicy, type TestGateway } from '../helpers/gateway.ts';
import { testPgKind, testPgUrl } from '../helpers/pg.ts';
import { SEED } from '../masking/fixture.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const ROLE = `gh_bot_${randomBytes(4).toString('hex')}`;
const MARKER = `/tmp/gatehouse-fdw-${randomBytes(6).toString('hex')}`;
const real = testPgKind === 'postgres';

const EXTRA_SEED = `
CREATE EXTENSION file_fdw;
CREATE EXTENSION tsm_system_time;
CREATE FUNCTION unlink_one() RETURNS int LANGUAGE sql AS $$ SELECT lo_unlink(oid) FROM pg_largeobject_metadata LIMIT 1 $$;
-- a composite type with its own default btree opclass: sorting, grouping and de-duplicating it call pair_cmp
CREATE TYPE pair AS (a int);
CREATE FUNCTION pair_cmp(pair, pair) RETURNS int LANGUAGE sql AS $$ SELECT CASE WHEN unlink_one() IS NULL THEN btint4cmp($1.a, $2.a) ELSE btint4cmp($1.a, $2.a) END $$;
CREATE FUNCTION pair_lt(pair, pair) RETURNS bool LANGUAGE sql AS $$ SELECT pair_cmp($1, $2) < 0 $$;
CREATE FUNCTION pair_le(pair, pair) RETURNS bool LANGUAGE sql AS $$ SELECT pair_cmp($1, $2) <= 0 $$;
CREATE FUNCTION pair_eq(pair, pair) RETURNS bool LANGUAGE sql AS $$ SELECT pair_cmp($1, $2) = 0 $$;
CREATE FUNCTION pair_ge(pair, pair) RETURNS bool LANGUAGE sql AS $$ SELECT pair_cmp($1, $2) >= 0 $$;
CREATE FUNCTION pair_gt(pair, pair) RETURNS bool LANGUAGE sql AS $$ SELECT pair_cmp($1, $2) > 0 $$;
CREATE OPERATOR #<# (LEFTARG = pair, RIGHTARG = pair, FUNCTION = pair_lt);
CREATE OPERATOR #<=# (LEFTARG = pair, RIGHTARG = pair, FUNCTION = pair_le);
CREATE OPERATOR #=# (LEFTARG = pair, RIGHTARG = pair, FUNCTION = pair_eq);
CREATE OPERATOR #>=# (LEFTARG = pair, RIGHTARG = pair, FUNCTION = pair_ge);
CREATE OPERATOR #># (LEFTARG = pair, RIGHTARG = pair, FUNCTION = pair_gt);
CREATE OPERATOR CLASS pair_ops DEFAULT FOR TYPE pair USING btree AS
  OPERATOR 1 #<#, OPERATOR 2 #<=#, OPERATOR 3 #=#, OPERATOR 4 #>=#, OPERATOR 5 #>#, FUNCTION 1 pair_cmp(pair, pair);
CREATE TABLE pairs (id int, p pair);
INSERT INTO pairs VALUES (1, ROW(2)), (2, ROW(1));
CREATE VIEW pairs_view AS SELECT id, p FROM pairs;
-- a btree operator class for int with its own comparison function, used by an index: an index scan
-- calls it for a plain = on int
CREATE FUNCTION planted_int_cmp(int, int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN unlink_one() IS NULL THEN btint4cmp($1, $2) ELSE btint4cmp($1, $2) END $$;
CREATE OPERATOR CLASS planted_int_ops FOR TYPE int USING btree AS
  OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >, FUNCTION 1 planted_int_cmp(int, int);
CREATE TABLE indexed (id int);
INSERT INTO indexed SELECT generate_series(1, 5000);
CREATE INDEX ON indexed (id planted_int_ops);
CREATE TABLE indexed_parted (id int) PARTITION BY RANGE (id);
CREATE TABLE indexed_part1 PARTITION OF indexed_parted FOR VALUES FROM (0) TO (10000);
INSERT INTO indexed_parted SELECT generate_series(1, 5000);
CREATE INDEX ON indexed_part1 (id planted_int_ops);
ANALYZE indexed; ANALYZE indexed_part1;
-- partitioned by that operator class: pruning compares with it
CREATE TABLE parted_by (id int) PARTITION BY RANGE (id planted_int_ops);
CREATE TABLE parted_by_low PARTITION OF parted_by FOR VALUES FROM (0) TO (100);
CREATE TABLE parted_by_high PARTITION OF parted_by FOR VALUES FROM (100) TO (200);
INSERT INTO parted_by VALUES (5), (150);
-- an implicit cast a type owner created: any text function applied to a mood calls it
CREATE TYPE planted_mood AS ENUM ('happy');
CREATE FUNCTION planted_mood_text(planted_mood) RETURNS text LANGUAGE sql AS $$ SELECT 'happy' || coalesce(unlink_one()::text, '') $$;
CREATE CAST (planted_mood AS text) WITH FUNCTION planted_mood_text(planted_mood) AS IMPLICIT;
CREATE TABLE moods (id int, m planted_mood);
INSERT INTO moods VALUES (1, 'happy');
-- a domain whose CHECK calls a user function
CREATE FUNCTION planted_check(text) RETURNS boolean LANGUAGE sql AS $$ SELECT unlink_one() IS NOT NULL OR true $$;
CREATE DOMAIN planted_domain AS text CHECK (planted_check(VALUE));
CREATE TABLE withdom (id int, d planted_domain);
INSERT INTO withdom VALUES (1, 'a');
CREATE TABLE arrdom (id int, ds planted_domain[]);
INSERT INTO arrdom VALUES (1, ARRAY['a']::planted_domain[]);
-- functions the policy lists: their argument and result types still run what they run
CREATE FUNCTION make_pair(int) RETURNS pair LANGUAGE sql IMMUTABLE AS $$ SELECT ROW($1)::pair $$;
CREATE FUNCTION show_dom(planted_domain) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT $1::text $$;
CREATE VIEW castview AS SELECT 'x'::planted_domain AS d;
CREATE VIEW castview2 AS SELECT id FROM withdom WHERE d IS DISTINCT FROM 'y'::planted_domain;
-- a foreign table whose wrapper runs a program on every scan, alone and as a child of a plain table
CREATE SERVER files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE progft (line text) SERVER files OPTIONS (program 'touch ${MARKER}; echo hi');
CREATE TABLE fdw_parent (line text);
CREATE FOREIGN TABLE fdw_child () INHERITS (fdw_parent) SERVER files OPTIONS (program 'touch ${MARKER}; echo hi');
CREATE VIEW progft_view AS SELECT line FROM progft;
-- names with dots in them: the catalog lookup took "files.prog" for table prog in schema files
CREATE FOREIGN TABLE "files.prog" (line text) SERVER files OPTIONS (program 'touch ${MARKER}; echo hi');
CREATE SCHEMA "odd.schema";
CREATE FOREIGN TABLE "odd.schema".prog (line text) SERVER files OPTIONS (program 'touch ${MARKER}; echo hi');
-- a row security policy whose USING reads the foreign table: every read of guarded runs the program
CREATE TABLE guarded (id int);
INSERT INTO guarded VALUES (1);
ALTER TABLE guarded ENABLE ROW LEVEL SECURITY;
CREATE POLICY through_program ON guarded USING (EXISTS (SELECT 1 FROM progft));
CREATE ROLE ${ROLE} LOGIN;
GRANT USAGE ON SCHEMA public TO ${ROLE};
GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${ROLE};
GRANT USAGE ON SCHEMA "odd.schema" TO ${ROLE};
GRANT SELECT ON "odd.schema".prog TO ${ROLE};
SELECT lo_from_bytea(0, '\\x6f6e65'::bytea), lo_from_bytea(0, '\\x74776f'::bytea);
DO $$ DECLARE o oid; BEGIN FOR o IN SELECT oid FROM pg_largeobject_metadata LOOP EXECUTE format('ALTER LARGE OBJECT %s OWNER TO ${ROLE}', o); END LOOP; END $$;
`;

const policy = (issuer: string) =>
  testPolicy(issuer, `functions:
  - signature: public.make_pair(integer)
    class: read
    reason: builds a pair, reads nothing
  - signature: public.show_dom(planted_domain)
    class: read
    reason: prints a value, reads nothing
`);

let gw: TestGateway;
let token: string;

test.before(async () => {
  if (!real) return;
  gw = await startTestGateway({ seedSql: SEED + EXTRA_SEED, policy, targetRole: ROLE });
  token = await gw.token(BOT, { groups: [] });
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

async function untouched(t: import('ava').ExecutionContext): Promise<void> {
  t.is((await gw.sql('SELECT count(*)::int AS n FROM pg_largeobject_metadata')).rows[0].n, 2, 'no large object was unlinked');
  t.false(existsSync(MARKER), 'no program ran');
}

const REFUSED: readonly (readonly [string, string, unknown[]?])[] = [
  // the default btree opclass's support function, with no operator written
  ['SELECT p FROM pairs ORDER BY p', 'pair_cmp()'],
  ['SELECT DISTINCT p FROM pairs', 'pair_cmp()'],
  ['SELECT count(*) FROM pairs GROUP BY p', 'pair_cmp()'],
  ['SELECT p FROM pairs UNION SELECT p FROM pairs', 'pair_cmp()'],
  ['SELECT row_number() OVER (ORDER BY p) FROM pairs', 'pair_cmp()'],
  ['SELECT max(ARRAY[p]) FROM pairs', 'pair_cmp()'],
  ['SELECT id FROM pairs_view ORDER BY p', 'pair_cmp()'],
  ['SELECT x FROM (SELECT p AS x FROM pairs) s ORDER BY 1', 'pair_cmp()'],
  // an index scan through a user operator class, on the table or on a partition
  ['SELECT id FROM indexed WHERE id = 5', 'planted_int_cmp()'],
  ['SELECT count(*) FROM indexed_parted WHERE id = 5', 'planted_int_cmp()'],
  ['SELECT count(*) FROM parted_by WHERE id = 5', 'planted_int_cmp()'],
  ['SELECT count(*) FROM parted_by WHERE id = $1', 'planted_int_cmp()', [5]],
  // an implicit cast: upper(text) of a mood
  ['SELECT upper(m) FROM moods', 'planted_mood_text()'],
  ['SELECT length(m) FROM moods', 'planted_mood_text()'],
  ['SELECT id FROM moods WHERE starts_with(m, $1)', 'planted_mood_text()', ['h']],
  // an untyped literal, NULL or parameter given a domain column's type by a polymorphic function
  ["SELECT lag(d, 1, 'x') OVER () FROM withdom", 'planted_check()'],
  ['SELECT lag(d, 1, NULL) OVER () FROM withdom', 'planted_check()'],
  ['SELECT lag(d, 1, $1) OVER () FROM withdom', 'planted_check()', ['x']],
  ["SELECT array_append(ARRAY[d], 'x') FROM withdom", 'planted_check()'],
  ["SELECT array_position(ARRAY(SELECT d FROM withdom), 'x')", 'planted_check()'],
  // an untyped constant meeting an array of the domain: '{x}' is read as one — the other operand …
  ["SELECT ARRAY[d] = '{x}' FROM withdom", 'planted_check()'],
  ["SELECT ARRAY[d] || '{x}' FROM withdom", 'planted_check()'],
  ["SELECT ARRAY[d] IN ('{x}', '{y}') FROM withdom", 'planted_check()'],
  ["SELECT (SELECT array_agg(d) FROM withdom) @> '{x}'", 'planted_check()'],
  ['SELECT ARRAY(SELECT d FROM withdom) && $1', 'planted_check()', ['{x}']],
  ["SELECT id FROM arrdom WHERE ds = '{x}'", 'planted_check()'],
  // … or the common type of CASE, COALESCE, GREATEST, NULLIF, UNION and VALUES
  ["SELECT CASE WHEN id > 0 THEN ARRAY[d] ELSE '{x}' END FROM withdom", 'planted_check()'],
  ["SELECT coalesce(ARRAY[d], '{x}') FROM withdom", 'planted_check()'],
  ["SELECT greatest(ARRAY[d], '{x}') FROM withdom", 'planted_check()'],
  ["SELECT nullif(ARRAY[d], '{x}') FROM withdom", 'planted_check()'],
  ["SELECT ARRAY[d] FROM withdom UNION ALL SELECT '{x}'", 'planted_check()'],
  ["VALUES ((SELECT ARRAY[d] FROM withdom)), ('{y}')", 'planted_check()'],
  ["SELECT coalesce(ds, '{x}') FROM arrdom", 'planted_check()'],
  ['SELECT id FROM arrdom WHERE ds @> $1', 'planted_check()', ['{x}']],
  // a function-style cast to the domain, in attribute notation or as a call (no function of that name)
  ["SELECT ('x').planted_domain", 'planted_check()'],
  ['SELECT (upper(w.d)).planted_domain FROM withdom w', 'planted_check()'],
  ["SELECT planted_domain('y')", 'planted_check()'],
  // a listed function: what its argument's and result's types run is not listed with it
  ['SELECT x FROM (VALUES (make_pair(2)), (make_pair(1))) v(x) ORDER BY x', 'pair_cmp()'],
  ['SELECT DISTINCT make_pair(id) FROM withdom', 'pair_cmp()'],
  ["SELECT show_dom('x')", 'planted_check()'],
  // an extension's sampling method: its handler is an extension function like any other
  ['SELECT count(*) FROM withdom TABLESAMPLE system_time(1000)', 'system_time()'],
  ['SELECT count(*) FROM withdom TABLESAMPLE public.system_time(1000)', 'system_time()'],
  // a view whose rule converts to the domain
  ['SELECT * FROM castview', 'planted_check()'],
  ['SELECT count(*) FROM castview2', 'planted_check()'],
  // a foreign table's wrapper (file_fdw with a program), directly, through a view, as a child
  ['SELECT * FROM progft', 'file_fdw_handler()'],
  ['SELECT * FROM progft_view', 'file_fdw_handler()'],
  ['SELECT count(*) FROM fdw_parent', 'file_fdw_handler()'],
  ['SELECT id FROM guarded', 'file_fdw_handler()'],
  ['SELECT * FROM "files.prog"', 'file_fdw_handler()'],
  ['SELECT * FROM public."files.prog"', 'file_fdw_handler()'],
  ['SELECT * FROM "odd.schema".prog', 'file_fdw_handler()'],
];

for (const [sql, fn, params] of REFUSED) {
  test.serial(`refused as unknown, nothing runs: ${sql}`, async (t) => {
    if (!real) return t.pass('needs real PostgreSQL (roles, large objects, file_fdw)');
    const res = await query(sql, params);
    t.is(res.status, 403, JSON.stringify(res.body));
    t.true((res.body.reasons ?? []).some((r: string) => r.includes(fn)), JSON.stringify(res.body.reasons));
    await untouched(t);
  });
}

test.serial('the same tables read without running anything are still reads', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  for (const sql of [
    'SELECT id, d FROM withdom ORDER BY id',
    "SELECT upper(d) FROM withdom WHERE d LIKE 'a%'",
    "SELECT coalesce(d, 'x') FROM withdom",
    'SELECT count(*) FROM withdom WHERE id > 0',
    "SELECT id FROM withdom WHERE d = 'a' AND d IN ('a', 'b')",
    "SELECT coalesce(d, 'x'), CASE WHEN id > 0 THEN d ELSE 'y' END FROM withdom",
    'SELECT id, ds FROM arrdom',
    'SELECT ARRAY[d] FROM withdom',
    'SELECT count(*) FROM withdom TABLESAMPLE BERNOULLI (50) REPEATABLE (1)',
    'SELECT count(*) FROM withdom TABLESAMPLE SYSTEM (50)',
  ]) {
    const res = await query(sql);
    t.is(res.status, 200, `${sql}: ${JSON.stringify(res.body)}`);
  }
  await untouched(t);
});
