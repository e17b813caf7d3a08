// A dblink connection one request opens must not serve the next request on the same backend:
// DISCARD ALL does not close it, so the pool closes every named and the unnamed connection on
// release — or, when the role cannot, destroys the backend. Checked on real PostgreSQL with a pool
// of one, so the next lease is the same client; the backend pid says whether it was reused.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import pg from 'pg';
import { createEmbeddedSecrets } from '../../shared/adapters/secrets/index.ts';
import { createTargetDatabase } from '../../shared/postgres/index.ts';
import type { GatehouseError } from '../../shared/errors.ts';
import type { StatementRequest, TargetDatabase } from '../../shared/ports.ts';
import { createTestDatabase, testPgKind, type TestDatabase } from '../helpers/pg.ts';

let db: TestDatabase;
let admin: pg.Client;
const roles: string[] = [];

test.before(async () => {
  if (testPgKind === 'pglite') return;
  db = await createTestDatabase();
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query('CREATE SCHEMA ext; CREATE EXTENSION dblink SCHEMA ext; CREATE TABLE notes (body text)');
});

test.after.always(async () => {
  if (!admin) return;
  await admin.end();
  await db.drop();
  const c = new pg.Client({ connectionString: new URL('/postgres', db.url).toString() });
  await c.connect();
  for (const r of roles) await c.query(`DROP ROLE IF EXISTS ${r}`).catch(() => {});
  await c.end();
});

const realPg = testPgKind === 'pglite' ? test.skip : test.serial;

function target(url: string): TargetDatabase {
  return createTargetDatabase({ connections: { t: { credentials: 'embedded://t' } }, secrets: createEmbeddedSecrets(new Map([['t', url]])), poolSize: 1 });
}

const req = (sql: string, more: Partial<StatementRequest> = {}): StatementRequest => ({
  connection: 't',
  sql,
  params: [],
  readOnly: true,
  maxRows: 100,
  statementTimeoutMs: 5000,
  ...more,
});

function asRole(url: string, role: string): string {
  const u = new URL(url);
  u.username = role;
  return u.toString();
}

async function newRole(): Promise<string> {
  const name = `dbl_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE ROLE ${name} LOGIN; GRANT CONNECT ON DATABASE ${db.name} TO ${name}; GRANT USAGE ON SCHEMA ext TO ${name}; GRANT SELECT, INSERT ON notes TO ${name}`);
  roles.push(name);
  return name;
}

/** A libpq connection string for dblink to reach this database over TCP (the harness trusts loopback). */
function libpq(url: string): string {
  const u = new URL(url);
  return `host=${u.hostname} port=${u.port} dbname=${u.pathname.slice(1)} user=${decodeURIComponent(u.username)}`;
}

const pidOf = async (t: TargetDatabase) => (await t.run(req('SELECT pg_backend_pid()'))).rows[0]![0] as number;

realPg('named and unnamed dblink connections are closed on release; the backend is reused', async (t) => {
  const tg = target(db.url);
  t.teardown(() => tg.close());
  const connstr = libpq(db.url);
  const before = await pidOf(tg);
  // Attribute notation and call form, in a schema off the search_path, which the bot then changes.
  await tg.run(req(`SELECT ext.dblink_connect('leak', '${connstr}'), ext.dblink_connect('${connstr}'), set_config('search_path', 'pg_catalog', false)`));
  t.is(await pidOf(tg), before, 'the same backend, cleaned rather than replaced');
  const after = await tg.run(req('SELECT ext.dblink_get_connections()'));
  t.deepEqual(after.rows, [[null]]);
  // The unnamed connection is gone too: using it fails instead of writing outside READ ONLY.
  const err = await t.throwsAsync<GatehouseError>(tg.run(req("SELECT ext.dblink_exec('INSERT INTO notes VALUES (''leaked'')')")));
  t.is(err?.details?.sqlstate, '08003', 'connection_does_not_exist: no unnamed connection');
  t.is(Number((await admin.query('SELECT count(*) FROM notes')).rows[0].count), 0);
});

realPg('a connection opened by a statement that then fails is closed too (dblink is not transactional)', async (t) => {
  const tg = target(db.url);
  t.teardown(() => tg.close());
  const pid = await pidOf(tg);
  await t.throwsAsync(tg.run(req(`SELECT ext.dblink_connect('kept', '${libpq(db.url)}'), 1 / 0`)));
  t.is(await pidOf(tg), pid);
  t.deepEqual((await tg.run(req('SELECT ext.dblink_get_connections()'))).rows, [[null]]);
});

