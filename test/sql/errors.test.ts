import test from 'ava';
import { GatehouseError } from '../../shared/errors.ts';
import { MAX_ESTIMATED_DEPTH, estimatedDepth } from '../../shared/sql/depth-guard.ts';
import { analyze, loadParser } from '../../shared/sql/index.ts';

test.before(async () => {
  await loadParser();
});

test('empty, whitespace-only and comment-only SQL: sql_empty', (t) => {
  for (const sql of ['', '   \n\t', '-- nothing here', '/* nor here */', ';', ' ; ; ']) {
    t.throws<GatehouseError>(() => analyze(sql), { instanceOf: GatehouseError, code: 'sql_empty' }, JSON.stringify(sql));
  }
});

test('SQL PostgreSQL cannot parse: sql_unparsable with a 1-based position', (t) => {
  const e = t.throws<GatehouseError>(() => analyze('SELEC 1'), { code: 'sql_unparsable' });
  t.deepEqual(e?.details, { position: 1 });
  t.regex(e?.message ?? '', /syntax error at or near "SELEC"/);
  const later = t.throws<GatehouseError>(() => analyze('SELECT 1 FROM WHERE'), { code: 'sql_unparsable' });
  t.deepEqual(later?.details, { position: 15 }); // the W of WHERE, as psql would report it
});

test('more than one statement: sql_multiple_statements with the count', (t) => {
  const e = t.throws<GatehouseError>(() => analyze('SELECT 1; SELECT 2'), { code: 'sql_multiple_statements' });
  t.deepEqual(e?.details, { count: 2 });
  t.throws<GatehouseError>(() => analyze('COMMIT; DELETE FROM users'), { code: 'sql_multiple_statements' });
});

test('one trailing semicolon is still one statement', (t) => {
  t.is(analyze('SELECT 1;').class, 'read');
});

test("a backslash does not hide a second statement inside a string", (t) => {
  // With standard_conforming_strings on (the default since 9.1, and what libpg-query assumes) a
  // backslash is an ordinary character: the literal is '\', then `DELETE FROM users` is a second
  // statement and `--'` a comment. node-sql-parser reads the whole line as one harmless SELECT.
  // The parser sees two statements; we refuse the request rather than analyse either.
  const e = t.throws<GatehouseError>(() => analyze("SELECT '\\'; DELETE FROM users; --'"), { code: 'sql_multiple_statements' });
  t.deepEqual(e?.details, { count: 2 });
});

test('a NUL byte is refused: the parser would stop reading there', (t) => {
  const e = t.throws<GatehouseError>(() => analyze('SELECT 1\0; DELETE FROM users'), { code: 'sql_unparsable' });
  t.deepEqual(e?.details, { position: 9 });
});

test('analyze before loadParser is a caller mistake (TypeError), checked in a fresh module', async (t) => {
  const fresh = (await import(`../../shared/sql/parse.ts?fresh=${Date.now()}`)) as typeof import('../../shared/sql/parse.ts');
  t.throws(() => fresh.parseOne('SELECT 1'), { instanceOf: TypeError, message: /loadParser/ });
});

test('SQL nested deeply enough to overflow the parser is refused before it reaches it', (t) => {
  const deep = 'SELECT ' + Array(12_000).fill('1').join('+'); // 24 KB; overflows the WASM stack
  t.true(estimatedDepth(deep) > MAX_ESTIMATED_DEPTH);
  // Each overflow inside WASM leaks its stack and a few dozen break the parser for the process:
  // refusing up front keeps it working however often this is sent.
  for (let i = 0; i < 60; i++) t.throws<GatehouseError>(() => analyze(deep), { code: 'sql_unparsable', message: /nested too deeply/ });
  t.is(analyze('SELECT 1').class, 'read');
});

test('deep nesting under the limit is analysed (the walk is iterative)', (t) => {
  const subselects = 'SELECT ' + '(SELECT '.repeat(900) + "nextval('s')" + ')'.repeat(900);
  t.is(analyze(subselects).class, 'unknown');
  const unions = Array.from({ length: 1000 }, (_, i) => `SELECT ${i}`).join(' UNION ');
  t.is(analyze(unions).class, 'read');
});

test('long but flat SQL passes the depth guard', (t) => {
  const rows = Array.from({ length: 5000 }, (_, i) => `(${i}, 'name ${i}', NULL, -${i}.5, true)`).join(', ');
  const a = analyze(`INSERT INTO t VALUES ${rows}`);
  t.is(a.class, 'write');
  const inList = analyze(`SELECT * FROM t WHERE id IN (${Array.from({ length: 20_000 }, (_, i) => i).join(', ')})`);
  t.is(inList.class, 'read');
});
