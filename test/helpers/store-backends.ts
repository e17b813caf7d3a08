// The two PostgreSQL backends a store adapter's contract suite runs on: a database in the test
// cluster (real locks and isolation), and PGlite served over the wire (the embedded mode's
// stores). Each is started on first use; PGlite before any test, because its initdb blocks this
// process's event loop for seconds — long enough for other tests' connection timeouts to fire.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startEmbeddedPostgres } from '../../infra/embedded-postgres.ts';
import { createTestDatabase, type TestDatabase } from './pg.ts';

export interface StoreBackends {
  realPg(): Promise<TestDatabase>;
  /** `postgres://` URL of the PGlite server. */
  pgliteUrl(): Promise<string>;
}

export function storeBackends(name: string, options: { maxConnections: number }): StoreBackends {
  const once = <T>(start: () => Promise<T>) => {
    let p: Promise<T> | undefined;
    return { get: () => (p ??= start()), started: () => p };
  };
  const realPg = once<TestDatabase>(() => createTestDatabase());
  const pglite = once(async () => {
    const dir = mkdtempSync(join(tmpdir(), `gatehouse-${name}-pglite-`));
    const server = await startEmbeddedPostgres({ dataDir: join(dir, 'data'), maxConnections: options.maxConnections });
    return { url: server.url, server, dir };
  });
  test.before(async () => {
    await pglite.get();
  });
  test.after.always(async () => {
    await (await realPg.started())?.drop();
    const p = await pglite.started();
    if (p) {
      await p.server.stop();
      rmSync(p.dir, { recursive: true, force: true });
    }
  });
  return { realPg: () => realPg.get(), pgliteUrl: async () => (await pglite.get()).url };
}
