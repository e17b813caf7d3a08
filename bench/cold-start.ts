// Cold start of each deployed function: process start → first answered request, through the
// Functions Framework (as on Cloud Run functions) with the session store on a real PostgreSQL;
// the import cost of each Google client library in a fresh process; and which of them a function
// process has loaded once it has answered. `npx tsx bench/cold-start.ts`.
//
// "Eager" runs the same function with every Google library imported before the framework starts
// (bench/cold-start-eager.mjs): what each instance would pay if functions/index.ts imported the
// adapters' libraries at its top, as it did before they were loaded on first use.
import { generateKeyPairSync } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { devIssuerRoutes, loadOrCreateDevKey, mintDevToken } from '../infra/dev-issuer.ts';
import { freePort } from '../infra/free-port.ts';
import { startLocalServer } from '../infra/local-server.ts';
import { startTestPostgres } from '../infra/throwaway-postgres.ts';

export const GOOGLE_LIBS = ['@google-cloud/firestore', '@google-cloud/pubsub', '@google-cloud/secret-manager', 'google-auth-library'] as const;
const TARGETS = ['query', 'approvals', 'notify'] as const;
type Target = (typeof TARGETS)[number];

export interface ColdStart {
  readonly target: Target;
  readonly mode: 'lazy' | 'eager';
  /** Median over the runs, spawn → first response received. */
  readonly medianMs: number;
  readonly runsMs: readonly number[];
  readonly status: number;
  /** Google libraries loaded in the process once it had answered. */
  readonly googleLibsLoaded: readonly string[];
}

export interface ColdStartFigures {
  readonly importMs: Readonly<Record<string, number>>;
  readonly starts: readonly ColdStart[];
}

const ROOT = new URL('..', import.meta.url).pathname;
const FRAMEWORK = join(ROOT, 'node_modules/@google-cloud/functions-framework/build/src/main.js');

/** Median of `runs` fresh processes importing `lib`, import alone (node's own start excluded). */
function importCost(lib: string, runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', `const t = performance.now(); await import(${JSON.stringify(lib)}); console.log(performance.now() - t);`], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, METADATA_SERVER_DETECTION: 'none' },
    });
    if (out.status !== 0) throw new Error(`importing ${lib} failed: ${out.stderr}`);
    times.push(Number(out.stdout.trim()));
  }
  return median(times);
}