realPg('look-alike clean-up functions earlier on the search_path change nothing', async (t) => {
  // Planted in public (ahead of the extension's schema on the bot's search_path): they would report
  // "no connections" and close nothing. The clean-up names the extension's own schema.
  await admin.query(`
    CREATE FUNCTION public.dblink_get_connections() RETURNS text[] LANGUAGE sql AS 'SELECT NULL::text[]';
    CREATE FUNCTION public.dblink_disconnect() RETURNS text LANGUAGE sql AS 'SELECT ''OK''';
    CREATE FUNCTION public.dblink_disconnect(text) RETURNS text LANGUAGE sql AS 'SELECT ''OK''';
    ALTER DATABASE ${db.name} SET search_path = public, ext`);
  t.teardown(() =>
    admin.query(`DROP FUNCTION public.dblink_get_connections(), public.dblink_disconnect(), public.dblink_disconnect(text);
      ALTER DATABASE ${db.name} RESET search_path`),
  );
  const tg = target(db.url);
  t.teardown(() => tg.close());
  const pid = await pidOf(tg);
  await tg.run(req(`SELECT ext.dblink_connect('hidden', '${libpq(db.url)}'), ext.dblink_connect('${libpq(db.url)}')`));
  t.is(await pidOf(tg), pid);
  t.deepEqual((await tg.run(req('SELECT ext.dblink_get_connections()'))).rows, [[null]]);
  const err = await t.throwsAsync<GatehouseError>(tg.run(req("SELECT ext.dblink_exec('SELECT 1')")));
  t.is(err?.details?.sqlstate, '08003');
});

realPg('many named connections opened across statements are all closed', async (t) => {
  const tg = target(db.url);
  t.teardown(() => tg.close());
  const pid = await pidOf(tg);
  await tg.run(req(`SELECT ext.dblink_connect('c' || i, '${libpq(db.url)}') FROM generate_series(1, 5) i`));
  t.deepEqual((await tg.run(req('SELECT ext.dblink_get_connections()'))).rows, [[null]]);
  t.is(await pidOf(tg), pid);
  // The remote sessions really ended (the cluster saw them go).
  const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'dblink'", [db.name]);
  t.is(rows[0].n, 0);
});

realPg('a role that may open dblink connections but not close them gets a fresh backend', async (t) => {
  const role = await newRole();
  // dblink_connect granted (it is to PUBLIC by default), the clean-up functions taken away.
  await admin.query(`REVOKE EXECUTE ON FUNCTION ext.dblink_disconnect(), ext.dblink_disconnect(text), ext.dblink_get_connections() FROM PUBLIC`);
  t.teardown(() => admin.query('GRANT EXECUTE ON FUNCTION ext.dblink_disconnect(), ext.dblink_disconnect(text), ext.dblink_get_connections() TO PUBLIC'));
  const tg = target(asRole(db.url, role));
  t.teardown(() => tg.close());
  const first = await pidOf(tg);
  const second = await pidOf(tg);
  t.not(first, second, 'recycled: nothing proves it clean');
});

realPg('a role that may execute no dblink function keeps its backend (nothing it could have opened)', async (t) => {
  const role = await newRole();
  await admin.query(`DO $$ DECLARE f regprocedure; BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p WHERE p.proname LIKE 'dblink%' LOOP
      EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP; END $$`);
  t.teardown(() =>
    admin.query(`DO $$ DECLARE f regprocedure; BEGIN
      FOR f IN SELECT p.oid::regprocedure FROM pg_proc p WHERE p.proname LIKE 'dblink%' AND p.proname <> 'dblink_connect_u' LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC', f);
      END LOOP; END $$`),
  );
  const tg = target(asRole(db.url, role));
  t.teardown(() => tg.close());
  t.is(await pidOf(tg), await pidOf(tg));
});

realPg('without dblink the backend is reused as before', async (t) => {
  const other = await createTestDatabase();
  t.teardown(() => other.drop());
  const tg = target(other.url);
  t.teardown(() => tg.close());
  t.is(await pidOf(tg), await pidOf(tg));
});
