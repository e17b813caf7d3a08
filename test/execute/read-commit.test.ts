// A read's COMMIT is pipelined with the statement (docs/postgres-engine.md): one round trip. These
// tests attack what that could break: a statement that ends our transaction itself must still be
// caught (in every syntax, chained or not), an error must still skip COMMIT, the row cap, the byte
// budget and the statement timeout still apply, a type name not yet cached is looked up after the
// transaction, and a recording that fails answers no rows.
import test from 'ava';
import type { GatehouseError } from '../../shared/errors.ts';
import { openFixture, type Fixture } from './fixture.ts';

let f: Fixture;
/** The reset runs off the answer's path; give the connection time to be idle in the pool again. */
const settle = () => new Promise((r) => setTimeout(r, 150));

test.before(async () => {
  // One connection: whatever a statement leaves behind, the next request gets the same backend.
  f = await openFixture(
    `CREATE TABLE items (id int PRIMARY KEY, body text);
     INSERT INTO items SELECT g, repeat('x', 100) FROM generate_series(1, 50) g;
     CREATE TYPE mood AS ENUM ('calm', 'alarmed');`,
    { poolSize: 1 },
  );
});
test.after.always(async () => {
  await f?.close();
});

async function backendState(): Promise<{ readOnly: string }> {
  await settle();
  const r = await f.target.run(f.req("SELECT pg_catalog.current_setting('transaction_read_only') AS ro"));
  return { readOnly: String(r.rows[0]![0]) };
}

test.serial('a statement that ends the READ ONLY transaction itself is refused, chained or not, and the connection is not reused', async (t) => {
  const enders = [
    'COMMIT',
    'END',
    'ROLLBACK',
    'ABORT',
    'COMMIT AND CHAIN',
    'ROLLBACK AND CHAIN',
    'END AND CHAIN',
    'commit /* ; */',
    '  CoMmIt  WORK',
    "PREPARE TRANSACTION 'gatehouse_x'",
  ];
  for (const sql of enders) {
    const pidBefore = await pid();
    const err = await t.throwsAsync<GatehouseError>(f.target.run(f.req(sql)), undefined, sql);
    t.is(err?.code, 'execution_failed', `${sql}: ${err?.message}`);
    // Prepared transactions are off (max_prepared_transactions = 0): the server refuses that one.
    if (!sql.startsWith('PREPARE')) {
      t.is(err?.message, 'the statement ended the transaction', sql);
      t.is(err?.details?.commit, 'unknown', sql);
      await settle();
      t.not(await pid(), pidBefore, `${sql}: a connection whose transaction the statement ended is destroyed`);
    }
  }
  t.is((await f.admin.query('SELECT count(*)::int AS n FROM pg_prepared_xacts')).rows[0].n, 0);
  t.is((await backendState()).readOnly, 'on', 'the next read is READ ONLY again');
});

async function pid(): Promise<number> {
  await settle();
  return Number((await f.target.run(f.req('SELECT pg_catalog.pg_backend_pid()'))).rows[0]![0]);
}

test.serial('an error in the statement skips the pipelined COMMIT; the connection is rolled back and reused', async (t) => {
  const before = await pid();
  for (const sql of ['SELECT 1/0', 'SELECT * FROM no_such_table', "SELECT 'x'::int", "SELECT pg_catalog.set_config('transaction_read_only', 'off', true)"]) {
    const err = await t.throwsAsync<GatehouseError>(f.target.run(f.req(sql)), undefined, sql);
    t.truthy(err?.code, sql);
  }
  // A write inside the READ ONLY transaction is refused by the server, in several syntaxes.
  for (const sql of ['INSERT INTO items VALUES (999, null)', 'WITH d AS (DELETE FROM items RETURNING id) SELECT * FROM d', "SELECT pg_catalog.nextval('nope')"]) {
    await t.throwsAsync(f.target.run(f.req(sql)), undefined, sql);
  }
  t.is(await f.count('items'), 50);
  t.is(await pid(), before, 'an error the server reported leaves a clean connection (ROLLBACK travels with the reset)');
  const { rows } = await f.target.run(f.req('SELECT count(*)::int FROM items'));
  t.is(rows[0]![0], 50);
});

test.serial('the row cap and the byte budget still cut a read whose COMMIT is pipelined', async (t) => {
  const capped = await f.target.run(f.req('SELECT id FROM items ORDER BY id', { maxRows: 5 }));
  t.is(capped.rowCount, 5);
  t.true(capped.truncated);
  t.is(capped.truncatedBy, 'rows');
  t.is(capped.command, 'SELECT');
  const bytes = await f.target.run(f.req('SELECT id, body FROM items ORDER BY id', { maxResultBytes: 1_000 }));
  t.true(bytes.truncated);
  t.is(bytes.truncatedBy, 'bytes');
  t.true(bytes.rows.length < 10 && bytes.rows.length > 0);
});

test.serial('the statement timeout still applies to a read, and it is local to the transaction', async (t) => {
  const err = await t.throwsAsync<GatehouseError>(f.target.run(f.req('SELECT pg_catalog.pg_sleep(2)', { statementTimeoutMs: 200 })));
  t.is(err?.code, 'statement_timeout');
  await settle();
  // The transaction-local setting did not outlive the statement.
  const r = await f.target.run(f.req("SELECT pg_catalog.current_setting('statement_timeout')", { statementTimeoutMs: 4321 }));
  t.is(r.rows[0]![0], '4321ms');
});

test.serial('a type not yet cached is named after the transaction, even when the statement moved search_path', async (t) => {
  const r = await f.target.run(f.req("SELECT pg_catalog.set_config('search_path', 'nowhere', false) AS p, 'calm'::public.mood AS m"));
  t.deepEqual(
    r.fields.map((x) => x.type),
    ['text', 'mood'],
  );
  t.is(r.rows[0]![1], 'calm');
});

test.serial('a read whose recording fails answers no rows and rejects with that error', async (t) => {
  const recordFailed = new Error('the log is down');
  let seen = 0;
  const err = await t.throwsAsync(
    f.target.run(
      f.req('SELECT id FROM items WHERE id <= 3', {
        beforeCommit: async (result) => {
          seen = result.rowCount;
          throw recordFailed;
        },
      }),
    ),
  );
  t.is(seen, 3, 'the hook saw the result');
  t.truthy(err);
  // The pool still serves from a clean connection.
  await settle();
  t.is((await f.target.run(f.req('SELECT 1'))).rows[0]![0], 1);
});

test.serial('an empty statement and a statement with no rows still end in our COMMIT', async (t) => {
  const none = await f.target.run(f.req('SELECT id FROM items WHERE false'));
  t.is(none.rowCount, 0);
  t.is(none.command, 'SELECT');
  const show = await f.target.run(f.req('SHOW transaction_read_only'));
  t.is(show.rows[0]![0], 'on');
});