async function startOnce(target: Target, mode: 'lazy' | 'eager', env: NodeJS.ProcessEnv, dir: string, token: string): Promise<{ ms: number; status: number; loaded: string[] }> {
  const port = await freePort();
  const probeOut = join(dir, `probe-${target}-${mode}-${port}.json`);
  const args = [
    '--import', 'tsx',
    '--import', join(ROOT, 'bench/cold-start-probe.mjs'),
    ...(mode === 'eager' ? ['--import', join(ROOT, 'bench/cold-start-eager.mjs')] : []),
    FRAMEWORK,
    `--target=${target}`,
    `--source=${join(ROOT, 'functions/index.ts')}`,
    `--port=${port}`,
    ...(target === 'notify' ? ['--signature-type=cloudevent'] : []),
  ];
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...env, GATEHOUSE_BENCH_PROBE_OUT: probeOut }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr.on('data', (b: Buffer) => (output += b.toString()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${target} exited ${child.exitCode}: ${output.slice(-2000)}`);
      if (performance.now() - started > 60_000) throw new Error(`${target} did not answer in 60 s: ${output.slice(-2000)}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/${target === 'approvals' ? 'v1/approvals' : target === 'query' ? 'v1/query' : ''}`, request(target, token));
        await res.arrayBuffer();
        const ms = performance.now() - started;
        child.kill('SIGUSR2');
        for (let i = 0; i < 50 && !existsSync(probeOut); i++) await sleep(20);
        const loaded = existsSync(probeOut) ? (JSON.parse(readFileSync(probeOut, 'utf8')) as string[]) : ['(probe did not answer)'];
        return { ms, status: res.status, loaded };
      } catch (e) {
        if (!(e instanceof TypeError)) throw e; // not listening yet (fetch failed)
        await sleep(5);
      }
    }
  } finally {
    child.kill('SIGKILL');
  }
}

/**
 * One realistic first request: for query, an authorised read of the target (token verified against
 * the test issuer's JWKS, the session log written to PostgreSQL); for approvals, a listing (401
 * without a reviewer's token, after the runtime is built); for notify, a Pub/Sub CloudEvent.
 */
function request(target: Target, token: string): RequestInit {
  if (target === 'notify') {
    // A CloudEvent in binary mode, as Pub/Sub push through Eventarc delivers it.
    return {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'ce-id': '1', 'ce-source': 'bench', 'ce-specversion': '1.0', 'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished' },
      body: JSON.stringify({ message: { data: Buffer.from('{}').toString('base64'), messageId: '1' } }),
    };
  }
  return target === 'query'
    ? { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ connection: 'main', sql: 'SELECT 1 AS one' }) }
    : { method: 'GET' };
}

export async function benchColdStart(options: { runs?: number; importRuns?: number } = {}): Promise<ColdStartFigures> {
  const runs = options.runs ?? 3;
  const importMs: Record<string, number> = {};
  for (const lib of GOOGLE_LIBS) importMs[lib] = Math.round(importCost(lib, options.importRuns ?? 3));

  const pg = await startTestPostgres();
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cold-'));
  const issuerPort = await freePort();
  const issuer = `http://127.0.0.1:${issuerPort}/dev`;
  const key = await loadOrCreateDevKey(dir);
  const issuerServer = await startLocalServer({ host: '127.0.0.1', port: issuerPort, routes: [], raw: [devIssuerRoutes(key, issuer)] });
  try {
    const token = await mintDevToken(key, { issuer, sub: 'bench-bot@example.com', aud: 'bench', ttlSec: 3600 });
    const policy = join(dir, 'policy.yaml');
    writeFileSync(
      policy,
      `version: 1
issuers:
  - issuer: ${issuer}
    audience: bench
    jwksUri: ${issuer}/jwks.json
groups:
  bots: [bench-bot@example.com]
connections:
  main:
    credentials: env://BENCH_TARGET_URL
rules:
  - name: bots-read
    principals: [group:bots]
    classes: [read]
    action: allow
  - name: nothing-else
    action: deny
`,
    );
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      METADATA_SERVER_DETECTION: 'none',
      GATEHOUSE_POLICY: policy,
      GATEHOUSE_SESSION_STORE: pg.url,
      GATEHOUSE_MASKING_KEY: 'env://BENCH_MASKING_KEY',
      BENCH_MASKING_KEY: Buffer.alloc(32, 1).toString('base64'),
      BENCH_TARGET_URL: pg.url,
      GATEHOUSE_WEBHOOK_URL: 'env://BENCH_WEBHOOK',
      BENCH_WEBHOOK: 'http://127.0.0.1:9/hook',
      GATEHOUSE_APPROVAL_SIGNING_KEY: 'env://BENCH_SIGNING_KEY',
      BENCH_SIGNING_KEY: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    const starts: ColdStart[] = [];
    for (const target of TARGETS) {
      for (const mode of ['lazy', 'eager'] as const) {
        const results = [];
        for (let i = 0; i < runs; i++) results.push(await startOnce(target, mode, env, dir, token));
        const runsMs = results.map((r) => Math.round(r.ms));
        starts.push({ target, mode, medianMs: median(runsMs), runsMs, status: results[0]!.status, googleLibsLoaded: results[0]!.loaded });
      }
    }
    return { importMs, starts };
  } finally {
    await issuerServer.close();
    rmSync(dir, { recursive: true, force: true });
    await pg.stop();
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const figures = await benchColdStart();
  console.log('import cost, fresh process (median ms):');
  for (const [lib, ms] of Object.entries(figures.importMs)) console.log(`  ${lib.padEnd(32)} ${ms}`);
  console.log('cold start, spawn → first answered request (median ms, runs):');
  for (const s of figures.starts) {
    console.log(`  ${s.target.padEnd(10)} ${s.mode.padEnd(6)} ${String(s.medianMs).padStart(6)}  [${s.runsMs.join(', ')}]  HTTP ${s.status}  Google libs loaded: ${s.googleLibsLoaded.join(', ') || 'none'}`);
  }
}
