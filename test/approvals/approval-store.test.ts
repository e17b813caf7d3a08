// The ApprovalStore contract against the PostgreSQL adapter: on the test cluster (real row locks)
// and on PGlite over the wire (the embedded mode's state database).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startEmbeddedPostgres } from '../../infra/embedded-postgres.ts';
import { freePort } from '../../infra/free-port.ts';
import { createPostgresApprovalStore } from '../../shared/adapters/postgres-store/index.ts';
import { createTestDatabase, testPgKind, type TestDatabase } from '../helpers/pg.ts';
import { tcpProxy } from '../helpers/tcp-proxy.ts';
import { approvalStoreContract, type MakeApprovalStore } from './approval-store.contract.ts';

const once = <T>(start: () => Promise<T>) => {
  let p: Promise<T> | undefined;
  return { get: () => (p ??= start()), started: () => p };
};

const realPg = once<TestDatabase>(() => createTestDatabase());
const pglite = once(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-approvals-pglite-'));
  const server = await startEmbeddedPostgres({ dataDir: join(dir, 'data'), maxConnections: 100 });
  return { url: server.url, server, dir };
});

// PGlite's initdb blocks this process's event loop for seconds: get it over with first.
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

function fixtureOn(url: () => Promise<string>, isolated: boolean): MakeApprovalStore {
  return async () => {
    const target = new URL(await url());
    const proxy = tcpProxy(await freePort(), { host: target.hostname, port: Number(target.port) });
    await proxy.open();
    const viaProxy = new URL(target);
    viaProxy.port = String(proxy.port);
    const store = await createPostgresApprovalStore({ connectionString: viaProxy.toString(), poolSize: 25 });
    return {
      store,
      isolated,
      cutOff: () => proxy.close(),
      async cleanup() {
        await store.close();
        await proxy.close();
      },
    };
  };
}

if (testPgKind === 'postgres') {
  approvalStoreContract('PostgreSQL', fixtureOn(async () => (await realPg.get()).url, true));
} else {
  test('PostgreSQL approval store: SKIPPED — no PostgreSQL server binaries, only the PGlite fallback', (t) => {
    console.warn('SKIPPED: approval-store PostgreSQL suite (no PostgreSQL server binaries; row-lock isolation untested)');
    t.pass();
  });
}
approvalStoreContract('PGlite over the wire', fixtureOn(async () => (await pglite.get()).url, false));
