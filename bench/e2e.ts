// `npm run bench -- e2e`: POST /v1/query next to the same statement sent straight to PostgreSQL
// with `pg`, in one run on one machine, so the ratio means something on a noisy host. Honest by
// construction (issue 17 item 7):
// - the load generator runs in a process of its own (bench/e2e/loadgen-main.ts), and so does the
//   gateway (bench/e2e/gateway-main.ts: the deployed configuration, served as `gatehouse start`
//   serves it); the bench drives the gateway over HTTP only, so it keeps measuring whatever the
//   internals become;
// - the session log is a PostgreSQL cluster of its own with fsync=on and synchronous_commit=on,
//   on the machine's disk; the target is another cluster;
// - round trips are counted, not estimated: a byte-level relay (bench/e2e/relay.ts) sits between
//   the gateway and each database in a separate run (a relay adds a hop, so the timed run goes
//   without it);
// - CPU per request comes from /proc (the gateway's process, each PostgreSQL server's processes,
//   the load generator), and a CPU profile of the gateway in a concurrent phase says what the time
//   is made of (bench/e2e/profile.ts).
import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadOrCreateDevKey, mintDevToken } from '../infra/dev-issuer.ts';
import { freePort } from '../infra/free-port.ts';
import { startTestPostgres } from '../infra/throwaway-postgres.ts';
import { request, startChild, stopChild, nextMessage } from './e2e/children.ts';
import { createDatabase, seed, serverVersion, showDurability } from './e2e/databases.ts';
import type { GatewayProcessMessage, GatewayProcessOptions } from './e2e/gateway-main.ts';
import type { LoadgenInit, LoadgenResult, LoadgenRun } from './e2e/loadgen-main.ts';
import { postgresCpuMs, processCpuMs, writeSyscalls } from './e2e/proc.ts';
import { summariseProfile, type CpuProfile } from './e2e/profile.ts';
import type { Breakdown, E2eOptions, E2eReport, PhaseFigures, RoundTrips } from './e2e/report.ts';
import { startCountingRelay, sequentialWithin, turnsWithin, waterfall, type CountingRelay } from './e2e/relay.ts';
import { startWaitSampler } from './e2e/waits.ts';

export type { E2eOptions, E2eReport } from './e2e/report.ts';
export { printE2e } from './e2e/print.ts';

const SQL = 'SELECT id, total, placed FROM bench_orders WHERE id = $1';
const ROOT = fileURLToPath(new URL('..', import.meta.url));

