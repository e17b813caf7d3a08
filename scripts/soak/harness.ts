// What the soak run, the fault run and their smoke test share: a real PostgreSQL (a throwaway
// cluster, or the one a test run provides) holding a target and a session store, each behind a TCP
// proxy that a fault can cut; the gateway in a child process; the load generator in another; and
// the accounting that says whether the log told the truth. Loopback only, bounded in time.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startTestPostgres, type TestPostgres } from '../../infra/throwaway-postgres.ts';
import { freePort } from '../../infra/free-port.ts';
import { loadOrCreateDevKey, mintDevToken } from '../../infra/dev-issuer.ts';
import { tcpProxy, type TcpProxy } from '../../test/helpers/tcp-proxy.ts';
import { TEST_AUDIENCE, TEST_MASKING_KEY, testPolicy } from '../../test/helpers/gateway.ts';
import { createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import { createTargetDatabase } from '../../shared/postgres/index.ts';
import { createSecretSource } from '../../shared/adapters/secrets/index.ts';
import { reconcile } from '../../shared/reconcile/reconcile.ts';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { verifyEvidence } from '../../shared/evidence/verify.ts';
import { startGatewayChild, type GatewayChild } from './child-process.ts';
import type { LoadConfig, LoadResult } from './load.ts';

const LOAD = new URL('./load.ts', import.meta.url).pathname;
const MB = 1024 * 1024;
const STATEMENT_TIMEOUT_MS = 5000;
const GRACE_MS = 3000;

export interface Harness {
  readonly storeUrl: string;
  readonly targetUrl: string;
  readonly storeProxy: TcpProxy;
  readonly targetProxy: TcpProxy;
  gateway: GatewayChild;
  readonly tokens: { dba: string; bot: string };
  store: pg.Pool;
  target: pg.Pool;
  restartGateway(): Promise<void>;
  close(): Promise<void>;
}

export interface ScenarioRow {
  readonly scenario: string;
  readonly requests: number;
  readonly byStatus: Record<string, number>;
  readonly byCode: Record<string, number>;
  readonly fiveXX: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly rssMb: { start: number; peak: number; end: number };
  readonly sessionsRecorded: number;
  readonly answersWithSession: number;
  /** Recorded sessions that no answer named: only a killed gateway may leave these. */
  readonly unnamedSessions: number;
  readonly noAnswer: number;
  readonly unknownOutcomes: number;
  readonly verify: string;
}

export async function startHarness(options: { baseUrl?: string; storeStatementTimeoutMs?: number } = {}): Promise<Harness> {
  let cluster: TestPostgres | undefined;
  const base = options.baseUrl ?? (cluster = await startTestPostgres()).url;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-soak-'));
  const suffix = randomBytes(4).toString('hex');
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE soak_target_${suffix}`);
  await admin.query(`CREATE DATABASE soak_audit_${suffix}`);
  await admin.end();
  const urlOf = (db: string, port?: number) => {
    const u = new URL(base);
    u.pathname = `/${db}`;
    if (port) {
      u.hostname = '127.0.0.1';
      u.port = String(port);
    }
    return u.toString();
  };
  const pgPort = Number(new URL(base).port);
  const storeProxy = tcpProxy(await freePort(), { host: '127.0.0.1', port: pgPort });
  const targetProxy = tcpProxy(await freePort(), { host: '127.0.0.1', port: pgPort });
  await storeProxy.open();
  await targetProxy.open();
  const storeUrl = urlOf(`soak_audit_${suffix}`);
  const targetUrl = urlOf(`soak_target_${suffix}`);
  const target = new pg.Pool({ connectionString: targetUrl, max: 3 });
  const store = new pg.Pool({ connectionString: storeUrl, max: 3 });
  target.on('error', () => {});
  store.on('error', () => {});
  await target.query(`
    CREATE TABLE notes (id serial PRIMARY KEY, body text);
    INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, 200) g;
    CREATE TABLE big AS SELECT i AS id, repeat(chr(64 + i), 8 * 1024 * 1024) AS body FROM generate_series(1, 3) i;`);

  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}/dev`;
  const policyPath = join(dir, 'policy.yaml');
  // 5 s per statement: room for the 8 MB-row reads on a loaded two-core machine.
  writeFileSync(policyPath, testPolicy(issuer).replace('statementTimeoutMs: 2000', `statementTimeoutMs: ${STATEMENT_TIMEOUT_MS}`));
  const childConfig = {
    stateDir: dir,
    port,
    policyPath,
    sessionStoreUrl: urlOf(`soak_audit_${suffix}`, storeProxy.port),
    env: {
      GATEHOUSE_TEST_TARGET_URL: urlOf(`soak_target_${suffix}`, targetProxy.port),
      GATEHOUSE_TEST_MASKING_KEY: TEST_MASKING_KEY,
      // The result-bytes budget under test, when the run names one (scripts/soak/heavy.ts).
      ...(process.env.GATEHOUSE_MAX_INFLIGHT_RESULT_BYTES ? { GATEHOUSE_MAX_INFLIGHT_RESULT_BYTES: process.env.GATEHOUSE_MAX_INFLIGHT_RESULT_BYTES } : {}),
    },
    maskingKey: 'env://GATEHOUSE_TEST_MASKING_KEY',
    storeStatementTimeoutMs: options.storeStatementTimeoutMs ?? 2000,
    reconcile: { intervalMs: 5000, graceMs: GRACE_MS, startupLookbackMs: 3_600_000 },
  };
  const key = await loadOrCreateDevKey(dir);
  const harness: Harness = {
    storeUrl,
    targetUrl,
    storeProxy,
    targetProxy,
    gateway: await startGatewayChild(childConfig),
    tokens: {
      dba: await mintDevToken(key, { issuer, sub: 'alice@acme.com', aud: TEST_AUDIENCE, ttlSec: 3600 }),
      bot: await mintDevToken(key, { issuer, sub: 'review-bot@acme-prod.iam.gserviceaccount.com', aud: TEST_AUDIENCE, ttlSec: 3600 }),
    },
    store,
    target,
    async restartGateway() {
      await harness.gateway.kill('SIGKILL');
      harness.gateway = await startGatewayChild(childConfig);
    },
    async close() {
      await harness.gateway.kill('SIGTERM').catch(() => {});
      await Promise.allSettled([store.end(), target.end(), storeProxy.close(), targetProxy.close()]);
      if (cluster) await cluster.stop();
      else {
        const c = new pg.Client({ connectionString: base });
        await c.connect();
        await c.query(`DROP DATABASE IF EXISTS soak_target_${suffix} WITH (FORCE)`).catch(() => {});
        await c.query(`DROP DATABASE IF EXISTS soak_audit_${suffix} WITH (FORCE)`).catch(() => {});
        await c.end();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Runs the load generator in its own process while `during` injects a fault; samples the gateway's RSS. */
export async function runScenario(
  h: Harness,
  scenario: string,
  load: Omit<LoadConfig, 'url' | 'tokens'>,
  during: () => Promise<void> = async () => {},
): Promise<ScenarioRow> {
  const since = new Date();
  const rss = { start: h.gateway.rss(), peak: 0, end: 0 };
  rss.peak = rss.start;
  const sampler = setInterval(() => (rss.peak = Math.max(rss.peak, h.gateway.rss())), 50);
  let result: LoadResult;
  try {
    const config: LoadConfig = { ...load, url: h.gateway.url, tokens: h.tokens };
    const [r] = await Promise.all([loadProcess(config), during()]);
    result = r;
  } finally {
    clearInterval(sampler);
  }
  rss.end = h.gateway.rss();
  // Let the reconciler see what the fault left open: past the statement timeout and the grace.
  await new Promise((r) => setTimeout(r, STATEMENT_TIMEOUT_MS + GRACE_MS + 1000));
  const truth = await accounting(h, since, new Set(result.sessionIds));
  const fiveXX = Object.entries(result.byStatus).filter(([s]) => s.startsWith('5')).reduce((n, [, v]) => n + v, 0);
  return {
    scenario,
    requests: result.requests,
    byStatus: result.byStatus,
    byCode: result.byCode,
    fiveXX,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    rssMb: { start: Math.round(rss.start / MB), peak: Math.round(rss.peak / MB), end: Math.round(rss.end / MB) },
    answersWithSession: result.sessionIds.length,
    noAnswer: result.noAnswer,
    ...truth,
  };
}

async function loadProcess(config: LoadConfig): Promise<LoadResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', LOAD, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`load generator failed (${code}): ${err.slice(-2000)}`);
  return JSON.parse(out.trim().split('\n').pop()!) as LoadResult;
}

/** Sessions recorded since `since` against the answers; a reconcile pass; export and verify. */
async function accounting(h: Harness, since: Date, named: ReadonlySet<string>) {
  const { rows } = await h.store.query<{ session_id: string }>('SELECT session_id FROM gatehouse_sessions WHERE started_at >= $1', [since]);
  const unnamed = rows.filter((r) => !named.has(r.session_id)).length;
  const log = await createPostgresSessionLog({ connectionString: h.storeUrl, poolSize: 2 });
  const secrets = createSecretSource({ env: { T: h.targetUrl } });
  const target = createTargetDatabase({ connections: { main: { credentials: 'env://T' } }, secrets, poolSize: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-soak-evidence-'));
  try {
    await reconcile({ sessions: log, target, graceMs: GRACE_MS, reconciledBy: 'soak' }, { since });
    const out = join(dir, 'evidence');
    await exportEvidence(log, { from: since, to: new Date(Date.now() + 1000), out, source: 'soak' });
    const v = await verifyEvidence(out);
    return {
      sessionsRecorded: rows.length,
      unnamedSessions: unnamed,
      unknownOutcomes: v.outcomes?.unknown ?? 0,
      verify: v.ok ? 'ok' : `FAILED (${v.problemsTotal})`,
    };
  } finally {
    await Promise.allSettled([log.close(), target.close(), secrets.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function formatTable(rows: readonly ScenarioRow[]): string {
  const head = ['scenario', 'requests', 'answers by status', '5xx', 'p50 ms', 'p99 ms', 'RSS MB start/peak/end', 'sessions', 'named by an answer', 'unnamed', 'no answer', 'unknown outcome', 'verify'];
  const body = rows.map((r) => [
    r.scenario,
    String(r.requests),
    Object.entries(r.byStatus).map(([s, n]) => `${s}:${n}`).join(' '),
    String(r.fiveXX),
    String(r.p50Ms),
    String(r.p99Ms),
    `${r.rssMb.start}/${r.rssMb.peak}/${r.rssMb.end}`,
    String(r.sessionsRecorded),
    String(r.answersWithSession),
    String(r.unnamedSessions),
    String(r.noAnswer),
    String(r.unknownOutcomes),
    r.verify,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
