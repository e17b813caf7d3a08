// What giving a connection back costs: DISCARD ALL alone (before issue 13) next to DISCARD ALL
// plus the dblink check (every release), without dblink, with dblink and nothing open, and with a
// named + unnamed connection to close each time. Round trips on loopback; nothing asserts a time.
import pg from 'pg';
import { closeExtensionConnections } from '../shared/postgres/session-cleanup.ts';
import { RESET_SESSION } from '../shared/postgres/statements.ts';

export interface ReleaseFigures {
  readonly case: string;
  readonly medianMs: number;
  readonly p99Ms: number;
}

const ROUNDS = 2000;

export async function benchRelease(serverUrl: string): Promise<ReleaseFigures[]> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS bench_release_plain').then(() => admin.query('CREATE DATABASE bench_release_plain'));
  await admin.query('DROP DATABASE IF EXISTS bench_release_dblink').then(() => admin.query('CREATE DATABASE bench_release_dblink'));
  await admin.end();
  const url = (db: string) => Object.assign(new URL(serverUrl), { pathname: `/${db}` }).toString();
  const plain = new pg.Client({ connectionString: url('bench_release_plain') });
  const withDblink = new pg.Client({ connectionString: url('bench_release_dblink') });
  await plain.connect();
  await withDblink.connect();
  await withDblink.query('CREATE EXTENSION dblink');
  // The recommended shape: dblink installed, a role that may execute none of it (docs/least-privilege.sql).
  await withDblink.query(`DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_release_app') THEN CREATE ROLE bench_release_app LOGIN; END IF; END $$;
    DO $$ DECLARE f regprocedure; BEGIN
      FOR f IN SELECT p.oid::regprocedure FROM pg_proc p WHERE p.proname LIKE 'dblink%' LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
      END LOOP; END $$`);
  const leastPrivilege = new pg.Client({ connectionString: Object.assign(new URL(url('bench_release_dblink')), { username: 'bench_release_app', password: '' }).toString() });
  await leastPrivilege.connect();
  const u = new URL(serverUrl);
  const libpq = `host=${u.hostname} port=${u.port} dbname=bench_release_plain user=${decodeURIComponent(u.username)}`;
  try {
    const discard = (c: pg.Client) => async () => void (await c.query(RESET_SESSION));
    const full = (c: pg.Client) => async () => {
      await c.query(RESET_SESSION);
      if (!(await closeExtensionConnections(c))) throw new Error('expected a clean backend');
    };
    const open = async () => {
      await withDblink.query('SELECT dblink_connect($1, $2), dblink_connect($2)', ['named', libpq]);
    };
    return [
      await measure('DISCARD ALL only (no dblink clean-up)', discard(plain)),
      await measure('DISCARD ALL + dblink check, dblink not installed', full(plain)),
      await measure('DISCARD ALL + dblink check, dblink installed, role may not use it', full(leastPrivilege)),
      await measure('DISCARD ALL + dblink check, dblink installed, nothing open', full(withDblink)),
      await measure('DISCARD ALL + closing a named and the unnamed dblink connection', full(withDblink), open, 200),
    ];
  } finally {
    await plain.end();
    await withDblink.end();
    await leastPrivilege.end();
  }
}

async function measure(label: string, release: () => Promise<void>, before?: () => Promise<void>, rounds = ROUNDS): Promise<ReleaseFigures> {
  const times: number[] = [];
  for (let i = 0; i < rounds + 50; i++) {
    if (before) await before();
    const t0 = performance.now();
    await release();
    if (i >= 50) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))]! * 1000) / 1000;
  return { case: label, medianMs: at(0.5), p99Ms: at(0.99) };
}
