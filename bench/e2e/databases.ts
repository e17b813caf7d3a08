// The bench's PostgreSQL set-up: databases in the throwaway clusters, the target's table, and the
// settings the report states (the store's durability, the server version).
import pg from 'pg';
import type { TestPostgres } from '../../infra/throwaway-postgres.ts';

export async function createDatabase(server: TestPostgres, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return Object.assign(new URL(server.url), { pathname: `/${name}` }).toString();
}

export async function seed(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('CREATE TABLE bench_orders (id int PRIMARY KEY, total numeric(10,2), placed date)');
    await c.query("INSERT INTO bench_orders SELECT g, g * 1.25, DATE '2026-01-01' + (g % 300) FROM generate_series(1, 1000) g");
    await c.query('ANALYZE bench_orders');
  } finally {
    await c.end();
  }
}

export async function showDurability(url: string): Promise<{ fsync: string; synchronousCommit: string }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const fsync = (await c.query<{ fsync: string }>('SHOW fsync')).rows[0]!.fsync;
    const synchronousCommit = (await c.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]!.synchronous_commit;
    return { fsync, synchronousCommit };
  } finally {
    await c.end();
  }
}

export async function serverVersion(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version.split(' ')[0]!;
  } finally {
    await c.end();
  }
}
