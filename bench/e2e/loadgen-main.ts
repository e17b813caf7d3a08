// The load generator, in a process of its own (bench/e2e.ts forks it), so its CPU is not the
// gateway's: before, the bench's requests ran on the gateway's own event loop (31% of its busy time).
// It drives both paths the same way — a fixed number of workers, each sending its next request
// when the previous one answered (closed loop) — over keep-alive HTTP to the gateway, or over a
// `pg` pool straight to the target with the same parameterised statement.
import { Agent, request } from 'node:http';
import pg from 'pg';

export interface LoadgenInit {
  readonly kind: 'init';
  readonly connection: string;
  readonly targetUrl: string;
  /** The target through the counting relay, for counting direct pg's round trips too. */
  readonly countedTargetUrl?: string;
  readonly sql: string;
  readonly maxConcurrency: number;
}

export interface LoadgenRun {
  readonly kind: 'run';
  readonly path: 'gateway' | 'direct' | 'direct-counted';
  /** With path `gateway`: where it listens, and dev-issuer tokens minted ahead, used in turn. */
  readonly gatewayUrl?: string;
  readonly tokens?: readonly string[];
  readonly concurrency: number;
  /** Stop after this many requests … */
  readonly requests?: number;
  /** … or after this long (whichever comes first). */
  readonly durationMs?: number;
  /** Report each request's [start, end] (hrtime ns, as decimal strings) for the round-trip count. */
  readonly windows?: boolean;
}

export interface LoadgenResult {
  readonly kind: 'result';
  readonly completed: number;
  /** HTTP status (or `error` for a transport failure) → count. 200 for direct pg successes. */
  readonly statuses: Readonly<Record<string, number>>;
  /** The error codes of non-200 answers (the `error.code` field), → count. */
  readonly errorCodes: Readonly<Record<string, number>>;
  readonly wallMs: number;
  /** Latency of every request, ms, in completion order. */
  readonly latenciesMs: readonly number[];
  readonly windows?: readonly (readonly [string, string])[];
}

let init: LoadgenInit | undefined;
let agent: Agent | undefined;
const pools = new Map<string, pg.Pool>();

process.on('message', (m: LoadgenInit | LoadgenRun | { kind: 'stop' }) => {
  void (async () => {
    if (m.kind === 'init') {
      init = m;
      agent = new Agent({ keepAlive: true, maxSockets: m.maxConcurrency, maxFreeSockets: m.maxConcurrency });
      pools.set('direct', new pg.Pool({ connectionString: m.targetUrl, max: m.maxConcurrency }));
      if (m.countedTargetUrl) pools.set('direct-counted', new pg.Pool({ connectionString: m.countedTargetUrl, max: m.maxConcurrency }));
      process.send!({ kind: 'ready' });
    } else if (m.kind === 'run') {
      process.send!(await run(m));
    } else {
      agent?.destroy();
      await Promise.allSettled([...pools.values()].map((p) => p.end()));
      process.exit(0);
    }
  })().catch((e: unknown) => process.send!({ kind: 'failed', message: e instanceof Error ? e.message : String(e) }));
});

async function run(r: LoadgenRun): Promise<LoadgenResult> {
  const cfg = init!;
  const statuses: Record<string, number> = {};
  const errorCodes: Record<string, number> = {};
  const latenciesMs: number[] = [];
  const windows: [string, string][] = [];
  const limit = r.requests ?? Number.POSITIVE_INFINITY;
  const deadline = r.durationMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + r.durationMs;
  let next = 0;
  const one = r.path === 'gateway' ? (i: number) => viaGateway(cfg, r.gatewayUrl!, r.tokens!, i) : (i: number) => direct(pools.get(r.path)!, cfg.sql, i);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: r.concurrency }, async () => {
      while (next < limit && performance.now() < deadline) {
        const i = next++;
        const t0 = process.hrtime.bigint();
        const outcome = await one(i);
        const t1 = process.hrtime.bigint();
        latenciesMs.push(Number(t1 - t0) / 1e6);
        if (r.windows) windows.push([String(t0), String(t1)]);
        statuses[outcome.status] = (statuses[outcome.status] ?? 0) + 1;
        if (outcome.code) errorCodes[outcome.code] = (errorCodes[outcome.code] ?? 0) + 1;
      }
    }),
  );
  const wallMs = performance.now() - started;
  return { kind: 'result', completed: latenciesMs.length, statuses, errorCodes, wallMs, latenciesMs, ...(r.windows ? { windows } : {}) };
}

interface Outcome {
  readonly status: string;
  readonly code?: string;
}

function viaGateway(cfg: LoadgenInit, gatewayUrl: string, tokens: readonly string[], i: number): Promise<Outcome> {
  const body = JSON.stringify({ connection: cfg.connection, sql: cfg.sql, params: [(i % 1000) + 1] });
  const token = tokens[i % tokens.length]!;
  return new Promise((resolve) => {
    const req = request(
      `${gatewayUrl}/v1/query`,
      {
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const status = String(res.statusCode);
          if (res.statusCode === 200) {
            // Executed means executed: the statement's one row came back (ids 1–1000 all exist).
            try {
              const b = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { status?: string; rowCount?: number; rows?: unknown[] };
              if (b.status === 'executed' && b.rowCount === 1 && b.rows?.length === 1) return resolve({ status });
            } catch {
              // fall through
            }
            return resolve({ status: '200 without the row', code: 'unexpected_answer' });
          }
          let code = 'unreadable';
          try {
            code = String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: { code?: string } }).error?.code ?? 'none');
          } catch {
            // not JSON: keep 'unreadable'
          }
          resolve({ status, code });
        });
        res.on('error', () => resolve({ status: 'error', code: 'response_error' }));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ status: 'error', code: e.code ?? 'request_error' }));
    req.end(body);
  });
}

async function direct(pool: pg.Pool, sql: string, i: number): Promise<Outcome> {
  try {
    // The same protocol the gateway uses (extended, with a parameter): only the gateway differs.
    const r = await pool.query({ text: sql, values: [(i % 1000) + 1] });
    return r.rows.length === 1 ? { status: '200' } : { status: 'no row', code: 'unexpected_answer' };
  } catch (e) {
    return { status: 'error', code: (e as { code?: string }).code ?? 'pg_error' };
  }
}

process.send!({ kind: 'loaded' });
