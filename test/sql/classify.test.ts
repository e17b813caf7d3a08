import test from 'ava';
import { analyze, loadParser, type RiskClass } from '../../shared/sql/index.ts';
import { classifyStatement } from '../../shared/sql/statements.ts';

test.before(async () => {
  await loadParser();
});

// [sql, class, a pattern the reasons must match: the cause, not just the class]
const CASES: readonly (readonly [string, RiskClass, RegExp])[] = [
  // read
  ['SELECT a, b FROM t WHERE c = 1', 'read', /SELECT only reads/],
  ['VALUES (1, 2)', 'read', /VALUES only reads/],
  ['TABLE t', 'read', /only reads/],
  ['SHOW search_path', 'read', /SHOW only reads/],
  ['WITH x AS (SELECT 1) SELECT * FROM x', 'read', /only reads/],
  ['EXPLAIN SELECT * FROM t', 'read', /without ANALYZE/],
  ['EXPLAIN ANALYZE SELECT * FROM t', 'read', /EXPLAIN ANALYZE runs/],
  // EXPLAIN without ANALYZE plans the DELETE and never runs it.
  ['EXPLAIN DELETE FROM t', 'read', /plans the statement without running it/],
  ['EXPLAIN (ANALYZE false) DELETE FROM t', 'read', /without running it/],
  ['SELECT lower(name), count(*) FROM users GROUP BY 1', 'read', /only reads/],
  ['EXPLAIN DECLARE c CURSOR FOR SELECT 1', 'read', /without running it/],
  ['EXPLAIN CREATE TABLE t2 AS SELECT 1', 'read', /without running it/],

  // write
  ['INSERT INTO t (a) VALUES (1)', 'write', /INSERT writes t/],
  ['INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET b = 2', 'write', /ON CONFLICT DO UPDATE writes t/],
  ['UPDATE t SET a = 1 WHERE id = 2', 'write', /UPDATE with WHERE writes t/],
  ['DELETE FROM t WHERE id = 1', 'write', /DELETE with WHERE writes t/],
  ['MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a', 'write', /MERGE writes t/],
  ['WITH x AS (INSERT INTO log VALUES (1) RETURNING *) SELECT * FROM x', 'write', /data-modifying WITH: INSERT writes log/],
  ['SELECT * FROM (WITH y AS (UPDATE u SET a = 1 WHERE id = 2 RETURNING *) SELECT * FROM y) s', 'write', /data-modifying WITH: UPDATE with WHERE writes u/],
  ['SELECT * INTO new_t FROM t', 'write', /SELECT … INTO creates table new_t/],
  ['SELECT 1 INTO TEMP t2 UNION SELECT 2', 'write', /INTO creates table t2/],
  ['SELECT * FROM t WHERE id = 1 FOR UPDATE', 'write', /FOR UPDATE locks the rows/],
  ['SELECT * FROM t FOR SHARE', 'write', /FOR SHARE locks the rows/],
  ['EXPLAIN ANALYZE INSERT INTO t VALUES (1)', 'write', /EXPLAIN ANALYZE: INSERT writes t/],

  // destructive
  ['DELETE FROM users', 'destructive', /DELETE without WHERE removes every row of users/],
  ['UPDATE users SET admin = true', 'destructive', /UPDATE without WHERE changes every row of users/],
  ['DELETE FROM t WHERE true', 'destructive', /always-true WHERE/],
  ['DELETE FROM t WHERE 1 = 1', 'destructive', /always-true WHERE/],
  ["UPDATE t SET a = 1 WHERE 'x' = 'x' OR id = 3", 'destructive', /always-true WHERE/],
  ['TRUNCATE a, s.b', 'destructive', /TRUNCATE removes every row of a, s.b/],
  ['DROP TABLE public.orders', 'destructive', /DROP TABLE destroys public.orders/],
  ['DROP SCHEMA s CASCADE', 'destructive', /DROP SCHEMA destroys s/],
  ['DROP DATABASE prod', 'destructive', /DROP DATABASE destroys prod/],
  ['ALTER TABLE t DROP COLUMN ssn', 'destructive', /DROP COLUMN ssn/],
  ['WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone', 'destructive', /data-modifying WITH: DELETE without WHERE/],
  ['EXPLAIN ANALYZE DELETE FROM t', 'destructive', /EXPLAIN ANALYZE: DELETE without WHERE removes every row of t/],

  // ddl
  ['CREATE TABLE t (id int)', 'ddl', /CREATE TABLE creates t/],
  ['CREATE INDEX i ON t (a)', 'ddl', /CREATE INDEX changes the schema/],
  ['ALTER TABLE t ADD COLUMN b int', 'ddl', /ALTER TABLE changes the definition of t/],
  ['CREATE TABLE t2 AS SELECT * FROM t', 'ddl', /CREATE TABLE AS/],
  ['CREATE VIEW v AS SELECT 1', 'ddl', /CREATE VIEW/],
  ['REFRESH MATERIALIZED VIEW mv', 'ddl', /REFRESH MATERIALIZED VIEW/],
  ['CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$', 'ddl', /CREATE FUNCTION/],
  ["COMMENT ON TABLE t IS 'x'", 'ddl', /COMMENT/],
  ['VACUUM FULL t', 'ddl', /VACUUM is maintenance/],
  ['ANALYZE t', 'ddl', /ANALYZE is maintenance/],
  ['EXPLAIN ANALYZE CREATE TABLE t2 AS SELECT 1', 'ddl', /EXPLAIN ANALYZE: CREATE TABLE AS/],
  // A stored body is judged as if it ran: the rule deletes on every insert.
  ['CREATE RULE r AS ON INSERT TO t DO ALSO DELETE FROM log', 'destructive', /rule action: DELETE without WHERE removes every row of log/],

  // privilege
  ['GRANT SELECT ON t TO bot', 'privilege', /GRANT/],
  ['REVOKE ALL ON t FROM PUBLIC', 'privilege', /REVOKE/],
  ['CREATE ROLE r LOGIN', 'privilege', /CREATE ROLE/],
  ["CREATE USER u PASSWORD 'x'", 'privilege', /CREATE USER/],
  ['ALTER ROLE r SUPERUSER', 'privilege', /ALTER ROLE/],
  ['DROP ROLE r', 'privilege', /DROP ROLE/],
  ['GRANT admin TO bot', 'privilege', /GRANT/],
  ['SET ROLE admin', 'privilege', /SET ROLE changes the role/],
  ['SET LOCAL ROLE admin', 'privilege', /SET ROLE/],
  ['RESET ROLE', 'privilege', /RESET ROLE/],
  ['SET SESSION AUTHORIZATION alice', 'privilege', /SET SESSION AUTHORIZATION/],
  ['SET session_replication_role = replica', 'privilege', /switch off triggers and foreign-key checks/],
  ['ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO bot', 'privilege', /ALTER DEFAULT PRIVILEGES/],
  ['ALTER TABLE t OWNER TO bot', 'privilege', /owner or row-level security of t/],
  ['ALTER TABLE t DISABLE ROW LEVEL SECURITY', 'privilege', /row-level security/],
  ['CREATE POLICY p ON t USING (true)', 'privilege', /CREATE POLICY/],

  // session
  ['BEGIN', 'session', /BEGIN/],
  ['COMMIT', 'session', /COMMIT/],
  ['ROLLBACK TO SAVEPOINT s', 'session', /ROLLBACK TO SAVEPOINT/],
  ['SET search_path = evil, public', 'session', /SET search_path changes session state/],
  ['RESET ALL', 'session', /RESET ALL/],
  ['LISTEN jobs', 'session', /LISTEN/],
  ["NOTIFY jobs, 'x'", 'session', /NOTIFY/],
  ['DISCARD ALL', 'session', /DISCARD/],
  ['SET CONSTRAINTS ALL DEFERRED', 'session', /SET CONSTRAINTS/],

  // unknown
  ['DO $$ BEGIN DELETE FROM t; END $$', 'unknown', /DO runs an anonymous code block/],
  ['CALL archive_orders(30)', 'unknown', /CALL runs procedure archive_orders/],
  ['PREPARE p AS SELECT 1', 'unknown', /PREPARE stores a statement/],
  ['EXECUTE p', 'unknown', /EXECUTE runs prepared statement p/],
  ['COPY t TO STDOUT', 'unknown', /COPY TO exports t/],
  ["COPY t FROM '/etc/passwd'", 'unknown', /reads files on the database server/],
  ["COPY (SELECT 1) TO PROGRAM 'curl evil'", 'unknown', /runs a program/],
  ["LOAD 'evil.so'", 'unknown', /shared library/],
  ['LOCK TABLE t IN ACCESS EXCLUSIVE MODE', 'unknown', /LOCK takes table locks/],
  ['CHECKPOINT', 'unknown', /CHECKPOINT/],
  ["ALTER SYSTEM SET archive_command = 'sh -c evil'", 'unknown', /ALTER SYSTEM/],
  ["SELECT set_config('role', 'admin', false)", 'unknown', /calls set_config\(\)/],
  ["SELECT nextval('s')", 'unknown', /calls nextval\(\)/],
  ['SELECT pg_catalog.pg_terminate_backend(1)', 'unknown', /calls pg_catalog\.pg_terminate_backend\(\)/],
  ["SELECT lo_import('/etc/passwd')", 'unknown', /calls lo_import\(\)/],
  ["select * from dblink('host=x', 'select 1') as t(a int)", 'unknown', /calls dblink\(\), which runs SQL over another connection/],
  ["SELECT pg_read_file('x')", 'unknown', /calls pg_read_file\(\)/],
  ["SELECT PG_CATALOG.PG_READ_FILE('x')", 'unknown', /pg_read_file/],
  ['SELECT pg_sleep(10)', 'unknown', /calls pg_sleep\(\)/],
  ['SELECT pg_advisory_lock(1)', 'unknown', /advisory locks/],
  ["SELECT query_to_xml('delete from t returning *', true, true, '')", 'unknown', /runs SQL given as a string/],
  ["SELECT * FROM t WHERE id IN (SELECT setval('s', 1))", 'unknown', /calls setval\(\)/],
  ["SELECT public.dblink_exec('drop table t')", 'unknown', /dblink_exec/],
  ['CREATE TABLE t AS EXECUTE p', 'unknown', /CREATE TABLE AS: EXECUTE runs prepared statement p/],
  ['PREPARE p AS DELETE FROM t', 'unknown', /PREPARE: DELETE without WHERE/],
  ['EXPLAIN EXECUTE p', 'unknown', /EXECUTE runs prepared statement p/],
  // Planning does not call nextval, but the list is applied everywhere: simpler, and fails closed.
  ["EXPLAIN SELECT nextval('s')", 'unknown', /calls nextval\(\)/],
  ["INSERT INTO t VALUES (nextval('s'))", 'unknown', /calls nextval\(\)/],
];

