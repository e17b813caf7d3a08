// Runs the doctor on named connections with their real credentials: the URL comes from the
// SecretSource exactly as the gateway's pools get it (shared/postgres/pools.ts), lives only in this
// function, and no message built here includes it or the server's error text.
import { isGatehouseError } from '../errors.ts';
import type { SecretSource } from '../ports.ts';
import { connectionReport, unreachableReport } from './checks.ts';
import { probe } from './probe.ts';
import { doctorClient, type DoctorClient } from '../postgres/doctor-client.ts';
import type { ConnectionReport, DoctorReport } from './types.ts';

export interface DoctorOptions {
  readonly connections: Readonly<Record<string, { readonly credentials: string }>>;
  readonly secrets: SecretSource;
  /** Only these connections (default: all, in policy order). Unknown names are reported, not skipped. */
  readonly only?: readonly string[];
  /** Per connection, from resolving the secret to the last query. Default 10 s. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const names = options.only ?? Object.keys(options.connections);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const connections = await Promise.all(names.map((name) => checkConnection(name, options, timeoutMs)));
  return { ok: connections.length > 0 && connections.every((c) => c.ok), connections };
}

async function checkConnection(name: string, options: DoctorOptions, timeoutMs: number): Promise<ConnectionReport> {
  if (!Object.hasOwn(options.connections, name)) return unreachableReport(name, 'unknown_connection', `the policy has no connection named "${name}"`);
  let client: DoctorClient | undefined;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<ConnectionReport>((resolve) => {
    timer = setTimeout(() => resolve(unreachableReport(name, 'timeout', `no answer within ${timeoutMs} ms`)), timeoutMs);
    timer.unref?.();
  });
  const work = (async (): Promise<ConnectionReport> => {
    let url: string;
    try {
      url = await options.secrets.resolve(options.connections[name]!.credentials);
    } catch (e) {
      return unreachableReport(name, isGatehouseError(e) ? e.code : 'secret_unavailable', `credentials for "${name}" could not be read`);
    }
    try {
      client = doctorClient(url, timeoutMs);
    } catch {
      return unreachableReport(name, 'database_unavailable', `the credentials for "${name}" are not a usable connection string`);
    }
    try {
      await client.connect();
    } catch (e) {
      return unreachableReport(name, 'database_unavailable', `could not connect to "${name}"${reasonOf(e)}`);
    }
    return connectionReport(name, await probe(client));
  })();
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    // After a timeout `work` may still be connecting: end the client whenever it exists.
    void work.catch(() => undefined).finally(() => client?.end().catch(() => {}));
  }
}

/** A SQLSTATE or a Node error code, never the message (a connect error can carry the host or URL). */
function reasonOf(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return ` (SQLSTATE ${code}${code.startsWith('28') ? ': authentication failed' : ''})`;
  if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return ` (${code})`;
  return '';
}
