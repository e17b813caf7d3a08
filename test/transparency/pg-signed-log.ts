// A session log on a throwaway PostgreSQL database with a local checkpoint signer in a state dir of
// its own, and the store owner's rights past the create-only triggers: what the signer and
// coverage attack suites start from. Everything is removed when the test ends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import pg from 'pg';
import { createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import { localCheckpointing } from '../../shared/transparency/local.ts';
import { createTestDatabase } from '../helpers/pg.ts';

export async function pgSignedLog(t: ExecutionContext, prefix: string) {
  const db = await createTestDatabase();
  const log = await createPostgresSessionLog({ connectionString: db.url, poolSize: 2 });
  const stateDir = mkdtempSync(join(tmpdir(), prefix));
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  t.teardown(async () => {
    await admin.end();
    await log.close();
    await db.drop();
    rmSync(stateDir, { recursive: true, force: true });
  });
  const local = localCheckpointing(stateDir, { createKey: true });
  /** Owner's rights past the create-only triggers. */
  const asOwner = async (sql: string, params: unknown[]) => {
    await admin.query('BEGIN');
    await admin.query('SET LOCAL session_replication_role = replica');
    await admin.query(sql, params);
    await admin.query('COMMIT');
  };
  return { db, log, stateDir, admin, local, asOwner };
}
