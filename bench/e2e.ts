// End-to-end latency and throughput of POST /v1/query next to the same query sent straight to
// PostgreSQL with `pg`, in one run on one machine, so the ratio means something on a noisy host.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { queryHandler } from '../functions/query.ts';
import { devIssuerRoutes, loadOrCreateDevKey, mintDevToken } from '../infra/dev-issuer.ts';
import { freePort } from '../infra/free-port.ts';
import { startLocalServer } from '../infra/local-server.ts';
import { createRuntime } from '../shared/config.ts';

export interface E2eFigures {
  readonly target: string;
  readonly requests: number;
  readonly concurrency: number;
  /** One request at a time: latency without queueing. */
  readonly sequential: { readonly direct: Stats; readonly gateway: Stats };
  /** `concurrency` requests in flight: throughput, and latency under load. */
  readonly direct: Stats;
  readonly gateway: Stats;
}
interface Stats {
  readonly medianMs: number;
  readonly p99Ms: number;
  readonly perSec: number;
}

const SQL = 'SELECT id, total, placed FROM bench_orders WHERE id = $1';

export async function benchE2e(options: { label: string; targetUrl: string; sessionStoreUrl: string; requests?: number; concurrency?: number }): Promise<E2eFigures> {
  const requests = options.requests ?? 400;
  const concurrency = options.concurrency ?? 8;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  const admin = new pg.Pool({ connectionString: options.targetUrl, max: concurrency });
  await admin.query('DROP TABLE IF EXISTS bench_orders; CREATE TABLE bench_orders (id int PRIMARY KEY, total numeric(10,2), placed date)');
  await admin.query("INSERT INTO bench_orders SELECT g, g * 1.25, DATE '2026-01-01' + (g % 300) FROM generate_series(1, 1000) g");

  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}/dev`;
  const policyPath = join(dir, 'policy.yaml');
  writeFileSync(
    policyPath,
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
    maxRows: 100
    statementTimeoutMs: 5000
rules:
  - name: bots-read
    principals: [group:bots]
    classes: [read]
    action: allow
  - name: nothing-else
    action: deny
`,
  );
  const key = await loadOrCreateDevKey(dir);
  const runtime = await createRuntime({
    policy: policyPath,
    sessionStore: { kind: 'postgres', url: options.sessionStoreUrl, poolSize: concurrency },
    env: { BENCH_TARGET_URL: options.targetUrl, BENCH_MASKING_KEY: Buffer.alloc(32, 1).toString('base64') },
    maskingKey: 'env://BENCH_MASKING_KEY',
    targetPoolSize: concurrency,
  });
  const server = await startLocalServer({ host: '127.0.0.1', port, routes: [{ prefix: '/v1/', handler: queryHandler(runtime.gateway) }], raw: [devIssuerRoutes(key, issuer)] });
  const token = await mintDevToken(key, { issuer, sub: 'bench-bot@example.com', aud: 'bench', ttlSec: 3600 });

  const direct = async (i: number) => {
    // The same protocol the gateway uses (extended, with a parameter), so only the gateway differs.
    await admin.query({ text: SQL, values: [(i % 1000) + 1] });
  };
  const viaGateway = async (i: number) => {
    const res = await fetch(`${server.url}/v1/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ connection: 'main', sql: SQL, params: [(i % 1000) + 1] }),
    });
    if (res.status !== 200) throw new Error(`gateway answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  };
  try {
    // Warm both paths (pools, JWKS cache, parser) before measuring.
    await measure(direct, 20, 1);
    await measure(viaGateway, 20, 1);
    const sequential = { direct: await measure(direct, 200, 1), gateway: await measure(viaGateway, 200, 1) };
    const d = await measure(direct, requests, concurrency);
    const g = await measure(viaGateway, requests, concurrency);
    return { target: options.label, requests, concurrency, sequential, direct: d, gateway: g };
  } finally {
    await server.close();
    await runtime.close();
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function measure(op: (i: number) => Promise<void>, n: number, concurrency: number): Promise<Stats> {
  const latencies: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t0 = process.hrtime.bigint();
        await op(i);
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }),
  );
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  return { medianMs: round(q(0.5)), p99Ms: round(q(0.99)), perSec: Math.round((n / wallMs) * 1000) };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
