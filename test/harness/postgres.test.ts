import test from 'ava';
import pg from 'pg';
import { createTestDatabase, testPgKind } from '../helpers/pg.ts';

test('the harness gives each caller a working database of its own', async (t) => {
  const a = await createTestDatabase();
  const b = await createTestDatabase();
  t.teardown(async () => { await a.drop(); await b.drop(); });
  const ca = new pg.Client({ connectionString: a.url });
  const cb = new pg.Client({ connectionString: b.url });
  await ca.connect(); await cb.connect();
  t.teardown(async () => { await ca.end(); await cb.end(); });
  await ca.query('CREATE TABLE only_in_a (x int)');
  const seen = await cb.query("SELECT count(*)::int AS n FROM pg_class WHERE relname = 'only_in_a'");
  if (testPgKind === 'pglite') t.is(seen.rows[0].n, 1, 'PGlite shares one database');
  else t.is(seen.rows[0].n, 0);
  const v = await ca.query('SHOW server_version');
  t.log(`server ${testPgKind} ${v.rows[0].server_version}`);
});
