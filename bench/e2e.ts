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
import { fork, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { loadOrCreateDevKey, mintDevToken } from '../infra/dev-issuer.ts';
import { freePort } from '../infra/free-port.ts';
import { startTestPostgres, type TestPostgres } from '../infra/throwaway-postgres.ts';
import type { GatewayProcessMessage, GatewayProcessOptions } from './e2e/gateway-main.ts';
import type { LoadgenInit, LoadgenResult, LoadgenRun } from './e2e/loadgen-main.ts';
import { postgresCpuMs, processCpuMs, writeSyscalls } from './e2e/proc.ts';
import { summariseProfile, type CpuProfile, type ProfileSummary } from './e2e/profile.ts';
import { startCountingRelay, turnsWithin, waterfall, type CountingRelay, type Waterfall } from './e2e/relay.ts';
import { startWaitSampler, type WaitSample } from './e2e/waits.ts';

const SQL = 'SELECT id, total, placed FROM bench_orders WHERE id = $1';
const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface E2eOptions {
  /** One-at-a-time requests per path (in alternating blocks of a fifth). */
  readonly sequential?: number;
  /** How long each concurrent phase runs. */
  readonly durationMs?: number;
  readonly concurrency?: readonly number[];
  /** Round-trip counting: one-at-a-time requests, through the relays. */
  readonly counted?: number;
  /** Profile the gateway during a concurrent phase (at the first concurrency). */
  readonly breakdown?: boolean;
  /** The gateway's pools (target and session store); default the largest concurrency. */
  readonly poolSize?: number;
}

export interface Latency {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
}

export interface PhaseFigures extends Latency {
  readonly requests: number;
  /** Requests answered 200 (direct pg: a result) per second of the phase. */
  readonly executedPerSec: number;
  /** Everything but 200: status (or `error`) → count, and the error codes seen. */
  readonly non200: Readonly<Record<string, number>>;
  readonly errorCodes: Readonly<Record<string, number>>;
  /** CPU ms per request: the gateway's process, each PostgreSQL server, the load generator. */
  readonly cpuMsPerRequest: { readonly gateway: number; readonly target: number; readonly store: number; readonly loadgen: number };
  /** Write-type syscalls per request (/proc/PID/io syscw) of the gateway's process and the load generator. */
  readonly writeSyscallsPerRequest: { readonly gateway: number; readonly loadgen: number };
}

export interface RoundTrips {
  readonly requests: number;
  /** Per request, turns that began and were answered while the HTTP request was open. */
  readonly criticalPath: { readonly target: number; readonly store: number; readonly total: number };
  /** Per request, every turn, including those after the answer (COMMIT, DISCARD ALL, …). */
  readonly all: { readonly target: number; readonly store: number; readonly total: number };
  /** Per request, client chunks the relay received (≈ the client's write syscalls/flushes). */
  readonly clientWrites: { readonly target: number; readonly store: number };
  /** Connections the gateway opened during the counted requests (0 with warm pools). */
  readonly connectionsOpened: { readonly target: number; readonly store: number };
  /** One at a time: the typical request laid out in time (through the relays). */
  readonly waterfall?: Waterfall;
}

export interface Breakdown extends ProfileSummary {
  readonly inFlight: number;
  readonly requests: number;
  readonly executedPerSec: number;
  /** What each database's client backends were doing, sampled from pg_stat_activity. */
  readonly backends: Readonly<Record<string, WaitSample>>;
}

export interface E2eReport {
  readonly date: string;
  readonly machine: string;
  readonly loadAverage: { readonly start: readonly number[]; readonly end: readonly number[] };
  readonly store: { readonly fsync: string; readonly synchronousCommit: string };
  readonly poolSize: number;
  readonly sequential: { readonly direct: PhaseFigures; readonly gateway: PhaseFigures };
  readonly concurrent: readonly { readonly inFlight: number; readonly direct: PhaseFigures; readonly gateway: PhaseFigures }[];
  readonly roundTrips: {
    readonly gateway: RoundTrips;
    readonly direct: RoundTrips;
    /** The same at each concurrency (no windows: all turns): what batching across requests saves. */
    readonly gatewayConcurrent: readonly (Omit<RoundTrips, 'criticalPath' | 'waterfall'> & { readonly inFlight: number })[];
  };
  /** Per concurrency: a CPU profile of the gateway and the databases' wait events, in extra phases. */
  readonly breakdown: readonly Breakdown[];
}

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

// --- the goals, next to the figures ----------------------------------------------------------

export function printE2e(r: E2eReport): void {
  const out = (line = '') => console.log(line);
  const s = r.sequential;
  const f = (x: number, digits = 2) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 }) : '—');
  const mark = (ok: boolean) => (ok ? 'met' : '**not met**');
  const addedP50 = s.gateway.p50Ms - s.direct.p50Ms;
  const addedP99 = s.gateway.p99Ms - s.direct.p99Ms;
  const rt = r.roundTrips;
  out(`\n${r.date} · ${r.machine} · load average ${r.loadAverage.start.join(' ')} → ${r.loadAverage.end.join(' ')}`);
  out(`session store: fsync=${r.store.fsync}, synchronous_commit=${r.store.synchronousCommit}; gateway pools: ${r.poolSize} target + ${r.poolSize} store connections\n`);
  out('| | direct `pg` | gateway | gateway − direct | goal |');
  out('|---|---|---|---|---|');
  out(`| one at a time: p50 ms | ${f(s.direct.p50Ms)} | ${f(s.gateway.p50Ms)} | +${f(addedP50)} | added ≤ 1 ms: ${mark(addedP50 <= 1)} |`);
  out(`| one at a time: p99 ms | ${f(s.direct.p99Ms)} | ${f(s.gateway.p99Ms)} | +${f(addedP99)} | added ≤ 5 ms: ${mark(addedP99 <= 5)} |`);
  out(`| one at a time: CPU ms/request (gateway · target PG · store PG) | — · ${f(s.direct.cpuMsPerRequest.target)} · — | ${cpu(s.gateway, f)} | | |`);
  for (const c of r.concurrent) {
    const non200 = Object.values(c.gateway.non200).reduce((a, b) => a + b, 0);
    const codes = Object.entries(c.gateway.errorCodes).map(([k, v]) => `${k} ${v}`).join(', ');
    out(`| ${c.inFlight} in flight: executed q/s | ${f(c.direct.executedPerSec, 0)} | ${f(c.gateway.executedPerSec, 0)} (non-200: ${non200}${codes ? `: ${codes}` : ''}) | ${f(c.gateway.executedPerSec / c.direct.executedPerSec, 3)}× | ≥ 1,500: ${mark(c.gateway.executedPerSec >= 1500)} |`);
    out(`| ${c.inFlight} in flight: p50 / p99 ms | ${f(c.direct.p50Ms)} / ${f(c.direct.p99Ms)} | ${f(c.gateway.p50Ms)} / ${f(c.gateway.p99Ms)} | | |`);
    out(`| ${c.inFlight} in flight: CPU ms/request (gateway · target PG · store PG) | — · ${f(c.direct.cpuMsPerRequest.target)} · — | ${cpu(c.gateway, f)} | | |`);
    out(`| ${c.inFlight} in flight: CPU ms/request of the load generator | ${f(c.direct.cpuMsPerRequest.loadgen)} | ${f(c.gateway.cpuMsPerRequest.loadgen)} | | |`);
  }
  out(`| round trips on the critical path, counted (target + store) | ${f(rt.direct.criticalPath.total)} | ${f(rt.gateway.criticalPath.total)} (${f(rt.gateway.criticalPath.target)} + ${f(rt.gateway.criticalPath.store)}) | | ≤ 3: ${mark(rt.gateway.criticalPath.total <= 3)} |`);
  out(`| round trips per request, all (incl. after the answer); connections opened | ${f(rt.direct.all.total)}; ${rt.direct.connectionsOpened.target} | ${f(rt.gateway.all.total)} (${f(rt.gateway.all.target)} + ${f(rt.gateway.all.store)}); ${rt.gateway.connectionsOpened.target} + ${rt.gateway.connectionsOpened.store} | | |`);
  for (const gc of rt.gatewayConcurrent) {
    out(`| round trips per request at ${gc.inFlight} in flight, all (target + store); connections opened | | ${f(gc.all.total)} (${f(gc.all.target)} + ${f(gc.all.store)}); ${gc.connectionsOpened.target} + ${gc.connectionsOpened.store} | | |`);
  }
  out(`| client writes per request seen by the relay (target + store) | ${f(rt.direct.clientWrites.target)} | ${f(rt.gateway.clientWrites.target)} + ${f(rt.gateway.clientWrites.store)} | | |`);
  for (const c of r.concurrent) {
    out(`| write syscalls per request, whole process (${c.inFlight} in flight) | ${f(c.direct.writeSyscallsPerRequest.loadgen)} (load generator) | ${f(c.gateway.writeSyscallsPerRequest.gateway)} (gateway: HTTP answer, log line, both databases) | | |`);
  }
  const w = rt.gateway.waterfall;
  if (w) {
    out(`\nOne request at a time, laid out (the counting run, through the relays: ${w.requests} of ${w.of} requests had this order of turns; mean ${f(w.meanMs)} ms):\n`);
    out('| step | where | mean ms | bytes sent / received |');
    out('|---|---|---|---|');
    w.steps.forEach((x, i) => out(`| ${i + 1} | ${x.where === 'gateway' ? 'gateway (its own work; HTTP legs at both ends)' : `${x.where} round trip`} | ${f(x.meanMs, 3)} | ${x.clientBytes === undefined ? '' : `${x.clientBytes} / ${x.serverBytes}`} |`));
    const sum = (k: string) => w.steps.filter((x) => x.where === k).reduce((a, x) => a + x.meanMs, 0);
    out(`| | total: gateway ${f(sum('gateway'))} · target ${f(sum('target'))} · store ${f(sum('store'))} | ${f(w.meanMs)} | |`);
  }
  for (const b of r.breakdown) {
    out(`\nWhere the gateway's CPU goes at ${b.inFlight} in flight (${b.requests} requests, ${f(b.executedPerSec, 0)}/s under the profiler; V8 profile: busy ${f(b.busyMs, 0)} ms = ${f(b.busyMs / b.requests, 3)} ms/request, idle ${f(b.idleMs, 0)} ms):\n`);
    out('| code | self time: ms/request | share | with the Node internals it called: ms/request | share |');
    out('|---|---|---|---|---|');
    const charged = new Map(b.attributed.map((x) => [x.where, x]));
    const names = [...new Set([...b.attributed, ...b.shares].filter((x) => x.percent >= 1).map((x) => x.where))];
    const self = new Map(b.shares.map((x) => [x.where, x]));
    names.sort((x, y) => (charged.get(y)?.ms ?? 0) - (charged.get(x)?.ms ?? 0));
    const cell = (x: { ms: number; percent: number } | undefined) => (x ? `${f(x.ms / b.requests, 3)} | ${f(x.percent, 1)}%` : '0 | 0%');
    for (const name of names) out(`| ${name} | ${cell(self.get(name))} | ${cell(charged.get(name))} |`);
    out(`\nThe databases' client backends meanwhile (mean number in each state, pg_stat_activity every 25 ms):\n`);
    for (const [db, sample] of Object.entries(b.backends)) {
      const states = Object.entries(sample.backends).filter(([, v]) => v >= 0.05).map(([k, v]) => `${k} ${f(v)}`).join(' · ');
      out(`- ${db}: ${states || 'none busy'} (${sample.samples} samples)`);
    }
  }
}

