// `gatehouse doctor` as people run it: the real CLI entry in a child process, credentials from the
// environment as a deployment passes them, the JSON shape that scripts rely on, the exit code.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import pg from 'pg';
import { createTestDatabase, testPgKind, type TestDatabase } from '../helpers/pg.ts';

const run = promisify(execFile);
const APP = `gatehouse_app_${randomBytes(4).toString('hex')}`;
const SCRIPT = readFileSync(new URL('../../docs/least-privilege.sql', import.meta.url), 'utf8').replaceAll('gatehouse_app', APP);
const PASSWORD = 'Cli-Doctor-Pw-93b2';
const CHECK_IDS = [
  'connect',
  'not_superuser',
  'role_attributes',
  'no_server_roles',
  'no_dangerous_functions',
  'no_untrusted_language_functions',
  'role_not_shared',
  'default_read_only',
  'sql_runner_extensions',
];

let db: TestDatabase;
let dir: string;
let env: Record<string, string>;

function asRole(url: string, role: string): string {
  const u = new URL(url);
  u.username = role;
  u.password = PASSWORD;
  return u.toString();
}

test.before(async () => {
  if (testPgKind === 'pglite') return;
  db = await createTestDatabase();
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query('CREATE EXTENSION dblink; CREATE EXTENSION tablefunc; CREATE TABLE orders (id int)');
  await admin.query(SCRIPT);
  await admin.end();
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-doctor-'));
  const policy = readFileSync('gatehouse.policy.yaml', 'utf8').replace(
    /connections:\n  demo:\n    credentials: embedded:\/\/demo[^\n]*\n/,
    'connections:\n  demo:\n    credentials: embedded://demo\n  su:\n    credentials: env://DOCTOR_SU_URL\n  app:\n    credentials: env://DOCTOR_APP_URL\n',
  );
  if (!policy.includes('DOCTOR_APP_URL')) throw new Error('could not add connections to the policy');
  writeFileSync(join(dir, 'policy.yaml'), policy.replace('connections: [demo]', 'connections: [demo, su, app]'));
  env = { DOCTOR_SU_URL: asRole(db.url, 'postgres'), DOCTOR_APP_URL: asRole(db.url, APP) };
});

test.after.always(async () => {
  if (!db) return;
  rmSync(dir, { recursive: true, force: true });
  await db.drop();
  const c = new pg.Client({ connectionString: new URL('/postgres', db.url).toString() });
  await c.connect();
  await c.query(`DROP ROLE IF EXISTS ${APP}`).catch(() => {});
  await c.end();
});

async function doctor(args: string[]) {
  const argv = ['--import', 'tsx', 'bin/gatehouse.ts', 'doctor', '--policy', join(dir, 'policy.yaml'), '--state-dir', join(dir, 'state'), ...args];
  try {
    const { stdout, stderr } = await run(process.execPath, argv, { env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

function noSecrets(t: { false(v: boolean, m?: string): void }, text: string): void {
  t.false(text.includes(PASSWORD), 'no password');
  t.false(text.includes('postgres://'), 'no connection string');
}

const realPg = testPgKind === 'pglite' ? test.skip : test;

realPg('--json for a least-privilege role: exit 0 and the documented shape', async (t) => {
  const r = await doctor(['--connection', 'app', '--json']);
  t.is(r.code, 0, r.stdout + r.stderr);
  noSecrets(t, r.stdout + r.stderr);
  const report = JSON.parse(r.stdout);
  t.deepEqual(Object.keys(report).sort(), ['connections', 'ok']);
  t.true(report.ok);
  t.is(report.connections.length, 1);
  const c = report.connections[0];
  t.deepEqual(Object.keys(c).sort(), ['checks', 'connection', 'ok', 'role', 'serverVersion']);
  t.like(c, { connection: 'app', ok: true, role: APP });
  t.regex(c.serverVersion, /^15\./);
  t.deepEqual(c.checks.map((k: { id: string }) => k.id), CHECK_IDS);
  for (const k of c.checks) {
    t.true(['pass', 'warn', 'info'].includes(k.status), k.id);
    t.regex(k.code, /^[a-z][a-z0-9_]*$/);
    t.is(typeof k.message, 'string');
    for (const key of Object.keys(k)) t.true(['id', 'status', 'code', 'message', 'items'].includes(key), key);
  }
  t.deepEqual(c.checks.find((k: { id: string }) => k.id === 'sql_runner_extensions').items, ['extension dblink', 'extension tablefunc']);
});

realPg('a superuser connection: exit 1, and the text names each failed check', async (t) => {
  const r = await doctor(['--connection', 'su']);
  t.is(r.code, 1);
  noSecrets(t, r.stdout + r.stderr);
  t.regex(r.stdout, /connection su \(role postgres\): NOT OK/);
  t.regex(r.stdout, /FAIL\s+not_superuser\s+role postgres is a superuser/);
  t.regex(r.stdout, /FAIL\s+no_dangerous_functions\s+may execute \d+ dangerous function/);
  t.regex(r.stdout, /WARN\s+sql_runner_extensions/);
  t.regex(r.stdout, /1 of 1 connection\(s\) failed a check/);
});

realPg('every connection by default; one bad one makes the exit non-zero', async (t) => {
  const r = await doctor(['--json']);
  t.is(r.code, 1);
  noSecrets(t, r.stdout + r.stderr);
  const report = JSON.parse(r.stdout);
  t.false(report.ok);
  const by = Object.fromEntries(report.connections.map((c: { connection: string }) => [c.connection, c]));
  t.deepEqual(Object.keys(by), ['demo', 'su', 'app']);
  t.true(by.app.ok);
  t.false(by.su.ok);
  // No `gatehouse start` ran in this state dir and it holds no demo: said, not crashed.
  t.like(by.demo, { ok: false, checks: [{ id: 'connect', status: 'error', code: 'secret_not_found' }] });
  t.regex(r.stderr, /no embedded demo database reachable/);
});

realPg('an unknown connection, or one whose variable is unset, is a failure with a code', async (t) => {
  const typo = await doctor(['--connection', 'nope', '--json']);
  t.is(typo.code, 1);
  t.like(JSON.parse(typo.stdout).connections[0].checks[0], { id: 'connect', status: 'error', code: 'unknown_connection' });
  const saved = env;
  env = { DOCTOR_SU_URL: saved.DOCTOR_SU_URL! };
  try {
    const unset = await doctor(['--connection', 'app', '--json']);
    t.is(unset.code, 1);
    t.like(JSON.parse(unset.stdout).connections[0].checks[0], { id: 'connect', status: 'error' });
  } finally {
    env = saved;
  }
});