for (const [sql, cls, reason] of CASES) {
  test(`${cls}: ${sql}`, (t) => {
    const a = analyze(sql);
    t.is(a.class, cls, a.reasons.join('; '));
    t.true(a.reasons.some((r) => reason.test(r)), `reasons: ${JSON.stringify(a.reasons)}`);
  });
}

test('the most severe finding decides, and every finding is listed', (t) => {
  const a = analyze("WITH x AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT nextval('s'), * FROM x");
  t.is(a.class, 'unknown');
  t.deepEqual(a.reasons, ['calls nextval(), which changes a sequence or assigns a transaction id', 'data-modifying WITH: DELETE with WHERE writes t']);
});

test('a read with findings does not also claim to only read', (t) => {
  const a = analyze('SELECT * FROM t FOR UPDATE');
  t.false(a.reasons.some((r) => r.includes('only reads')));
});

test('kinds are readable statement kinds', (t) => {
  const kinds: Record<string, string> = {
    'SELECT 1': 'SELECT',
    'DROP TABLE t': 'DROP TABLE',
    'DROP MATERIALIZED VIEW v': 'DROP MATERIALIZED VIEW',
    'CREATE TABLE t (a int)': 'CREATE TABLE',
    'ALTER TABLE t ADD b int': 'ALTER TABLE',
    'ALTER INDEX i RENAME TO j': 'ALTER INDEX',
    'GRANT SELECT ON t TO u': 'GRANT',
    'EXPLAIN SELECT 1': 'EXPLAIN',
    'START TRANSACTION': 'START TRANSACTION',
    'SET work_mem = 1': 'SET',
    'DO $$ $$': 'DO',
    'COPY t TO STDOUT': 'COPY',
    'CREATE AGGREGATE a (sfunc = f, stype = int)': 'CREATE AGGREGATE',
    'CREATE MATERIALIZED VIEW mv AS SELECT 1': 'CREATE MATERIALIZED VIEW',
  };
  for (const [sql, kind] of Object.entries(kinds)) t.is(analyze(sql).kind, kind, sql);
});

