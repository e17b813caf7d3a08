// The gateway under test, in a process of its own (bench/e2e.ts forks it). It is assembled from
// the deployed configuration contract — GATEHOUSE_POLICY, GATEHOUSE_SESSION_STORE,
// GATEHOUSE_MASKING_KEY, GATEHOUSE_APPROVAL_* (configFromEnv, documented in the README) — and
// served the way `gatehouse start` serves it: the local server with the bots' and people's routes,
// the dev issuer at /dev, one JSON request-log line per request on stdout, the reconciler running.
// The only difference from `gatehouse start` is the session store: a real PostgreSQL with fsync
// on instead of the embedded PGlite one. The bench talks to it over HTTP only.
//
// On an IPC message it starts or stops a CPU profile (node:inspector), so one phase can be
// profiled without paying for the profiler in the others.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { configFromEnv, createRuntime } from '../../shared/config.ts';
import { queryHandler } from '../../functions/query.ts';
import { approvalsHandler } from '../../functions/approvals.ts';
import { createLogger } from '../../functions/request-log.ts';
import { devIssuerRoutes, loadOrCreateDevKey } from '../../infra/dev-issuer.ts';
import { startLocalServer } from '../../infra/local-server.ts';
import { healthHandler } from '../../infra/readiness.ts';

export interface GatewayProcessOptions {
  readonly port: number;
  /** Where the dev issuer's key lives (the bench mints tokens with the same key). */
  readonly stateDir: string;
  readonly targetPoolSize: number;
  readonly storePoolSize: number;
}

export type GatewayProcessMessage = { kind: 'profile-start' } | { kind: 'profile-stop'; path: string } | { kind: 'stop' };

const options = JSON.parse(process.argv[2]!) as GatewayProcessOptions;
const host = '127.0.0.1';
const issuer = `http://${host}:${options.port}/dev`;
const base = configFromEnv(process.env);
if (base.sessionStore.kind !== 'postgres') throw new TypeError('the bench runs the session log on PostgreSQL');
const runtime = await createRuntime({
  ...base,
  sessionStore: { ...base.sessionStore, poolSize: options.storePoolSize },
  targetPoolSize: options.targetPoolSize,
  // As `gatehouse start` runs it: a start-up pass, then every 60 s (the runner's defaults).
  reconcile: undefined,
});
const key = await loadOrCreateDevKey(options.stateDir);
// stdout is /dev/null in the bench: the line is written (its cost is real), nobody reads it.
const logger = await createLogger({ pretty: false });
const server = await startLocalServer({
  host,
  port: options.port,
  logger,
  routes: [
    { prefix: '/healthz', handler: healthHandler() },
    ...(runtime.approvals ? [{ prefix: '/v1/approvals', handler: approvalsHandler(runtime.approvals.desk) }] : []),
    { prefix: '/v1/', handler: queryHandler(runtime.gateway) },
  ],
  raw: [devIssuerRoutes(key, issuer)],
});

let profiler: Session | undefined;
process.on('message', (m: GatewayProcessMessage) => {
  void (async () => {
    if (m.kind === 'profile-start') {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      // 250 µs: fine enough for a request of a few ms, cheap enough not to dominate.
      await profiler.post('Profiler.setSamplingInterval', { interval: 250 });
      await profiler.post('Profiler.start');
      process.send!({ kind: 'profile-started' });
    } else if (m.kind === 'profile-stop') {
      const { profile } = await profiler!.post('Profiler.stop');
      profiler!.disconnect();
      profiler = undefined;
      writeFileSync(m.path, JSON.stringify(profile));
      process.send!({ kind: 'profile-stopped' });
    } else if (m.kind === 'stop') {
      await server.close();
      await runtime.close();
      process.exit(0);
    }
  })().catch((e: unknown) => {
    process.send!({ kind: 'failed', message: e instanceof Error ? e.message : String(e) });
  });
});
process.send!({ kind: 'ready', url: server.url, issuer });