export async function benchE2e(options: E2eOptions = {}): Promise<E2eReport> {
  const sequentialN = options.sequential ?? 1000;
  const durationMs = options.durationMs ?? 8000;
  const concurrency = options.concurrency ?? [8, 32];
  const countedN = options.counted ?? 200;
  const poolSize = options.poolSize ?? Math.max(...concurrency);
  const loadStart = loadavg().map((x) => Math.round(x * 10) / 10);
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    log('starting the target and the session-store PostgreSQL clusters (the store with fsync=on) …');
    const [target, store] = await Promise.all([startTestPostgres(), startTestPostgres({ durable: true })]);
    cleanups.push(target.stop, store.stop);
    for (const s of [target, store]) if (s.kind !== 'postgres' || !s.dataDir) throw new Error('the e2e bench needs PostgreSQL server binaries (initdb, pg_ctl)');
    const targetUrl = await createDatabase(target, 'bench_target');
    const sessionsUrl = await createDatabase(store, 'gatehouse_sessions');
    const stateUrl = await createDatabase(store, 'gatehouse_state');
    const storeSettings = await showDurability(sessionsUrl);
    if (storeSettings.fsync !== 'on' || storeSettings.synchronousCommit !== 'on') throw new Error(`the session store is not durable: ${JSON.stringify(storeSettings)}`);
    await seed(targetUrl);

    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-e2e-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const key = await loadOrCreateDevKey(dir);
    const loadgen = await startChild(fileURLToPath(new URL('./e2e/loadgen-main.ts', import.meta.url)), [], {});
    cleanups.push(() => stopChild(loadgen));
    const gen = (r: Omit<LoadgenRun, 'kind'>) => request<LoadgenResult>(loadgen, { kind: 'run', ...r });

    // --- Run 1: round trips, counted through relays. ----------------------------------------
    log('run 1: counting round trips through loopback relays …');
    const targetRelay = await startCountingRelay(hostPort(targetUrl));
    const storeRelay = await startCountingRelay(hostPort(sessionsUrl));
    cleanups.push(targetRelay.close, storeRelay.close);
    await request(loadgen, {
      kind: 'init',
      connection: 'main',
      targetUrl,
      countedTargetUrl: targetRelay.via(targetUrl),
      sql: SQL,
      maxConcurrency: Math.max(...concurrency),
    } satisfies LoadgenInit);
    const counted = await startGateway({ dir, key, targetUrl: targetRelay.via(targetUrl), sessionsUrl: storeRelay.via(sessionsUrl), stateUrl, poolSize });
    cleanups.push(() => stopChild(counted.child));
    await gen({ path: 'gateway', gatewayUrl: counted.url, tokens: counted.tokens, concurrency: 1, requests: 50 });
    const gatewayTrips = await countTrips([targetRelay, storeRelay], () => gen({ path: 'gateway', gatewayUrl: counted.url, tokens: counted.tokens, concurrency: 1, requests: countedN, windows: true }));
    await gen({ path: 'direct-counted', concurrency: 1, requests: 20 });
    const directTrips = await countTrips([targetRelay, storeRelay], () => gen({ path: 'direct-counted', concurrency: 1, requests: countedN, windows: true }));
    const c0 = concurrency[0]!;
    const concurrentTrips: E2eReport['roundTrips']['gatewayConcurrent'][number][] = [];
    for (const n of concurrency) {
      const { criticalPath: _c, waterfall: _w, ...rest } = await countTrips([targetRelay, storeRelay], () =>
        gen({ path: 'gateway', gatewayUrl: counted.url, tokens: counted.tokens, concurrency: n, requests: Math.max(countedN * 2, n * 20) }),
      );
      concurrentTrips.push({ inFlight: n, ...rest });
    }
    await stopChild(counted.child);

    // --- Run 2: timed, no relay. ------------------------------------------------------------
    log('run 2: timed, gateway and databases connected directly …');
    const gw = await startGateway({ dir, key, targetUrl, sessionsUrl, stateUrl, poolSize });
    cleanups.push(() => stopChild(gw.child));
    const pids = { gateway: gw.child.pid!, loadgen: loadgen.pid! };
    const snapshot = (): Snapshot => ({
      gateway: processCpuMs(pids.gateway),
      loadgen: processCpuMs(pids.loadgen),
      target: postgresCpuMs(target.dataDir!),
      store: postgresCpuMs(store.dataDir!),
      gatewayWrites: writeSyscalls(pids.gateway),
      loadgenWrites: writeSyscalls(pids.loadgen),
    });
    const measured = async (r: Omit<LoadgenRun, 'kind'>): Promise<Measured> => {
      const before = snapshot();
      const result = await gen(r);
      return { result, before, after: snapshot() };
    };
    const g = (concurrencyN: number, extra: Partial<LoadgenRun>) => ({ path: 'gateway' as const, gatewayUrl: gw.url, tokens: gw.tokens, concurrency: concurrencyN, ...extra });
    const d = (concurrencyN: number, extra: Partial<LoadgenRun>) => ({ path: 'direct' as const, concurrency: concurrencyN, ...extra });
    // Warm both paths: pools full, JWKS fetched, JIT settled.
    await gen(d(1, { requests: 100 }));
    await gen(g(1, { requests: 100 }));
    for (const n of concurrency) {
      // Every pool grown to its size before any phase is timed.
      await gen(d(n, { requests: n * 50 }));
      await gen(g(n, { requests: n * 20 }));
    }

    log(`one at a time: ${sequentialN} requests per path, alternating blocks …`);
    const seqDirect: Measured[] = [];
    const seqGateway: Measured[] = [];
    const block = Math.max(1, Math.round(sequentialN / 5));
    for (let done = 0; done < sequentialN; done += block) {
      seqDirect.push(await measured(d(1, { requests: block })));
      seqGateway.push(await measured(g(1, { requests: block })));
    }
    const concurrent: E2eReport['concurrent'][number][] = [];
    for (const n of concurrency) {
      log(`${n} in flight: ${durationMs} ms per path, in 4 alternating blocks …`);
      const direct: Measured[] = [];
      const gateway: Measured[] = [];
      for (let k = 0; k < 4; k++) {
        direct.push(await measured(d(n, { durationMs: durationMs / 4 })));
        gateway.push(await measured(g(n, { durationMs: durationMs / 4 })));
      }
      concurrent.push({ inFlight: n, direct: figures(direct), gateway: figures(gateway) });
    }

    const breakdown: Breakdown[] = [];
    if (options.breakdown ?? true) {
      for (const n of concurrency) {
        log(`breakdown: CPU profile of the gateway and the databases' wait events, ${n} in flight for ${durationMs} ms …`);
        const profilePath = join(dir, `gateway-${n}.cpuprofile`);
        await request(gw.child, { kind: 'profile-start' } satisfies GatewayProcessMessage);
        const waits = await startWaitSampler({ target: targetUrl, store: sessionsUrl });
        const r = await gen(g(n, { durationMs }));
        const backends = await waits.stop();
        await request(gw.child, { kind: 'profile-stop', path: profilePath } satisfies GatewayProcessMessage);
        const profile = JSON.parse(readFileSync(profilePath, 'utf8')) as CpuProfile;
        // To open in Chrome DevTools or speedscope: BENCH_E2E_PROFILE=/path/gateway (gets -N.cpuprofile).
        if (process.env.BENCH_E2E_PROFILE) copyFileSync(profilePath, `${process.env.BENCH_E2E_PROFILE}-${n}.cpuprofile`);
        const executedPerSec = Math.round(((r.statuses['200'] ?? 0) / r.wallMs) * 1000);
        breakdown.push({ inFlight: n, requests: r.completed, executedPerSec, backends, ...summariseProfile(profile, pathToFileURL(ROOT).href) });
      }
    }

    return {
      date: new Date().toISOString(),
      machine: `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}, PostgreSQL ${await serverVersion(targetUrl)}`,
      loadAverage: { start: loadStart, end: loadavg().map((x) => Math.round(x * 10) / 10) },
      store: storeSettings,
      poolSize,
      sequential: { direct: figures(seqDirect), gateway: figures(seqGateway) },
      concurrent,
      roundTrips: {
        gateway: gatewayTrips,
        direct: directTrips,
        gatewayConcurrent: concurrentTrips,
      },
      breakdown,
    };
  } finally {
    await cleanup();
  }
}

