// The embedded demo target database: PGlite in `<stateDir>/demo-db`, seeded with a small shop
// (seed.sql) the first time only, so what a user changed in the demo survives restarts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../embedded-postgres.ts';

export interface DemoDatabaseOptions {
  readonly port?: number;
  readonly host?: string;
  readonly maxConnections?: number;
  /** Serve on a Unix socket in this directory instead of TCP (embedded-postgres.ts). */
  readonly socketDir?: string;
}

export interface DemoDatabase extends EmbeddedPostgres {
  /** True when this start created the shop; false when it was already there. */
  readonly freshlySeeded: boolean;
}

const SEED_SQL = readFileSync(new URL('./seed.sql', import.meta.url), 'utf8');

export async function startDemoDatabase(stateDir: string, options: DemoDatabaseOptions = {}): Promise<DemoDatabase> {
  if (typeof stateDir !== 'string' || stateDir === '') throw new TypeError('startDemoDatabase: stateDir is required');
  const db = await startEmbeddedPostgres({ dataDir: join(stateDir, 'demo-db'), ...options });
  try {
    const freshlySeeded = await seedOnce(db.url);
    return { url: db.url, stop: db.stop, freshlySeeded };
  } catch (e) {
    await db.stop().catch(() => {});
    throw e;
  }
}

async function seedOnce(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // No race to guard: the data directory's lock admits one process, and this runs before the
    // URL is handed to anyone.
    const { rows } = await client.query<{ seeded: boolean }>(
      "SELECT to_regclass('gatehouse_demo.seeded') IS NOT NULL AS seeded",
    );
    if (rows[0]?.seeded) return false;
    // One simple-protocol message, so one transaction: a start killed mid-seed leaves nothing
    // behind, and the next start seeds from scratch.
    await client.query(SEED_SQL);
    return true;
  } finally {
    await client.end();
  }
}
