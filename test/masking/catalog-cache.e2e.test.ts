// The catalog reader's relation cache must hold several tables at once: a statement over `orders`
// must not evict what a statement over `customers` looked up (issue 17: on a cache hit, analysis +
// masking plan asked the catalog nothing only if statements over one table at a time were sent).
// Proven by cutting the catalog's connections once warm: every lookup must still answer.
import test from 'ava';
import pg from 'pg';
import { createEmbeddedSecrets } from '../../shared/adapters/secrets/index.ts';
import { createCatalogReader } from '../../shared/postgres/index.ts';
import { createViewLineageAnalyzer } from '../../shared/masking/view-lineage.ts';
import { createTestDatabase, testPgKind, testPgUrl } from '../helpers/pg.ts';

test('lookups of different tables, alternating, are all answered from the cache once warm', async (t) => {
  if (testPgKind !== 'postgres') return t.pass('needs real PostgreSQL (connections are cut)');
  const db = await createTestDatabase();
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query('CREATE TABLE a (x int); CREATE TABLE b (y int); CREATE TABLE c (z int); CREATE VIEW v AS SELECT x FROM a');
  await admin.end();
  const root = new pg.Client({ connectionString: testPgUrl() });
  await root.connect();
  const catalog = createCatalogReader({ connections: { t: { credentials: 'embedded://t' } }, secrets: createEmbeddedSecrets(new Map([['t', db.url]])), views: createViewLineageAnalyzer() });
  t.teardown(async () => {
    await catalog.close();
    await root.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`).catch(() => {});
    await root.end();
    await db.drop();
  });
  for (const names of [['a'], ['b'], ['c', 'v'], ['a', 'b']]) await catalog.lookup('t', names);
  // Cut every connection the catalog holds, and let no new one in.
  await root.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`);
  await root.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [db.name]);
  for (const names of [['a'], ['b'], ['c'], ['v'], ['b', 'a'], ['a']]) {
    const found = await catalog.lookup('t', names);
    for (const n of names) t.is(found.get(n)?.[0]?.name, n, `${n} from the cache`);
  }
  // And a name never looked up does need the database, which is gone: a refusal, not a guess.
  await t.throwsAsync(catalog.lookup('t', ['never_seen']), { code: 'database_unavailable' } as never);
});