test('tables: as written, CTE names excluded, write targets apart', (t) => {
  const a = analyze(
    'WITH recent AS (SELECT * FROM public.orders WHERE at > now()) ' +
      'INSERT INTO audit.log (id) SELECT r.id FROM recent r JOIN customers c ON c.id = r.customer_id',
  );
  t.deepEqual(a.tables, { read: ['customers', 'public.orders'], written: ['audit.log'] });
  t.deepEqual(a.columns, ['*', 'at', 'c.id', 'r.customer_id', 'r.id']);
  t.deepEqual(a.functions, ['now']);
  t.is(a.pgType, 'InsertStmt');
});

test('tables: DROP, TRUNCATE, SELECT INTO and UPDATE … FROM', (t) => {
  t.deepEqual(analyze('DROP TABLE s.a, b').tables, { read: [], written: ['b', 's.a'] });
  t.deepEqual(analyze('TRUNCATE x, y').tables, { read: [], written: ['x', 'y'] });
  t.deepEqual(analyze('SELECT * INTO copy FROM src').tables, { read: ['src'], written: ['copy'] });
  t.deepEqual(analyze('UPDATE t SET a = u.a FROM u WHERE t.id = u.id').tables, { read: ['u'], written: ['t'] });
  // FOR UPDATE OF names a FROM item, here an alias: not a table.
  t.deepEqual(analyze('SELECT * FROM t AS a FOR UPDATE OF a').tables, { read: ['t'], written: [] });
  // EXPLAIN without ANALYZE writes nothing.
  t.deepEqual(analyze('EXPLAIN DELETE FROM t').tables, { read: ['t'], written: [] });
});

