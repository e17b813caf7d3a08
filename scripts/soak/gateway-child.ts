// A whole gateway in a process of its own, for fault runs that kill it (-9) or measure its memory:
// the local server with the query routes and a dev issuer, the runtime built exactly as
// `gatehouse start` builds it. Configured by one JSON argument; prints `READY <url>` when it answers.
import { createRuntime } from '../../shared/config.ts';
import { queryHandler } from '../../functions/query.ts';
import { devIssuerRoutes, loadOrCreateDevKey } from '../../infra/dev-issuer.ts';
import { startLocalServer } from '../../infra/local-server.ts';

export interface ChildConfig {
  readonly stateDir: string; // the dev issuer's key lives here; the parent mints tokens with it
  readonly port: number;
  readonly policyPath: string;
  readonly sessionStoreUrl: string;
  readonly env: Record<string, string>;
  readonly maskingKey: string;
  readonly storeStatementTimeoutMs?: number;
  readonly targetPoolSize?: number;
  readonly reconcile?: { intervalMs?: number; graceMs?: number; startupLookbackMs?: number };
}

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const key = await loadOrCreateDevKey(config.stateDir);
const issuer = `http://127.0.0.1:${config.port}/dev`;
const runtime = await createRuntime({
  policy: config.policyPath,
  sessionStore: { kind: 'postgres', url: config.sessionStoreUrl, statementTimeoutMs: config.storeStatementTimeoutMs },
  env: config.env,
  maskingKey: config.maskingKey,
  targetPoolSize: config.targetPoolSize,
  reconcile: config.reconcile,
});
const server = await startLocalServer({
  host: '127.0.0.1',
  port: config.port,
  routes: [{ prefix: '/v1/', handler: queryHandler(runtime.gateway) }],
  raw: [devIssuerRoutes(key, issuer)],
});
process.stdout.write(`READY ${server.url}\n`);
const stop = async () => {
  await server.close();
  await runtime.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
