// `gatehouse doctor` against real PostgreSQL 15 with dblink and tablefunc installed: the harness's
// superuser fails and is told why; the role docs/least-privilege.sql creates passes, and really
// cannot call what the doctor says it cannot; every way to hand a role a dangerous power back
// (a membership, a grant through another role, a planted function of a dangerous name, a shared
// role) is caught.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import test from 'ava';
import pg from 'pg';
import { createEmbeddedSecrets } from '../../shared/adapters/secrets/index.ts';
import { formatReport, runDoctor, type Check, type ConnectionReport } from '../../shared/doctor/index.ts';
import { createTestDatabase, testPgKind, type TestDatabase } from '../helpers/pg.ts';

// Roles are cluster-wide and test files run in parallel: the script's role gets a name of its own.
const APP = `gatehouse_app_${randomBytes(4).toString('hex')}`;
const SCRIPT = readFileSync(new URL('../../docs/least-privilege.sql', import.meta.url), 'utf8').replaceAll('gatehouse_app', APP);
const PASSWORD = 'Doctor-Pw-5a1f-never-printed';

let db: TestDatabase;
let admin: pg.Client;
const roles: string[] = [];

function asRole(url: string, role: string): string {
  const u = new URL(url);
  u.username = role;
  // The harness trusts local connections; a password in the URL must still never be printed.
  u.password = PASSWORD;
  return u.toString();
}

async function newRole(attrs = ''): Promise<string> {
  const name = `doctor_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE ROLE ${name} ${attrs.includes("NOLOGIN") ? "" : "LOGIN"} ${attrs}`);
  roles.push(name);
  await admin.query(`GRANT CONNECT ON DATABASE ${db.name} TO ${name}`);
  return name;
}

async function doctorAs(role: string): Promise<ConnectionReport> {
  const report = await runDoctor({ connections: { prod: { credentials: 'embedded://prod' } }, secrets: createEmbeddedSecrets(new Map([['prod', asRole(db.url, role)]])) });
  const text = JSON.stringify(report);
  if (text.includes(PASSWORD) || text.includes('postgres://')) throw new Error(`the report leaks the connection string: ${text}`);
  return report.connections[0]!;
}

function check(r: ConnectionReport, id: Check['id']): Check {
  const c = r.checks.find((k) => k.id === id);
  if (!c) throw new Error(`no check ${id} in ${JSON.stringify(r)}`);
  return c;
}

test.before(async () => {
  if (testPgKind === 'pglite') return;
  db = await createTestDatabase();
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query(`
    CREATE EXTENSION dblink;
    CREATE EXTENSION tablefunc;
    CREATE TABLE customers (id int PRIMARY KEY, email text);
    INSERT INTO customers VALUES (1, 'ada@example.com');
    SELECT lo_from_bytea(0, 'secret blob');
  `);
});

test.after.always(async () => {
  if (!admin) return;
  await admin.end();
  await db.drop();
  // Roles are cluster-wide; their grants lived in the dropped database.
  const c = new pg.Client({ connectionString: new URL('/postgres', db.url).toString() });
  await c.connect();
  for (const r of [...roles, APP]) await c.query(`DROP ROLE IF EXISTS ${r}`).catch(() => {});
  await c.end();
});

const realPg = testPgKind === 'pglite' ? test.skip : test.serial;

realPg('the harness superuser fails, and the report names why', async (t) => {
  const r = await doctorAs('postgres');
  t.false(r.ok);
  t.is(r.role, 'postgres');
  t.is(check(r, 'connect').status, 'pass');
  t.like(check(r, 'not_superuser'), { status: 'fail', code: 'role_is_superuser' });
  t.like(check(r, 'role_attributes'), { status: 'fail', code: 'role_has_dangerous_attributes' });
  t.like(check(r, 'no_server_roles'), { status: 'fail', code: 'role_is_member_of_server_roles' });
  t.deepEqual([...check(r, 'no_server_roles').items!].sort(), ['pg_execute_server_program', 'pg_read_server_files', 'pg_signal_backend', 'pg_write_server_files']);
  const fns = check(r, 'no_dangerous_functions');
  t.like(fns, { status: 'fail', code: 'dangerous_functions_executable' });
  for (const f of ['dblink_exec(text)', 'dblink_connect(text)', 'crosstab(text)', 'connectby(', 'lo_unlink(oid)', 'lo_export(oid,text)', 'pg_read_file(text)', 'pg_terminate_backend(', 'pg_sleep(double precision)', 'query_to_xml(', 'ts_stat(text)']) {
    t.true(fns.items!.some((s) => s.includes(f)), `${f} in ${fns.items!.join(' ')}`);
  }
  t.like(check(r, 'sql_runner_extensions'), { status: 'warn', code: 'sql_runner_extensions_installed' });
  t.deepEqual(check(r, 'sql_runner_extensions').items, ['extension dblink', 'extension tablefunc']);
  t.like(check(r, 'default_read_only'), { status: 'info', code: 'default_read_only_off' });
});

