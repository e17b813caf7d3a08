// Embedded stores take no TCP connections (issue 14 item 6): PGlite has no passwords, so the
// session log, the approval store and the demo database that `gatehouse start` runs are served on
// Unix sockets in 0700 directories of the state dir. `psql -h 127.0.0.1` has nothing to reach,
// another local user cannot enter the directory, and the owner's CLI keeps working.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import pg from 'pg';
import { startEmbeddedDatabases } from '../../infra/embedded-databases.ts';
import { startEmbeddedPostgres } from '../../infra/embedded-postgres.ts';

const stateDir = mkdtempSync(join(tmpdir(), 'gh-sock-'));
test.after.always(() => rmSync(stateDir, { recursive: true, force: true }));

const PSQL = ['/usr/lib/postgresql/15/bin/psql', '/usr/bin/psql'].find((p) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
});

/** TCP ports the process listens on, from /proc (its socket inodes matched against /proc/net/tcp{,6}). */
function listeningTcpPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '0A') continue; // 0A: LISTEN
      if (inodes.has(cols[9]!)) ports.push(parseInt(cols[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

test.serial('the stores gatehouse start runs listen on no TCP port: Unix sockets in 0700 directories', async (t) => {
  const dbs = await startEmbeddedDatabases({ stateDir, demo: true });
  t.teardown(() => dbs.stop());
  for (const url of [dbs.sessionStoreUrl, dbs.stateStoreUrl, dbs.demoUrl!]) {
    const dir = new URL(url).searchParams.get('host')!;
    t.true(dir.startsWith(join(stateDir, 'sockets')), url);
    t.is(statSync(dir).mode & 0o777, 0o700, `${dir} is 0700`);
    t.is(statSync(join(dir, '.s.PGSQL.5432')).mode & 0o777, 0o600);
    // The owner connects through it, as the gateway and the CLI do.
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    t.is((await client.query('SELECT 1 AS one')).rows[0].one, 1);
    await client.end();
  }
  t.truthy(dbs.pid);
  t.deepEqual(listeningTcpPorts(dbs.pid!), [], 'no TCP listener in the databases\' process: psql -h 127.0.0.1 reaches nothing');
});

test.serial('another local user cannot connect to the session store (psql as nobody is refused by the file system)', async (t) => {
  if (process.getuid?.() !== 0 || !PSQL) {
    t.log('needs root (to run psql as another user) and psql; skipped');
    t.pass();
    return;
  }
  const store = await startEmbeddedPostgres({ dataDir: join(stateDir, 'probe-db'), socketDir: join(stateDir, 'sockets', 'probe-db') });
  t.teardown(() => store.stop());
  const dir = new URL(store.url).searchParams.get('host')!;
  const insert = 'CREATE TABLE IF NOT EXISTS owned (x int); INSERT INTO owned VALUES (1)';
  const asNobody = spawnSync('runuser', ['-u', 'nobody', '--', PSQL, '-h', dir, '-U', 'postgres', '-d', 'postgres', '-c', insert], { encoding: 'utf8', timeout: 20_000 });
  t.not(asNobody.status, 0, 'refused');
  t.regex(asNobody.stderr, /Permission denied|No such file/i);
  const overTcp = spawnSync(PSQL, ['-h', '127.0.0.1', '-p', '5432', '-U', 'postgres', '-d', 'postgres', '-w', '-c', 'SELECT 1'], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, PGCONNECT_TIMEOUT: '3' } });
  t.false(overTcp.stdout.includes('1 row') && overTcp.status === 0 && overTcp.stderr === '', 'nothing of ours answers on TCP (whatever else may run on 5432)');
  const client = new pg.Client({ connectionString: store.url });
  await client.connect();
  t.is((await client.query("SELECT to_regclass('owned') IS NULL AS absent")).rows[0].absent, true, 'nobody wrote anything');
  await client.end();
});

test('a socket path too long for sun_path falls back to a private temp directory, still 0700', async (t) => {
  const deep = join(stateDir, 'x'.repeat(90), 'sockets', 'db');
  const store = await startEmbeddedPostgres({ dataDir: join(stateDir, 'deep-db'), socketDir: deep });
  t.teardown(() => store.stop());
  const dir = new URL(store.url).searchParams.get('host')!;
  t.not(dir, deep);
  t.is(statSync(dir).mode & 0o777, 0o700);
  const client = new pg.Client({ connectionString: store.url });
  await client.connect();
  t.is((await client.query('SELECT 2 AS two')).rows[0].two, 2);
  await client.end();
});

test.serial('gatehouse doctor with no server running opens the demo database on its socket, not on TCP (attack review of issue 14)', async (t) => {
  const { openDoctorAccess } = await import('../../infra/doctor-access.ts');
  const dir = mkdtempSync(join(tmpdir(), 'gh-doctor-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startEmbeddedDatabases({ stateDir: dir, demo: true });
  await first.stop(); // leaves demo-db behind, and no running server
  const access = await openDoctorAccess({ connections: { demo: { credentials: 'embedded://demo' } } } as any, dir);
  t.teardown(() => access.close());
  const url = await access.secrets.resolve('embedded://demo');
  const host = new URL(url).searchParams.get('host');
  t.truthy(host, `a socket URL, not TCP: ${url.replace(/:[^:@/]*@/, ':***@')}`);
  t.true(host!.startsWith(join(dir, 'sockets')));
  t.is(statSync(host!).mode & 0o777, 0o700);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  t.is((await client.query('SELECT 1 AS one')).rows[0].one, 1);
  await client.end();
});

test('a socket path short in characters but long in bytes (a non-ASCII state dir) still lands in a private directory, and nowhere else (attack review of issue 14)', async (t) => {
  // sun_path holds 108 bytes, and Node 20's libuv cuts a longer path there without a word: the
  // length was counted in UTF-16 units, so this 75-character, 140-byte path passed, PGlite bound a
  // socket at its first 107 bytes — in the state dir's parent, here a temp dir, possibly /tmp — and
  // the start then failed on chmod, leaving that socket behind.
  const base = mkdtempSync(join(tmpdir(), 'gh-sock-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const state = join(base, '\u72b6'.repeat(30));
  const wanted = join(state, 'sockets', 'db');
  t.true(join(wanted, '.s.PGSQL.5432').length <= 100 && Buffer.byteLength(join(wanted, '.s.PGSQL.5432')) > 107, 'the case this test is about');
  const store = await startEmbeddedPostgres({ dataDir: join(state, 'db-data'), socketDir: wanted });
  t.teardown(() => store.stop());
  const dir = new URL(store.url).searchParams.get('host')!;
  t.true(Buffer.byteLength(join(dir, '.s.PGSQL.5432')) <= 107, `the socket's whole path fits: ${dir}`);
  t.is(statSync(dir).mode & 0o777, 0o700);
  t.true(statSync(join(dir, '.s.PGSQL.5432')).isSocket());
  t.deepEqual(readdirSync(base), [readdirSync(base).find((f) => join(base, f) === state)], 'nothing but the state dir in its parent: no socket at a cut path');
  const client = new pg.Client({ connectionString: store.url });
  await client.connect();
  t.is((await client.query('SELECT 3 AS three')).rows[0].three, 3);
  await client.end();
});
