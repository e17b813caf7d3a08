// The catalog reader's pools (not the statement path's: engine/connections.ts): one pg.Pool per
// named connection, opened on first use with the URL the SecretSource resolves.
// The URL lives only here and in the pool; no error built in this module ever includes it.
import { connectionUrl } from './credentials.ts';
import pg from 'pg';
import type { PoolClient } from 'pg';
import { GatehouseError } from '../errors.ts';
import type { SecretSource } from '../ports.ts';
import { connectError, isAuthFailure } from './postgres-errors.ts';
import { BACKEND_PID, CANCEL_BACKEND, RESET_SESSION } from './statements.ts';
import { closeExtensionConnections } from './session-cleanup.ts';
import { createSlots, type Slots } from './slots.ts';

export interface PoolsOptions {
  readonly connections: Readonly<Record<string, { readonly credentials: string }>>;
  readonly secrets: SecretSource;
  readonly poolSize: number;
  readonly maxQueue?: number;
  readonly queueTimeoutMs?: number;
}

interface Target {
  readonly url: string;
  readonly pool: pg.Pool;
  readonly slots: Slots;
}

/** A client taken from a pool for one statement. */
export interface Lease {
  readonly client: PoolClient;
  /** Set when the connection's state is unknown: it is then destroyed, never reused. */
  broken: boolean;
  /** Asks the server to cancel whatever this connection is running. Best effort, never throws. */
  cancel(): void;
  /** Resets the session and gives the client back, or destroys it when broken. */
  release(): Promise<void>;
}

export interface Pools {
  lease(connection: string): Promise<Lease>;
  close(): Promise<void>;
}

const APPLICATION_NAME = 'gatehouse';
// Waiting for a free client or a new connection is bounded: a saturated pool or a black-holed
// host answers database_unavailable instead of holding the request open.
const CONNECT_TIMEOUT_MS = 10_000;
const CANCEL_CONNECT_TIMEOUT_MS = 2_000;

export function createPools({ connections, secrets, poolSize, maxQueue = Math.max(64, poolSize * 8), queueTimeoutMs = 5_000 }: PoolsOptions): Pools {
  const targets = new Map<string, Promise<Target>>();
  // pg_backend_pid() once per physical connection; pool clients are reused objects.
  const pids = new WeakMap<PoolClient, number>();
  let closed = false;

  function targetOf(connection: string): Promise<Target> {
    const existing = targets.get(connection);
    if (existing) return existing;
    const opening = open(connection);
    targets.set(connection, opening);
    // A failed secret lookup is not cached: the next request tries again.
    opening.catch(() => forget(connection, opening));
    return opening;
  }

  async function open(connection: string): Promise<Target> {
    const url = await connectionUrl(connections, secrets, connection);
    let pool: pg.Pool;
    try {
      pool = new pg.Pool({
        connectionString: url,
        max: poolSize,
        connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
        application_name: APPLICATION_NAME,
        keepAlive: true,
      });
    } catch (e) {
      throw connectError(connection, e);
    }
    // An idle client whose server went away: the pool already discards it, and without a
    // listener the 'error' event would crash the process.
    pool.on('error', () => {});
    return { url, pool, slots: createSlots(connection, poolSize, maxQueue, queueTimeoutMs) };
  }

  function forget(connection: string, target: Promise<Target>): void {
    if (targets.get(connection) === target) targets.delete(connection);
  }

  async function checkout(connection: string, opening: Promise<Target>): Promise<{ client: PoolClient; pid: number }> {
    const target = await opening;
    let client: PoolClient;
    try {
      client = await target.pool.connect();
    } catch (e) {
      if (isAuthFailure(e)) {
        // The secret was probably rotated: the next request resolves it again and opens a new pool.
        forget(connection, opening);
        target.pool.end().catch(() => {});
      }
      throw connectError(connection, e);
    }
    let pid = pids.get(client);
    if (pid === undefined) {
      try {
        const { rows } = await client.query<{ pid: number }>(BACKEND_PID);
        pid = Number(rows[0]?.pid);
        pids.set(client, pid);
      } catch (e) {
        client.release(true);
        throw connectError(connection, e);
      }
    }
    return { client, pid };
  }

  async function cancelBackend(url: string, pid: number): Promise<void> {
    if (!Number.isInteger(pid) || pid <= 0) return;
    // A connection of its own, not one from the pool: when every pooled client is busy with a
    // runaway statement, the cancel must still get through.
    const canceller = new pg.Client({ connectionString: url, connectionTimeoutMillis: CANCEL_CONNECT_TIMEOUT_MS, application_name: APPLICATION_NAME });
    canceller.on('error', () => {});
    try {
      await canceller.connect();
      await canceller.query(CANCEL_BACKEND, [pid]);
    } catch {
      // Best effort: the connection is destroyed next, whatever happened here.
    } finally {
      await canceller.end().catch(() => {});
    }
  }

  return {
    async lease(connection) {
      if (closed) throw new GatehouseError('database_unavailable', 'the target database is closed', { connection });
      if (!Object.hasOwn(connections, connection)) {
        throw new GatehouseError('unknown_connection', `no connection named "${connection}"`, { connection });
      }
      const opening = targetOf(connection);
      const target = await opening;
      const freeSlot = await target.slots.acquire();
      let checkedOut: { client: PoolClient; pid: number };
      try {
        checkedOut = await checkout(connection, opening);
      } catch (e) {
        freeSlot();
        throw e;
      }
      const { client, pid } = checkedOut;
      // A server that drops the connection between our queries emits 'error' on the client;
      // unheard, it would crash the process.
      const onError = () => {
        lease.broken = true;
      };
      client.on('error', onError);
      let cancelling: Promise<void> | undefined;
      const lease: Lease = {
        client,
        broken: false,
        cancel() {
          cancelling ??= cancelBackend(target.url, pid);
        },
        async release() {
          if (cancelling) {
            // Destroyed only once the cancel is through: while our connection is open the pid is
            // still ours, so the cancel cannot reach another session. Nobody waits for it.
            void cancelling.then(() => giveBack(true));
            return;
          }
          if (!lease.broken) await client.query(RESET_SESSION).catch(() => (lease.broken = true));
          // DISCARD ALL keeps dblink's connections open: close them, or recycle the backend.
          if (!lease.broken && !(await closeExtensionConnections(client))) lease.broken = true;
          giveBack(lease.broken);
        },
      };
      const giveBack = (destroy: boolean) => {
        client.off('error', onError);
        client.release(destroy);
        freeSlot();
      };
      return lease;
    },

    async close() {
      closed = true;
      const opened = await Promise.allSettled(targets.values());
      targets.clear();
      await Promise.allSettled(opened.map((t) => (t.status === 'fulfilled' ? t.value.pool.end() : undefined)));
    },
  };
}