realPg('the role docs/least-privilege.sql creates passes, and cannot do what the doctor says it cannot', async (t) => {
  await admin.query(SCRIPT);
  // Twice: the script is safe to run again (after installing an extension, say).
  await admin.query(SCRIPT);
  const r = await doctorAs(APP);
  t.true(r.ok, JSON.stringify(r, null, 2));
  t.is(r.role, APP);
  for (const c of r.checks) t.true(['pass', 'info', 'warn'].includes(c.status), `${c.id}: ${c.status}`);
  t.is(check(r, 'sql_runner_extensions').status, 'warn');

  const app = new pg.Client({ connectionString: asRole(db.url, APP) });
  await app.connect();
  t.teardown(() => app.end());
  t.deepEqual((await app.query('SELECT email FROM customers')).rows, [{ email: 'ada@example.com' }]);
  const denied = async (sql: string) => {
    const e = await t.throwsAsync<pg.DatabaseError>(app.query(sql));
    t.is(e?.code, '42501', `${sql}: ${e?.message}`);
  };
  await denied(`SELECT dblink_connect('x', 'dbname=${db.name}')`);
  await denied(`SELECT ('dbname=${db.name}').dblink_connect`);
  await denied(`SELECT dblink_exec('dbname=${db.name}', 'DELETE FROM customers')`);
  await denied('SELECT lo_unlink(oid) FROM pg_largeobject_metadata');
  await denied('SELECT oid, (oid).lo_unlink FROM pg_largeobject_metadata');
  await denied('SELECT lo_get(oid) FROM pg_largeobject_metadata');
  await denied("SELECT * FROM crosstab('select 1, 1, email from customers') AS t(a int, b text)");
  await denied("SELECT ('select to_tsvector(email) from customers').ts_stat");
  await denied("SELECT query_to_xml('select * from customers', true, false, '')");
  await denied('SELECT pg_terminate_backend(pg_backend_pid())');
  await denied('SELECT pg_cancel_backend(pg_backend_pid())');
  await denied('SELECT pg_sleep(0)');
  await denied("SELECT pg_read_file('postgresql.conf')");
  // The harness superuser, and everyone else in this database, lost them too (REVOKE … FROM PUBLIC).
  const other = await newRole();
  const o = new pg.Client({ connectionString: asRole(db.url, other) });
  await o.connect();
  t.teardown(() => o.end());
  t.is((await o.query('SELECT pg_catalog.has_function_privilege($1, \'lo_unlink(oid)\', \'EXECUTE\') AS x', [other])).rows[0].x, false);
});

realPg('a server role reached through another role fails no_server_roles', async (t) => {
  const mid = await newRole('NOLOGIN');
  const role = await newRole();
  await admin.query(`GRANT pg_signal_backend TO ${mid}; GRANT ${mid} TO ${role}`);
  const r = await doctorAs(role);
  t.false(r.ok);
  t.like(check(r, 'no_server_roles'), { status: 'fail', items: ['pg_signal_backend'] });
  t.is(check(r, 'not_superuser').status, 'pass');
});

