// The ApprovalStore contract against the PostgreSQL adapter: on the test cluster (real row locks)
// and on PGlite over the wire (the embedded mode's state database).
import test from 'ava';
import { freePort } from '../../infra/free-port.ts';
import { createPostgresApprovalStore } from '../../shared/adapters/postgres-store/index.ts';
import { testPgKind } from '../helpers/pg.ts';
import { storeBackends } from '../helpers/store-backends.ts';
import { tcpProxy } from '../helpers/tcp-proxy.ts';
import { approvalStoreContract, type MakeApprovalStore } from './approval-store.contract.ts';

const backends = storeBackends('approvals', { maxConnections: 100 });

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
  approvalStoreContract('PostgreSQL', fixtureOn(async () => (await backends.realPg()).url, true));
} else {
  test('PostgreSQL approval store: SKIPPED — no PostgreSQL server binaries, only the PGlite fallback', (t) => {
    console.warn('SKIPPED: approval-store PostgreSQL suite (no PostgreSQL server binaries; row-lock isolation untested)');
    t.pass();
  });
}
approvalStoreContract('PGlite over the wire', fixtureOn(() => backends.pgliteUrl(), false));
