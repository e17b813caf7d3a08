// The load generator, in a process of its own so its memory and CPU are not the gateway's: a fixed
// number of workers send requests from a weighted mix until the duration or the request cap is
// reached, then print one JSON line of what came back. Loopback only: it refuses any other host.
export interface LoadConfig {
  readonly url: string;
  readonly durationSec: number;
  readonly concurrency: number;
  /** Hard cap on requests, whatever the duration. */
  readonly maxRequests: number;
  readonly tokens: { readonly dba: string; readonly bot: string };
  /** Weights per request kind. */
  readonly mix: Partial<Record<Kind, number>>;
  /** Per-request client timeout, ms. */
  readonly timeoutMs?: number;
}

export type Kind = 'read' | 'write' | 'heavy' | 'analyze' | 'garbage' | 'denied';

export interface LoadResult {
  readonly requests: number;
  readonly byStatus: Record<string, number>;
  readonly byCode: Record<string, number>;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly sessionIds: string[];
  readonly noAnswer: number;
}

function request(kind: Kind, i: number, c: LoadConfig): { path: string; token?: string; body: string } {
  switch (kind) {
    case 'read':
      return { path: '/v1/query', token: c.tokens.bot, body: JSON.stringify({ connection: 'main', sql: 'SELECT id, body FROM notes WHERE id % 7 = $1 LIMIT 20', params: [i % 7] }) };
    case 'write':
      return { path: '/v1/query', token: c.tokens.dba, body: JSON.stringify({ connection: 'main', sql: 'INSERT INTO notes (body) VALUES ($1)', params: [`load ${i}`] }) };
    case 'heavy':
      return { path: '/v1/query', token: c.tokens.dba, body: JSON.stringify({ connection: 'main', sql: 'SELECT id, body, substr(body, 1, 900000) AS head FROM big' }) };
    case 'analyze':
      return { path: '/v1/analyze', token: c.tokens.bot, body: JSON.stringify({ connection: 'main', sql: 'DELETE FROM notes' }) };
    case 'denied':
      return { path: '/v1/query', token: c.tokens.bot, body: JSON.stringify({ connection: 'main', sql: 'DROP TABLE notes' }) };
    case 'garbage': {
      const bodies = ['{', '[]', '{"sql": 1}', '\u0000', '{"connection":"main","sql":"SELECT 1","params":{}}', 'null', '"x"'.repeat(1000)];
      return { path: '/v1/query', token: i % 2 ? c.tokens.bot : undefined, body: bodies[i % bodies.length]! };
    }
  }
}

export async function runLoad(c: LoadConfig): Promise<LoadResult> {
  const host = new URL(c.url).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') throw new Error(`load: ${host} is not a loopback address`);
  const kinds = Object.entries(c.mix).filter(([, w]) => (w ?? 0) > 0) as [Kind, number][];
  const total = kinds.reduce((n, [, w]) => n + w, 0);
  const pick = (i: number): Kind => {
    let r = ((i * 2654435761) % 1000) / 1000 * total; // deterministic spread over the weights
    for (const [k, w] of kinds) if ((r -= w) < 0) return k;
    return kinds[0]![0];
  };
  const byStatus: Record<string, number> = {};
  const byCode: Record<string, number> = {};
  const latencies: number[] = [];
  const sessionIds: string[] = [];
  let sent = 0;
  let noAnswer = 0;
  const deadline = Date.now() + c.durationSec * 1000;
  const worker = async () => {
    while (Date.now() < deadline && sent < c.maxRequests) {
      const i = sent++;
      const r = request(pick(i), i, c);
      const started = performance.now();
      try {
        const res = await fetch(`${c.url}${r.path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-agent-model': 'test-model', ...(r.token ? { authorization: `Bearer ${r.token}` } : {}) },
          body: r.body,
          signal: AbortSignal.timeout(c.timeoutMs ?? 30_000),
        });
        const body = (await res.json().catch(() => ({}))) as { sessionId?: string; error?: { code?: string } };
        latencies.push(performance.now() - started);
        byStatus[res.status] = (byStatus[res.status] ?? 0) + 1;
        if (body.error?.code) byCode[body.error.code] = (byCode[body.error.code] ?? 0) + 1;
        if (body.sessionId) sessionIds.push(body.sessionId);
      } catch {
        noAnswer++;
        await new Promise((r) => setTimeout(r, 250)); // the gateway is gone: do not spin
      }
    }
  };
  await Promise.all(Array.from({ length: c.concurrency }, worker));
  latencies.sort((a, b) => a - b);
  const q = (p: number) => (latencies.length ? Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!) : 0);
  return { requests: sent, byStatus, byCode, p50Ms: q(0.5), p99Ms: q(0.99), sessionIds, noAnswer };
}

// As a child process: the config as the one argument, the result as the one line of output.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const result = await runLoad(JSON.parse(process.argv[2] ?? '{}') as LoadConfig);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
