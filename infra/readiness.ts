// GET /healthz and GET /readyz for the local server. /healthz says only that the process answers
// (and which version it is); /readyz checks every dependency a query needs — the policy is loaded,
// the session log can be written, each connection of the policy answers — and names the one that
// is down. The answers carry a status and a stable code per dependency, never an error message:
// a driver's message can name hosts, users or (in a badly written URL) a password.
import pg from 'pg';
import { isGatehouseError } from '../shared/errors.ts';
import type { Policy } from '../shared/policy/types.ts';
import type { TargetDatabase } from '../shared/ports.ts';
import { VERSION } from '../shared/version.ts';
import { json, type HttpHandler, type HttpResponse } from '../functions/http.ts';

export interface Check {
  readonly name: string;
  /** Resolves when the dependency is usable; rejects (with anything) when it is not. */
  run(): Promise<void>;
}

export interface CheckResult {
  readonly status: 'up' | 'down';
  readonly latencyMs: number;
  /** Why it is down: a stable code, not a message. */
  readonly code?: string;
}

/** Each check gets this long; a dependency that hangs is down, not a hung probe. */
export const CHECK_TIMEOUT_MS = 3000;

export function healthHandler(): HttpHandler {
  return async (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: { code: 'method_not_allowed', message: `use GET for ${req.path}` } });
    return json(200, { status: 'ok', version: VERSION });
  };
}

export function readyHandler(checks: () => readonly Check[], isStopping: () => boolean = () => false): HttpHandler {
  return async (req) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: { code: 'method_not_allowed', message: `use GET for ${req.path}` } });
    return readiness(checks(), isStopping());
  };
}

export async function readiness(checks: readonly Check[], stopping = false): Promise<HttpResponse> {
  const results = await Promise.all(checks.map(async (c) => [c.name, await runCheck(c)] as const));
  const byName = Object.fromEntries(results);
  const down = results.filter(([, r]) => r.status === 'down').map(([n]) => n);
  if (stopping) down.unshift('server');
  const ready = down.length === 0;
  return json(ready ? 200 : 503, {
    status: ready ? 'ready' : 'not_ready',
    version: VERSION,
    ...(ready ? {} : { down }),
    checks: stopping ? { server: { status: 'down', latencyMs: 0, code: 'shutting_down' }, ...byName } : byName,
  });
}

async function runCheck(check: Check): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check.run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { checkTimeout: true })), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { status: 'up', latencyMs: Math.round(performance.now() - started) };
  } catch (e) {
    return { status: 'down', latencyMs: Math.round(performance.now() - started), code: codeOf(e) };
  } finally {
    clearTimeout(timer);
  }
}

function codeOf(e: unknown): string {
  if ((e as { checkTimeout?: boolean })?.checkTimeout) return 'timeout';
  if (isGatehouseError(e)) return e.code;
  const code = (e as { code?: unknown })?.code;
  // Node's socket errors (ECONNREFUSED …) and PostgreSQL's SQLSTATEs are codes, not messages.
  if (typeof code === 'string' && /^[A-Z0-9_]{2,30}$/.test(code)) return code === 'NOT_WRITABLE' ? 'not_writable' : code;
  return 'unavailable';
}

/** The policy in force: loaded and parsed (a server without one never starts; this names it). */
export function policyCheck(policy: Policy): Check {
  return {
    name: 'policy',
    async run() {
      if (!policy.sha256 || Object.keys(policy.connections).length === 0) throw Object.assign(new Error('no policy'), { code: 'NO_POLICY' });
    },
  };
}

/**
 * A PostgreSQL session log is writable when a fresh connection sees a primary (not a standby), a
 * read-write session and INSERT on both log tables. Nothing is written: a probe must not add
 * events to an append-only log.
 */
export function postgresSessionLogCheck(connectionString: string, name = 'sessionLog'): Check {
  return {
    name,
    async run() {
      const client = new pg.Client({ connectionString, connectionTimeoutMillis: CHECK_TIMEOUT_MS, query_timeout: CHECK_TIMEOUT_MS });
      client.on('error', () => {}); // a connection dropped mid-probe is reported by the query below
      try {
        await client.connect();
        const r = await client.query<{ writable: boolean }>(
          `SELECT NOT pg_is_in_recovery()
              AND current_setting('transaction_read_only') = 'off'
              AND has_table_privilege('gatehouse_sessions', 'INSERT')
              AND has_table_privilege('gatehouse_session_events', 'INSERT') AS writable`,
        );
        if (r.rows[0]?.writable !== true) throw Object.assign(new Error('not writable'), { code: 'NOT_WRITABLE' });
      } finally {
        await client.end().catch(() => {});
      }
    },
  };
}

/** A PostgreSQL store that only has to answer (the approval state). */
export function postgresReachableCheck(name: string, connectionString: string): Check {
  return {
    name,
    async run() {
      const client = new pg.Client({ connectionString, connectionTimeoutMillis: CHECK_TIMEOUT_MS, query_timeout: CHECK_TIMEOUT_MS });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.query('SELECT 1');
      } finally {
        await client.end().catch(() => {});
      }
    },
  };
}

/**
 * Each connection of the policy, through the gateway's own target (its credentials, its pools):
 * `SELECT 1` read-only, with the connection's own timeout. Never recorded in the session log —
 * it is the gateway's probe, not a caller's statement.
 */
export function connectionChecks(policy: Policy, target: TargetDatabase): Check[] {
  return Object.entries(policy.connections).map(([name, c]) => ({
    name: `connection:${name}`,
    async run() {
      await target.run({ connection: name, sql: 'SELECT 1', params: [], readOnly: true, maxRows: 1, statementTimeoutMs: Math.min(c.statementTimeoutMs, CHECK_TIMEOUT_MS) });
    },
  }));
}