function cpu(p: PhaseFigures, f: (x: number, d?: number) => string): string {
  return `${f(p.cpuMsPerRequest.gateway)} · ${f(p.cpuMsPerRequest.target)} · ${f(p.cpuMsPerRequest.store)}`;
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
  if (r.windows) {
    for (const [a, b] of r.windows) {
      const t0 = BigInt(a);
      const t1 = BigInt(b);
      critical = { target: critical.target + turnsWithin(target!.turns(), t0, t1).inside, store: critical.store + turnsWithin(store!.turns(), t0, t1).inside };
    }
  }
  const chunks = (relay: CountingRelay) => relay.turns().reduce((a, t) => a + t.clientChunks, 0);
  const laidOut = r.windows ? waterfall({ target: target!.turns(), store: store!.turns() }, r.windows.map(([a, b]) => [BigInt(a), BigInt(b)] as const)) : undefined;
  return {
    requests: n,
    criticalPath: { target: per(critical.target), store: per(critical.store), total: per(critical.target + critical.store) },
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

/** A child Node process running a TypeScript entry through tsx; stdout discarded, stderr shown. */
async function startChild(entry: string, args: string[], env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = fork(entry, args, { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  if (entry.endsWith('loadgen-main.ts')) await nextMessage(child); // 'loaded'
  return child;
}

function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${child.spawnargs.join(' ')} exited (code ${code})`));
    child.once('exit', onExit);
    child.once('message', (m: { kind: string; message?: string }) => {
      child.off('exit', onExit);
      if (m.kind === 'failed') reject(new Error(m.message));
      else resolve(m as T);
    });
  });
}

async function request<T>(child: ChildProcess, message: object): Promise<T> {
  const answer = nextMessage<T>(child);
  child.send(message);
  return answer;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    if (child.connected) child.send({ kind: 'stop' });
    else child.kill('SIGTERM');
  });
}

async function createDatabase(server: TestPostgres, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return Object.assign(new URL(server.url), { pathname: `/${name}` }).toString();
}

async function seed(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('CREATE TABLE bench_orders (id int PRIMARY KEY, total numeric(10,2), placed date)');
    await c.query("INSERT INTO bench_orders SELECT g, g * 1.25, DATE '2026-01-01' + (g % 300) FROM generate_series(1, 1000) g");
    await c.query('ANALYZE bench_orders');
  } finally {
    await c.end();
  }
}

async function showDurability(url: string): Promise<E2eReport['store']> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const fsync = (await c.query<{ fsync: string }>('SHOW fsync')).rows[0]!.fsync;
    const synchronousCommit = (await c.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]!.synchronous_commit;
    return { fsync, synchronousCommit };
  } finally {
    await c.end();
  }
}

async function serverVersion(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version.split(' ')[0]!;
  } finally {
    await c.end();
  }
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