// --- helpers ------------------------------------------------------------------------------------

interface Snapshot {
  readonly gateway: number;
  readonly loadgen: number;
  readonly target: number;
  readonly store: number;
  readonly gatewayWrites: number;
  readonly loadgenWrites: number;
}
interface Measured {
  readonly result: LoadgenResult;
  readonly before: Snapshot;
  readonly after: Snapshot;
}

/** Phases of one kind (blocks) merged: latencies pooled, CPU and writes summed. */
function figures(ms: readonly Measured[]): PhaseFigures {
  const latencies = ms.flatMap((m) => m.result.latenciesMs).sort((a, b) => a - b);
  const n = latencies.length;
  const sum = (k: keyof Snapshot) => ms.reduce((a, m) => a + (m.after[k] - m.before[k]), 0);
  const statuses: Record<string, number> = {};
  const errorCodes: Record<string, number> = {};
  for (const m of ms) {
    for (const [k, v] of Object.entries(m.result.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
    for (const [k, v] of Object.entries(m.result.errorCodes)) errorCodes[k] = (errorCodes[k] ?? 0) + v;
  }
  const ok = statuses['200'] ?? 0;
  const wallMs = ms.reduce((a, m) => a + m.result.wallMs, 0);
  const { 200: _ok, ...non200 } = statuses;
  const per = (x: number) => round(x / n, 3);
  return {
    requests: n,
    p50Ms: round(quantile(latencies, 0.5)),
    p99Ms: round(quantile(latencies, 0.99)),
    meanMs: round(latencies.reduce((a, b) => a + b, 0) / n),
    executedPerSec: Math.round((ok / wallMs) * 1000),
    non200,
    errorCodes,
    cpuMsPerRequest: { gateway: per(sum('gateway')), target: per(sum('target')), store: per(sum('store')), loadgen: per(sum('loadgen')) },
    writeSyscallsPerRequest: { gateway: per(sum('gatewayWrites')), loadgen: per(sum('loadgenWrites')) },
  };
}

/** Runs the requests with the relays' counts reset before; waits for turns after the answers. */
async function countTrips([target, store]: readonly CountingRelay[], run: () => Promise<LoadgenResult>): Promise<RoundTrips> {
  target!.reset();
  store!.reset();
  const r = await run();
  // What the gateway sends after answering (COMMIT, DISCARD ALL) lands within milliseconds.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const n = r.completed;
  const per = (x: number) => round(x / n, 2);
  let critical = { target: 0, store: 0 };
  let sequential = 0;
  if (r.windows) {
    for (const [a, b] of r.windows) {
      const t0 = BigInt(a);
      const t1 = BigInt(b);
      critical = { target: critical.target + turnsWithin(target!.turns(), t0, t1).inside, store: critical.store + turnsWithin(store!.turns(), t0, t1).inside };
      sequential += sequentialWithin([target!.turns(), store!.turns()], t0, t1);
    }
  }
  const chunks = (relay: CountingRelay) => relay.turns().reduce((a, t) => a + t.clientChunks, 0);
  const laidOut = r.windows ? waterfall({ target: target!.turns(), store: store!.turns() }, r.windows.map(([a, b]) => [BigInt(a), BigInt(b)] as const)) : undefined;
  return {
    requests: n,
    criticalPath: { target: per(critical.target), store: per(critical.store), total: per(critical.target + critical.store), sequential: per(sequential) },
    all: { target: per(target!.turns().length), store: per(store!.turns().length), total: per(target!.turns().length + store!.turns().length) },
    clientWrites: { target: per(chunks(target!)), store: per(chunks(store!)) },
    connectionsOpened: { target: target!.connectionsOpened(), store: store!.connectionsOpened() },
    ...(laidOut ? { waterfall: laidOut } : {}),
  };
}

interface StartedGateway {
  readonly child: ChildProcess;
  readonly url: string;
  readonly tokens: readonly string[];
}

async function startGateway(o: { dir: string; key: Awaited<ReturnType<typeof loadOrCreateDevKey>>; targetUrl: string; sessionsUrl: string; stateUrl: string; poolSize: number }): Promise<StartedGateway> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}/dev`;
  const policyPath = join(o.dir, `policy-${port}.yaml`);
  writeFileSync(policyPath, policyYaml(issuer));
  const signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const env = {
    ...process.env,
    GATEHOUSE_POLICY: policyPath,
    GATEHOUSE_SESSION_STORE: o.sessionsUrl,
    GATEHOUSE_APPROVAL_STORE: o.stateUrl,
    GATEHOUSE_MASKING_KEY: 'env://BENCH_MASKING_KEY',
    BENCH_MASKING_KEY: Buffer.alloc(32, 7).toString('base64'),
    GATEHOUSE_APPROVAL_SIGNING_KEY: 'env://BENCH_SIGNING_KEY',
    BENCH_SIGNING_KEY: signingKey,
    BENCH_TARGET_URL: o.targetUrl,
    GATEHOUSE_LOG_LEVEL: 'info',
  };
  const opts: GatewayProcessOptions = { port, stateDir: o.dir, targetPoolSize: o.poolSize, storePoolSize: o.poolSize };
  const child = await startChild(fileURLToPath(new URL('./e2e/gateway-main.ts', import.meta.url)), [JSON.stringify(opts)], env);
  const ready = await nextMessage<{ kind: 'ready'; url: string }>(child);
  // Minted ahead: 32 tokens of the same bot, used in turn, so signing is not on the measured path.
  const tokens = await Promise.all(Array.from({ length: 32 }, () => mintDevToken(o.key, { issuer, sub: 'bench-bot@example.com', aud: 'bench', ttlSec: 3600 })));
  return { child, url: ready.url, tokens };
}

function policyYaml(issuer: string): string {
  return `version: 1
issuers:
  - issuer: ${issuer}
    audience: bench
    jwksUri: ${issuer}/jwks.json
groups:
  bots: [bench-bot@example.com]
connections:
  main:
    credentials: env://BENCH_TARGET_URL
    maxRows: 100
    statementTimeoutMs: 5000
rules:
  - name: bots-read
    principals: [group:bots]
    classes: [read]
    action: allow
  - name: nothing-else
    action: deny
`;
}

function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

function quantile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

function round(x: number, digits = 2): number {
  const k = 10 ** digits;
  return Math.round(x * k) / k;
}

function log(line: string): void {
  console.error(`e2e: ${line}`);
}
