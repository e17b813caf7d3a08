// The engine's own connection against a PostgreSQL 15 cluster of this file's own, configured the
// ways production servers are: SCRAM-SHA-256, md5 and cleartext passwords, TLS (hostssl, a
// self-signed certificate), and a Unix socket. The shared test cluster trusts everyone over TCP,
// so none of this would be exercised there.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { createEmbeddedSecrets } from '../../shared/adapters/secrets/index.ts';
import type { GatehouseError } from '../../shared/errors.ts';
import type { StatementRequest, TargetDatabase } from '../../shared/ports.ts';
import { createTargetDatabase } from '../../shared/postgres/index.ts';
import { findPostgresBin } from '../../infra/throwaway-postgres.ts';
import { freePort } from '../../infra/free-port.ts';

const PASSWORD = 'S3cret-pässword!';
const bin = findPostgresBin();
let dir = '';
let port = 0;
let stop: (() => void) | undefined;

const req = (sql = 'SELECT current_user::text AS who, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) AS ssl'): StatementRequest => ({
  connection: 't',
  sql,
  params: [],
  readOnly: true,
  maxRows: 10,
  statementTimeoutMs: 5000,
});
function target(url: string): TargetDatabase {
  return createTargetDatabase({ connections: { t: { credentials: 'embedded://t' } }, secrets: createEmbeddedSecrets(new Map([['t', url]])) });
}
async function runOnce(url: string, sql?: string) {
  const t = target(url);
  try {
    return await t.run(req(sql));
  } finally {
    await t.close();
  }
}
const url = (user: string, password = PASSWORD, query = '') => `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres${query}`;

test.before(async () => {
  if (!bin) return;
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-wire-'));
  const asRoot = process.getuid?.() === 0;
  const own = (path: string) => {
    if (!asRoot) return;
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(path, uid, gid);
  };
  const run = (cmd: string, args: string[]) => {
    const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]] : [join(bin, cmd), args];
    return execFileSync(file as string, argv as string[], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  };
  own(dir);
  chmodSync(dir, 0o700);
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(data, 'server.key'), '-out', join(data, 'server.crt')], { stdio: 'ignore' });
  own(join(data, 'server.key'));
  own(join(data, 'server.crt'));
  chmodSync(join(data, 'server.key'), 0o600);
  writeFileSync(join(data, 'pg_hba.conf'), [
    'local all all trust',
    'hostssl all tls_user 127.0.0.1/32 scram-sha-256',
    'host all tls_user 127.0.0.1/32 reject',
    'host all scram_user 127.0.0.1/32 scram-sha-256',
    'host all md5_user 127.0.0.1/32 md5',
    'host all clear_user 127.0.0.1/32 password',
    'host all postgres 127.0.0.1/32 trust',
    '',
  ].join('\n'));
  own(join(data, 'pg_hba.conf'));
  port = await freePort();
  run('pg_ctl', ['-D', data, '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c ssl=on`, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  stop = () => run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  const psql = (sql: string) => run('psql', ['-h', dir, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
  const pw = PASSWORD.replace(/'/g, "''");
  psql(`SET password_encryption = 'scram-sha-256'; CREATE ROLE scram_user LOGIN PASSWORD '${pw}'; CREATE ROLE tls_user LOGIN PASSWORD '${pw}'; CREATE ROLE clear_user LOGIN PASSWORD '${pw}'`);
  psql(`SET password_encryption = 'md5'; CREATE ROLE md5_user LOGIN PASSWORD '${pw}'`);
});
test.after.always(() => {
  try {
    stop?.();
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

function noSecret(t: { false(v: boolean, m?: string): void }, err: GatehouseError | undefined): void {
  const all = JSON.stringify({ m: err?.message, d: err?.details, s: err?.stack });
  t.false(all.includes(PASSWORD) || all.includes(encodeURIComponent(PASSWORD)), all);
}

for (const user of ['scram_user', 'md5_user', 'clear_user']) {
  test.serial(`${user}: the right password connects and runs; a wrong one is database_unavailable (28P01) and leaks nothing`, async (t) => {
    if (!bin) return t.pass('no PostgreSQL server binaries here');
    const r = await runOnce(url(user));
    t.deepEqual(r.rows, [[user, false]]);
    const err = await t.throwsAsync<GatehouseError>(runOnce(url(user, `${PASSWORD}x`)), { code: 'database_unavailable' });
    t.is(err?.details?.sqlstate, '28P01');
    noSecret(t, err);
    const none = await t.throwsAsync<GatehouseError>(runOnce(`postgres://${user}@127.0.0.1:${port}/postgres`), { code: 'database_unavailable' });
    noSecret(t, none);
  });
}

test.serial('TLS: sslmode=no-verify encrypts (pg_stat_ssl says so); without sslmode the hostssl-only role is refused', async (t) => {
  if (!bin) return t.pass('no PostgreSQL server binaries here');
  const r = await runOnce(url('tls_user', PASSWORD, '?sslmode=no-verify'));
  t.deepEqual(r.rows, [['tls_user', true]]);
  const plain = await t.throwsAsync<GatehouseError>(runOnce(url('tls_user')), { code: 'database_unavailable' });
  t.is(plain?.details?.sqlstate, '28000');
});

test.serial('TLS: verify-full refuses a certificate it cannot verify, and accepts it with sslrootcert', async (t) => {
  if (!bin) return t.pass('no PostgreSQL server binaries here');
  const err = await t.throwsAsync<GatehouseError>(runOnce(url('tls_user', PASSWORD, '?sslmode=verify-full')), { code: 'database_unavailable' });
  noSecret(t, err);
  const r = await runOnce(url('tls_user', PASSWORD, `?sslmode=verify-full&sslrootcert=${encodeURIComponent(join(dir, 'data', 'server.crt'))}`));
  t.deepEqual(r.rows, [['tls_user', true]]);
});

test.serial('a Unix socket: a host that is a directory', async (t) => {
  if (!bin) return t.pass('no PostgreSQL server binaries here');
  const r = await runOnce(`postgres://postgres@/postgres?host=${encodeURIComponent(dir)}&port=${port}`, 'SELECT current_user::text, inet_server_addr() IS NULL');
  t.deepEqual(r.rows, [['postgres', true]]);
});

test.serial('a statement timeout over TLS: statement_timeout answered, the connection replaced, the pool serves again', async (t) => {
  if (!bin) return t.pass('no PostgreSQL server binaries here');
  const db = target(url('tls_user', PASSWORD, '?sslmode=no-verify'));
  try {
    const started = Date.now();
    await t.throwsAsync(db.run({ ...req('SELECT pg_sleep(30)'), statementTimeoutMs: 300 }), { code: 'statement_timeout' });
    t.true(Date.now() - started < 5000);
    t.deepEqual((await db.run(req())).rows, [['tls_user', true]], 'the pool serves again');
  } finally {
    await db.close();
  }
});
