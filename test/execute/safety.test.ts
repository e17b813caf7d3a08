// The layers under the parser: PostgreSQL itself refuses a second statement (extended protocol)
// and any write inside a read (READ ONLY), and a pooled connection carries nothing from one
// request to the next.
import test from 'ava';
import type { GatehouseError } from '../../shared/errors.ts';
import { openFixture, type Fixture } from './fixture.ts';

let f: Fixture;

test.before(async () => {
  f = await openFixture(`
    CREATE TABLE victim (id int);
    INSERT INTO victim SELECT generate_series(1, 5);
    CREATE TABLE control (id int);
    INSERT INTO control SELECT generate_series(1, 5);
    CREATE TABLE planted_target (x int);
    CREATE FUNCTION planted() RETURNS int LANGUAGE sql AS $$ INSERT INTO planted_target VALUES (1) RETURNING 1 $$;
    CREATE SEQUENCE s;
    CREATE TABLE cte_target (x int);
  `, { poolSize: 1 });
});
test.after.always(async () => {
  await f?.close();
});

test('a second statement is refused by PostgreSQL, not by the parser', async (t) => {
  for (const sql of ['SELECT 1; SELECT 2', 'COMMIT; DELETE FROM victim', "SELECT ''';'; DELETE FROM victim; --'"]) {
    for (const readOnly of [true, false]) {
      const err = await t.throwsAsync<GatehouseError>(f.target.run(f.req(sql, { readOnly })), { code: 'execution_failed' }, sql);
      t.is(err?.details?.sqlstate, '42601', sql);
      t.regex(err?.message ?? '', /cannot insert multiple commands into a prepared statement/, sql);
    }
  }
  t.is(await f.count('victim'), 5);
});

test('control: the simple protocol would have run the DELETE (the test above can fail)', async (t) => {
  await f.admin.query('COMMIT; DELETE FROM control');
  t.is(await f.count('control'), 0);
});

test('a write hidden in a function fails under READ ONLY and leaves nothing behind', async (t) => {
  await t.throwsAsync<GatehouseError>(f.target.run(f.req('SELECT planted()', { readOnly: true })), { code: 'read_only_violation' });
  t.is(await f.count('planted_target'), 0);
  const ok = await f.target.run(f.req('SELECT planted()', { readOnly: false }));
  t.deepEqual(ok.rows, [[1]]);
  t.is(await f.count('planted_target'), 1);
});

test('nextval() and data-modifying CTEs fail under READ ONLY', async (t) => {
  const err = await t.throwsAsync<GatehouseError>(f.target.run(f.req("SELECT nextval('s')", { readOnly: true })), { code: 'read_only_violation' });
  t.is(err?.details?.sqlstate, '25006');
  const ok = await f.target.run(f.req("SELECT nextval('s')", { readOnly: false }));
  t.deepEqual(ok.rows, [['1']]);

  await t.throwsAsync<GatehouseError>(f.target.run(f.req('WITH x AS (INSERT INTO cte_target VALUES (1) RETURNING x) SELECT * FROM x')), {
    code: 'read_only_violation',
  });
  t.is(await f.count('cte_target'), 0);
});

test('a read cannot switch its own transaction to read-write', async (t) => {
  for (const sql of ['SET TRANSACTION READ WRITE', 'SET transaction_read_only = off']) {
    const err = await t.throwsAsync<GatehouseError>(f.target.run(f.req(sql)), { code: 'execution_failed' }, sql);
    t.is(err?.details?.sqlstate, '25001', sql);
  }
});

test('session state left by one statement does not reach the next request', async (t) => {
  // poolSize 1: both requests use the same server connection.
  const pid = async () => (await f.target.run(f.req('SELECT pg_backend_pid()'))).rows[0]?.[0];
  const before = await pid();
  await f.target.run(f.req("SELECT set_config('search_path', 'nowhere', false), pg_advisory_lock(42)", { readOnly: false }));
  t.is(await pid(), before, 'same connection');
  const path = await f.target.run(f.req('SHOW search_path'));
  t.deepEqual(path.rows, [['"$user", public']]);
  const { rows } = await f.admin.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'");
  t.is(rows[0].n, 0);
});
