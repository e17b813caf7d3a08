// Each test file gets a database of its own inside the cluster `npm test` started, so files run in
// parallel without seeing each other's tables. Run single files with `npm test -- test/x/`.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

export const testPgKind = process.env.GATEHOUSE_TEST_PG_KIND as 'postgres' | 'pglite' | undefined;

export function testPgUrl(): string {
  const url = process.env.GATEHOUSE_TEST_PG_URL;
  if (!url) throw new Error('GATEHOUSE_TEST_PG_URL is not set: run tests with `npm test` (or `npm test -- test/some/dir/`)');
  return url;
}

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

/** A fresh, empty database. With PGlite (no CREATE DATABASE isolation) every caller shares one. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const base = testPgUrl();
  if (testPgKind === 'pglite') return { url: base, name: 'postgres', drop: async () => {} };
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      try {
        // pool.end() resolves before its sockets close; a FORCE drop in that window sends
        // "terminating connection" to clients that may have no listener left. Let them go first.
        for (let i = 0; i < 40; i++) {
          const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
          if (rows[0]?.n === 0) break;
          await sleep(50);
        }
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