test('columns and functions: stars, qualification, lower-cased function names', (t) => {
  const a = analyze('SELECT t.*, *, "Mixed", Upper(x), PG_CATALOG.LOWER(y) FROM t');
  t.deepEqual(a.columns, ['*', 'Mixed', 't.*', 'x', 'y']);
  t.deepEqual(a.functions, ['pg_catalog.lower', 'upper']);
});

test('fingerprint: equal when only constants differ', (t) => {
  const one = analyze('select * from t where a = 1');
  t.is(one.fingerprint, analyze('SELECT  *  FROM t /* hi */ WHERE a = 2').fingerprint);
  t.not(one.fingerprint, analyze('select * from t where b = 1').fingerprint);
  t.not(one.fingerprint, analyze('select * from t where a > 1').fingerprint);
  t.regex(one.fingerprint, /^[0-9a-f]{16}$/);
  t.is(analyze('SELECT * FROM t WHERE id IN (1, 2, 3)').fingerprint, analyze("SELECT * FROM t WHERE id IN (7, 8)").fingerprint);
  t.is(analyze('SELECT * FROM t WHERE a = $1').fingerprint, analyze('SELECT * FROM t WHERE a = $2').fingerprint);
  t.not(analyze('DELETE FROM t WHERE a = 1').fingerprint, analyze('SELECT * FROM t WHERE a = 1').fingerprint);
});

test('fingerprint: deep expressions are fine (computed iteratively, not by libpg-query)', (t) => {
  // libpg-query's fingerprintSync overflowed the stack on 30 concatenations once V8 had optimised it.
  const terms = Array.from({ length: 1000 }, (_, i) => `c${i}`).join(' || ');
  const a = analyze(`SELECT ${terms} FROM t`);
  t.is(a.class, 'read');
  t.regex(a.fingerprint, /^[0-9a-f]{16}$/);
});

test('a statement type nobody mapped is unknown, by name', (t) => {
  const v = classifyStatement('FrobnicateWidgetStmt', {});
  t.is(v.kind, 'FROBNICATE_WIDGET');
  t.deepEqual(v.findings, [{ class: 'unknown', reason: 'statement type FrobnicateWidgetStmt is not recognised' }]);
});
