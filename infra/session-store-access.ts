// How the CLI reaches a session log: an explicit `--store` (postgres://…, or firestore://PROJECT/
// DATABASE with the caller's own Application Default Credentials), else the embedded store of a
// state dir — through the running `gatehouse start` (PGlite lets only one process open a data
// directory, so we connect to the wire endpoint it serves) or, when none runs, by opening it here.
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { createFirestoreSessionLog } from '../shared/adapters/firestore/index.ts';
import { createPostgresSessionLog } from '../shared/adapters/postgres-store/index.ts';
import { parseStoreOption } from '../shared/cli/store-option.ts';
import type { TransparentSessionLog } from '../shared/ports.ts';
import { runningServer } from './embedded.ts';
import { startEmbeddedPostgres } from './embedded-postgres.ts';

export async function openSessionStore(options: { stateDir: string; store?: string }): Promise<TransparentSessionLog> {
  if (options.store) {
    const store = parseStoreOption(options.store);
    // Firestore: the log connects on first read and only ever reads for list and read, so an
    // auditor's roles/datastore.viewer on the audit database is enough.
    if (store.kind === 'firestore') return createFirestoreSessionLog({ projectId: store.projectId, databaseId: store.databaseId });
    return createPostgresSessionLog({ connectionString: store.url, poolSize: 2 });
  }
  const running = runningServer(options.stateDir);
  if (running) return createPostgresSessionLog({ connectionString: running.sessionStoreUrl, poolSize: 2 });
  const dataDir = join(options.stateDir, 'session-db');
  if (!existsSync(dataDir)) throw new TypeError(`no session store in ${options.stateDir} (has \`gatehouse start\` run here?)`);
  const db = await startEmbeddedPostgres({ dataDir, maxConnections: 4, socketDir: join(resolve(options.stateDir), 'sockets', 'session-db') });
  const log = await createPostgresSessionLog({ connectionString: db.url, poolSize: 2 });
  return {
    append: log.append.bind(log),
    read: log.read.bind(log),
    list: log.list.bind(log),
    treeSize: log.treeSize.bind(log),
    leaves: log.leaves.bind(log),
    async close() {
      await log.close();
      await db.stop();
    },
  };
}
