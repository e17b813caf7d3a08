import test from 'ava';
import type { GatehouseError } from '../../shared/errors.ts';
import { openFixture, type Fixture } from './fixture.ts';

let f: Fixture;

test.before(async () => {
  f = await openFixture(`
    CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL, email text);
    INSERT INTO t SELECT g, 'n' || g, 'u' || g || '@example.test' FROM generate_series(1, 50) g;
    CREATE TYPE mood AS ENUM ('calm', 'tense');
    CREATE TABLE moods (m mood);
    INSERT INTO moods VALUES ('calm');
    CREATE TABLE w (id int PRIMARY KEY, v text);
    CREATE TABLE r (id int);
  `);
});
test.after.always(async () => {
  await f?.close();
});

test('a read returns fields with provenance and type names, and rows as arrays', async (t) => {
  const res = await f.target.run(f.req('SELECT id, name, lower(email) AS e FROM t WHERE id <= 3 ORDER BY id'));
  const { rows: oid } = await f.admin.query<{ oid: number }>("SELECT 't'::regclass::oid AS oid");
  t.is(res.command, 'SELECT');
  t.is(res.rowCount, 3);
  t.false(res.truncated);
  t.deepEqual(res.fields, [
    { name: 'id', dataTypeID: 23, tableID: oid[0]!.oid, columnID: 1, type: 'int4' },
    { name: 'name', dataTypeID: 25, tableID: oid[0]!.oid, columnID: 2, type: 'text' },
    { name: 'e', dataTypeID: 25, tableID: 0, columnID: 0, type: 'text' },
  ]);
  t.deepEqual(res.rows, [
    [1, 'n1', 'u1@example.test'],
    [2, 'n2', 'u2@example.test'],
    [3, 'n3', 'u3@example.test'],
  ]);
  t.true(res.durationMs >= 0);
});

test('a user-defined type is named from pg_type', async (t) => {
  const res = await f.target.run(f.req('SELECT m FROM moods'));
  t.is(res.fields[0]?.type, 'mood');
  t.deepEqual(res.rows, [['calm']]);
});