realPg('what SET ROLE can reach counts: a NOINHERIT path to a superuser, a powerful role behind a default role', async (t) => {
  const su = await newRole('NOLOGIN SUPERUSER');
  const login = await newRole('NOINHERIT');
  await admin.query(`GRANT ${su} TO ${login}`);
  const r = await doctorAs(login);
  t.like(check(r, 'not_superuser'), { status: 'fail', code: 'role_is_superuser', items: [su] });
  t.regex(check(r, 'not_superuser').message, new RegExp(`login role ${login} can SET ROLE to superuser ${su}`));
  t.is(r.role, login, 'it runs as the login role until a statement says SET ROLE');

  const reader = await newRole('NOLOGIN');
  const powerful = await newRole('NOLOGIN');
  const app = await newRole();
  await admin.query(`GRANT ${reader}, ${powerful} TO ${app}; ALTER ROLE ${app} SET role = '${reader}'`);
  await admin.query(`GRANT EXECUTE ON FUNCTION dblink_exec(text, text) TO ${powerful}; GRANT pg_read_server_files TO ${powerful}`);
  const behind = await doctorAs(app);
  t.is(behind.role, reader, 'statements run as the default role');
  t.true(check(behind, 'no_dangerous_functions').items!.includes('dblink_exec(text,text)'));
  t.like(check(behind, 'no_server_roles'), { status: 'fail', items: ['pg_read_server_files'] });
});

realPg('EXECUTE granted back through another role, and a planted function with a dangerous name, both fail', async (t) => {
  await admin.query(SCRIPT);
  const mid = await newRole('NOLOGIN');
  const role = await newRole();
  await admin.query(`GRANT ${mid} TO ${role}; GRANT EXECUTE ON FUNCTION dblink_exec(text, text) TO ${mid}`);
  await admin.query(`CREATE SCHEMA IF NOT EXISTS tools; CREATE OR REPLACE FUNCTION tools.lo_export_everything() RETURNS int LANGUAGE sql AS 'SELECT 1'`);
  const r = await doctorAs(role);
  const fns = check(r, 'no_dangerous_functions');
  t.is(fns.status, 'fail');
  t.deepEqual([...fns.items!].sort(), ['dblink_exec(text,text)', 'tools.lo_export_everything()']);
  // The script, run again, takes the planted one back from PUBLIC (the grant to mid is a DBA's own).
  await admin.query(SCRIPT);
  t.deepEqual(check(await doctorAs(role), 'no_dangerous_functions').items, ['dblink_exec(text,text)']);
  await admin.query(`REVOKE EXECUTE ON FUNCTION dblink_exec(text, text) FROM ${mid}`);
  t.is(check(await doctorAs(role), 'no_dangerous_functions').status, 'pass');
});

realPg('a search_path that shadows the catalog functions the doctor uses does not turn a fail into a pass', async (t) => {
  const role = await newRole();
  await admin.query(`
    CREATE SCHEMA IF NOT EXISTS shadow;
    CREATE OR REPLACE FUNCTION shadow.has_function_privilege(oid, text) RETURNS boolean LANGUAGE sql AS 'SELECT false';
    CREATE OR REPLACE FUNCTION shadow.has_function_privilege(name, oid, text) RETURNS boolean LANGUAGE sql AS 'SELECT false';
    CREATE OR REPLACE FUNCTION shadow.pg_has_role(name, oid, text) RETURNS boolean LANGUAGE sql AS 'SELECT false';
    CREATE OR REPLACE FUNCTION shadow.current_setting(text) RETURNS text LANGUAGE sql AS 'SELECT ''on''';
    CREATE OR REPLACE FUNCTION shadow.textlike(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT false';
    GRANT USAGE ON SCHEMA shadow TO PUBLIC;
    GRANT pg_signal_backend TO ${role};
    GRANT EXECUTE ON FUNCTION dblink_exec(text) TO ${role};
    ALTER ROLE ${role} SET search_path = shadow, pg_catalog, public;
  `);
  const r = await doctorAs(role);
  t.like(check(r, 'no_server_roles'), { status: 'fail', items: ['pg_signal_backend'] });
  t.true(check(r, 'no_dangerous_functions').items!.includes('dblink_exec(text)'));
  t.like(check(r, 'default_read_only'), { code: 'default_read_only_off' });
});

