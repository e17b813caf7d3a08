// The ApprovalStore contract against the PostgreSQL adapter: on the test cluster (real row locks)
// and on PGlite over the wire (the embedded mode's state database).
import test from 'ava';
import pg from 'pg';
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
    // Straight to the database, past the proxy: what the store's UPDATE right allows anyone.
    const raw = new pg.Pool({ connectionString: target.toString(), max: 1 });
    raw.on('error', () => {});
    return {
      store,
      isolated,
      cutOff: () => proxy.close(),
      rawRecord: async (id) => (await raw.query<{ record: string }>('SELECT record FROM gatehouse_approvals WHERE approval_id = $1', [id])).rows[0]?.record,
      async writeRawRecord(id, record) {
        await raw.query('UPDATE gatehouse_approvals SET record = $2 WHERE approval_id = $1', [id, record]);
      },
      async cleanup() {
        await store.close();
        await raw.end();
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
