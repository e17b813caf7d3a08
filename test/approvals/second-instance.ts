// A second gateway instance beside startTestGateway's: the same session log, approval store,
// target and keys, its own policy file and its own (fresh) catalog cache — another instance of a
// deployment, or the same one after a policy change. Tokens come from the first one's dev issuer.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, type ApprovalStoreConfig, type Runtime } from '../../shared/config.ts';
import { queryHandler } from '../../functions/query.ts';
import { approvalsHandler } from '../../functions/approvals.ts';
import { freePort } from '../../infra/free-port.ts';
import { startLocalServer } from '../../infra/local-server.ts';
import { TEST_MASKING_KEY, TEST_SIGNING_KEY, type TestGateway } from '../helpers/gateway.ts';

export interface SecondInstance {
  readonly runtime: Runtime;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export async function startSecondInstance(gw: TestGateway, policy: (issuer: string) => string, options: { approvalStore?: ApprovalStoreConfig } = {}): Promise<SecondInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-second-'));
  const policyPath = join(dir, 'policy.yaml');
  writeFileSync(policyPath, policy(gw.issuer));
  const port = await freePort();
  const runtime = await createRuntime({
    policy: policyPath,
    sessionStore: { kind: 'postgres', url: gw.audit.url },
    env: { GATEHOUSE_TEST_TARGET_URL: gw.target.url, GATEHOUSE_TEST_MASKING_KEY: TEST_MASKING_KEY, GATEHOUSE_TEST_SIGNING_KEY: TEST_SIGNING_KEY },
    reconcile: { intervalMs: 0, startupLookbackMs: 0 },
    maskingKey: 'env://GATEHOUSE_TEST_MASKING_KEY',
    approvals: {
      store: options.approvalStore ?? { kind: 'postgres', url: gw.state.url },
      notifier: { kind: 'local', log: () => {} },
      publicUrl: `http://127.0.0.1:${port}`,
      republishIntervalMs: 0,
      log: () => {},
      signingKey: 'env://GATEHOUSE_TEST_SIGNING_KEY',
    },
  });
  const server = await startLocalServer({
    host: '127.0.0.1',
    port,
    routes: [
      { prefix: '/v1/approvals', handler: approvalsHandler(runtime.approvals!.desk) },
      { prefix: '/v1/', handler: queryHandler(runtime.gateway) },
    ],
  });
  return {
    runtime,
    async post(path, body, headers = {}) {
      const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
      return { status: res.status, body: await res.json() };
    },
    async close() {
      await server.close();
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