realPg('names chosen by whoever can run DDL cannot write control characters to the terminal', async (t) => {
  const role = await newRole();
  await admin.query(`CREATE SCHEMA IF NOT EXISTS tools; CREATE FUNCTION tools."lo_\x1b[2J\x1b]0;owned\x07"() RETURNS int LANGUAGE sql AS 'SELECT 1'`);
  t.teardown(() => admin.query('DROP SCHEMA tools CASCADE'));
  const r = await doctorAs(role);
  const fn = check(r, 'no_dangerous_functions').items!.find((s) => s.startsWith('tools.'));
  t.truthy(fn);
  t.true(fn!.includes('\x1b'), 'the item itself is exact');
  const text = formatReport({ ok: r.ok, connections: [r] });
  t.false(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(text), text);
  t.regex(text, /tools\."lo_\\u001b\[2J/);
});

realPg('a role another application also logs in as fails role_not_shared; Gatehouse\'s own pool does not', async (t) => {
  await admin.query(SCRIPT);
  const role = await newRole();
  await admin.query(`GRANT SELECT ON customers TO ${role}`);
  t.is(check(await doctorAs(role), 'role_not_shared').status, 'pass');

  const pool = new pg.Client({ connectionString: asRole(db.url, role), application_name: 'gatehouse' });
  await pool.connect();
  t.teardown(() => pool.end());
  const own = check(await doctorAs(role), 'role_not_shared');
  t.is(own.status, 'pass');
  t.regex(own.message, /1 Gatehouse session/);

  const billing = new pg.Client({ connectionString: asRole(db.url, role), application_name: 'billing' });
  await billing.connect();
  t.teardown(() => billing.end());
  const shared = check(await doctorAs(role), 'role_not_shared');
  t.like(shared, { status: 'fail', code: 'role_shared_with_other_sessions', items: [`${role} × 1`] });

  // A session of a role this one is a member of is just as reachable (pg_cancel_backend allows it).
  const owner = await newRole();
  const member = await newRole();
  await admin.query(`GRANT ${owner} TO ${member}`);
  const ownerSession = new pg.Client({ connectionString: asRole(db.url, owner), application_name: 'gatehouse' });
  await ownerSession.connect();
  t.teardown(() => ownerSession.end());
  t.like(check(await doctorAs(member), 'role_not_shared'), { status: 'fail', items: [`${owner} × 1`] });
});

realPg('role attributes and default_transaction_read_only are reported', async (t) => {
  const role = await newRole('CREATEDB CREATEROLE');
  await admin.query(`ALTER ROLE ${role} SET default_transaction_read_only = on`);
  const r = await doctorAs(role);
  t.like(check(r, 'role_attributes'), { status: 'fail', items: ['CREATEROLE', 'CREATEDB'] });
  t.like(check(r, 'default_read_only'), { status: 'info', code: 'default_read_only_on' });
});

realPg('a catalog the role cannot read is an error, never a pass', async (t) => {
  await admin.query(SCRIPT);
  const role = await newRole();
  // Hide pg_stat_activity from PUBLIC in this database: that check cannot be made.
  await admin.query('REVOKE SELECT ON pg_catalog.pg_stat_activity FROM PUBLIC');
  t.teardown(() => admin.query('GRANT SELECT ON pg_catalog.pg_stat_activity TO PUBLIC'));
  const r = await doctorAs(role);
  t.like(check(r, 'role_not_shared'), { status: 'error', code: 'check_failed', message: 'could not be checked (SQLSTATE 42501)' });
  t.false(r.ok);
});

realPg('unreachable connections: each says why, with no URL or password, and none passes', async (t) => {
  const secrets = createEmbeddedSecrets(
    new Map([
      ['ghost', asRole(db.url, 'no_such_role')],
      ['garbage', 'postgres://%zz'],
    ]),
  );
  const report = await runDoctor({
    connections: { ghost: { credentials: 'embedded://ghost' }, missing: { credentials: 'embedded://missing' }, garbage: { credentials: 'embedded://garbage' } },
    secrets,
    only: ['ghost', 'missing', 'garbage', 'typo'],
  });
  t.false(report.ok);
  const by = Object.fromEntries(report.connections.map((c) => [c.connection, c]));
  t.like(by.ghost!.checks[0], { id: 'connect', status: 'error', code: 'database_unavailable' });
  t.regex(by.ghost!.checks[0]!.message, /SQLSTATE 28000/);
  t.like(by.missing!.checks[0], { id: 'connect', status: 'error', code: 'secret_not_found' });
  t.like(by.garbage!.checks[0], { id: 'connect', status: 'error' });
  t.like(by.typo!.checks[0], { id: 'connect', status: 'error', code: 'unknown_connection' });
  const text = JSON.stringify(report);
  t.false(text.includes(PASSWORD));
  t.false(text.includes('postgres://'));
  t.false(text.includes(String(new URL(db.url).port)), 'not even the port');
});