test('maxRows caps the rows and says so; exactly maxRows is not truncated', async (t) => {
  const capped = await f.target.run(f.req('SELECT id FROM t ORDER BY id', { maxRows: 10 }));
  t.is(capped.rows.length, 10);
  t.is(capped.rowCount, 10);
  t.true(capped.truncated);
  t.is(capped.command, 'SELECT');
  t.deepEqual(capped.rows.map((r) => r[0]), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

  const all = await f.target.run(f.req('SELECT id FROM t', { maxRows: 50 }));
  t.is(all.rows.length, 50);
  t.false(all.truncated);

  const none = await f.target.run(f.req('SELECT id FROM t WHERE false', { maxRows: 0 }));
  t.false(none.truncated);
  t.is(none.rowCount, 0);
  const zero = await f.target.run(f.req('SELECT id FROM t', { maxRows: 0 }));
  t.true(zero.truncated);
  t.deepEqual(zero.rows, []);
});

test('a write commits; its command and rowCount come from CommandComplete', async (t) => {
  const ins = await f.target.run(f.req("INSERT INTO w VALUES (1, 'a'), (2, 'b')", { readOnly: false }));
  t.is(ins.command, 'INSERT');
  t.is(ins.rowCount, 2);
  t.deepEqual(ins.fields, []);
  t.deepEqual(ins.rows, []);
  t.false(ins.truncated);

  const upd = await f.target.run(f.req("UPDATE w SET v = 'c' WHERE id = 2", { readOnly: false }));
  t.is(upd.command, 'UPDATE');
  t.is(upd.rowCount, 1);

  const ddl = await f.target.run(f.req('CREATE TABLE made_here (a int)', { readOnly: false }));
  t.is(ddl.command, 'CREATE');
  t.is(ddl.rowCount, 0);
  t.is(await f.count('made_here'), 0);

  // Committed: another session sees them.
  const { rows } = await f.admin.query('SELECT id, v FROM w WHERE id IN (1, 2) ORDER BY id');
  t.deepEqual(rows, [{ id: 1, v: 'a' }, { id: 2, v: 'c' }]);
});

test('a truncated RETURNING still writes every row and keeps its command', async (t) => {
  const res = await f.target.run(f.req('INSERT INTO r SELECT g FROM generate_series(1, 20) g RETURNING id', { readOnly: false, maxRows: 5 }));
  t.true(res.truncated);
  t.is(res.rows.length, 5);
  t.is(res.command, 'INSERT');
  t.is(await f.count('r'), 20);
});

test('a failing statement rolls back everything and the pool stays usable', async (t) => {
  await f.target.run(f.req("INSERT INTO w VALUES (10, 'first')", { readOnly: false }));
  const err = await t.throwsAsync<GatehouseError>(f.target.run(f.req("INSERT INTO w VALUES (11, 'x'), (10, 'dup')", { readOnly: false })), {
    code: 'execution_failed',
  });
  t.is(err?.details?.sqlstate, '23505');
  t.regex(err?.message ?? '', /duplicate key value violates unique constraint/);
  // `detail` quotes the row ("Key (id)=(10) already exists"): it must not travel.
  t.notRegex(JSON.stringify({ m: err?.message, d: err?.details }), /already exists|\(10\)/);
  const { rows } = await f.admin.query('SELECT id FROM w WHERE id IN (10, 11) ORDER BY id');
  t.deepEqual(rows, [{ id: 10 }]);
  // Every client of the pool (5) is still good.
  const again = await Promise.all(Array.from({ length: 8 }, () => f.target.run(f.req('SELECT 1 AS one'))));
  t.true(again.every((r) => r.rows[0]?.[0] === 1));
});

test('a syntax error carries its SQLSTATE and position', async (t) => {
  const err = await t.throwsAsync<GatehouseError>(f.target.run(f.req('SELECT id FROM t WHERE')), { code: 'execution_failed' });
  t.is(err?.details?.sqlstate, '42601');
  t.is(typeof err?.details?.position, 'number');
});

test('params bind through $n', async (t) => {
  const res = await f.target.run(
    f.req('SELECT $1::int + 1 AS n, $2::text AS s, $3::bool AS b, $4::text IS NULL AS isnull, name FROM t WHERE id = $5', {
      params: [41, "it's", true, null, 7],
    }),
  );
  t.deepEqual(res.rows, [[42, "it's", true, true, 'n7']]);
});

test('params of the wrong shape are refused before any connection is taken', async (t) => {
  for (const params of [[{ a: 1 }], [[1]], [undefined], [Number.NaN], 'x', null, [1n]] as unknown[]) {
    await t.throwsAsync<GatehouseError>(f.target.run(f.req('SELECT $1', { params: params as unknown[] })), { code: 'invalid_params' }, String(params));
  }
});

test('an unknown connection is refused', async (t) => {
  await t.throwsAsync<GatehouseError>(f.target.run({ ...f.req('SELECT 1'), connection: 'nope' }), { code: 'unknown_connection' });
  // An inherited property is not a connection either.
  await t.throwsAsync<GatehouseError>(f.target.run({ ...f.req('SELECT 1'), connection: 'toString' }), { code: 'unknown_connection' });
});

test('readOnly, maxRows and statementTimeoutMs are checked', async (t) => {
  await t.throwsAsync<GatehouseError>(f.target.run(f.req('SELECT 1', { readOnly: undefined as unknown as boolean })), { code: 'bad_request' });
  await t.throwsAsync<GatehouseError>(f.target.run(f.req('SELECT 1', { maxRows: -1 })), { code: 'bad_request' });
  await t.throwsAsync<GatehouseError>(f.target.run(f.req('SELECT 1', { maxRows: 1.5 })), { code: 'bad_request' });
  await t.throwsAsync<GatehouseError>(f.target.run(f.req('SELECT 1', { statementTimeoutMs: 0 })), { code: 'bad_request' });
  await t.throwsAsync<GatehouseError>(f.target.run(f.req('SELECT 1', { statementTimeoutMs: '5000; SET x' as unknown as number })), { code: 'bad_request' });
});

test('values come back JSON-safe', async (t) => {
  const res = await f.target.run(
    f.req(`SELECT '\\xdeadbeef'::bytea, DATE '2024-01-15', TIMESTAMP '2024-01-15 10:11:12.123456',
      TIMESTAMPTZ '2024-01-15 10:00:00+02', 9007199254740993::int8, 1.10::numeric, 'NaN'::float8,
      'infinity'::timestamptz, '{"a": [1, "x"]}'::jsonb, ARRAY[1, 2]::int[], ARRAY['\\x01'::bytea, NULL],
      ARRAY[DATE '2024-02-29'], NULL::text, 2.5::float8`),
  );
  const expected = [
    '\\xdeadbeef',
    '2024-01-15',
    '2024-01-15 10:11:12.123456',
    '2024-01-15T08:00:00.000Z',
    '9007199254740993',
    '1.10',
    'NaN',
    'Infinity',
    { a: [1, 'x'] },
    [1, 2],
    ['\\x01', null],
    ['2024-02-29'],
    null,
    2.5,
  ];
  t.deepEqual(res.rows, [expected]);
  t.deepEqual(JSON.parse(JSON.stringify(res.rows)), [expected]);
  t.deepEqual(res.fields.map((x) => x.type), ['bytea', 'date', 'timestamp', 'timestamptz', 'int8', 'numeric', 'float8', 'timestamptz', 'jsonb', '_int4', '_bytea', '_date', 'text', 'float8']);
});

test('an empty statement answers with no rows', async (t) => {
  const res = await f.target.run(f.req('-- nothing'));
  t.deepEqual(res.rows, []);
  t.is(res.rowCount, 0);
});

test('after close, nothing runs', async (t) => {
  const g = await openFixture('SELECT 1');
  await g.target.run(g.req('SELECT 1'));
  await g.close();
  await t.throwsAsync<GatehouseError>(g.target.run(g.req('SELECT 1')), { code: 'database_unavailable' });
});
