// How the CLI reaches a session log: an explicit `--store postgres://…`, else the embedded store
// of a state dir — through the running `gatehouse start` (PGlite lets only one process open a data
// directory, so we connect to the wire endpoint it serves) or, when none runs, by opening it here.
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { createPostgresSessionLog } from '../shared/adapters/postgres-store/index.ts';
import type { SessionLog } from '../shared/ports.ts';
import { runningServer } from './embedded.ts';
import { startEmbeddedPostgres } from './embedded-postgres.ts';

export async function openSessionStore(options: { stateDir: string; store?: string }): Promise<SessionLog> {
  if (options.store) {
    if (!/^postgres(ql)?:\/\//.test(options.store)) throw new TypeError('--store must be a postgres:// URL');
    return createPostgresSessionLog({ connectionString: options.store, poolSize: 2 });
  }
  const running = runningServer(options.stateDir);
  if (running) return createPostgresSessionLog({ connectionString: running.sessionStoreUrl, poolSize: 2 });
  const dataDir = join(options.stateDir, 'session-db');
  if (!existsSync(dataDir)) throw new TypeError(`no session store in ${options.stateDir} (has \`gatehouse start\` run here?)`);
  const db = await startEmbeddedPostgres({ dataDir, maxConnections: 4 });
  const log = await createPostgresSessionLog({ connectionString: db.url, poolSize: 2 });
  return {
    append: log.append.bind(log),
    read: log.read.bind(log),
    list: log.list.bind(log),
    async close() {
      await log.close();
      await db.stop();
    },
  };
}
