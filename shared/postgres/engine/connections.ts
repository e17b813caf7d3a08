// The engine's connection pools: one per named connection, opened on first use with the URL the
// SecretSource resolves (the URL lives only here and in the connections' config; no error built
// here includes it). A lease ends with one write that carries its last statement (COMMIT or
// ROLLBACK) and the session reset (DISCARD ALL, then whether dblink is installed): the caller
// waits for the first answer only. The reset finishes off the answer's path, and the connection
// goes back to the pool only once it has — or is destroyed when it failed.
import { connectionUrl } from '../credentials.ts';
import { GatehouseError } from '../../errors.ts';
import type { SecretSource } from '../../ports.ts';
import { connectError, isAuthFailure } from '../postgres-errors.ts';
import { DBLINK_CLEAN_UP, DBLINK_INSTALLED, RESET_SESSION } from '../statements.ts';
import { createSlots, type Slots } from '../slots.ts';
import { createTypeNames, type TypeNames } from '../type-names.ts';
import { connectionConfig, type ConnectionConfig } from '../wire/connect.ts';
import { WireConnection, type QueryResult } from '../wire/connection.ts';

export interface EnginePoolsOptions {
  readonly connections: Readonly<Record<string, { readonly credentials: string }>>;
  readonly secrets: SecretSource;
  readonly poolSize: number;
  readonly maxQueue?: number;
  readonly queueTimeoutMs?: number;
}

export interface EngineLease {
  readonly conn: WireConnection;
  readonly typeNames: TypeNames;
  /** Set when the connection's state is unknown: it is then destroyed, never reused. */
  broken: boolean;
  /** Asks the server to cancel what this connection runs; the connection is destroyed on release. */
  cancel(): void;
  /**
   * Sends `last` (COMMIT or ROLLBACK) and the session reset in one write; resolves their answers
   * for `last` only. Called at most once; release() calls it with ROLLBACK when nobody did.
   */
  finish(last: readonly string[]): Promise<QueryResult>[];
  /** Gives the connection back once the reset is done (never waits for it). */
  release(): void;
}

export interface EnginePools {
  lease(connection: string): Promise<EngineLease>;
  close(): Promise<void>;
}

const APPLICATION_NAME = 'gatehouse';
const CONNECT_TIMEOUT_MS = 10_000;
const CLOSE_WAIT_MS = 5_000;
const RESET_TIMEOUT_MS = 10_000;

interface Target {
  readonly config: ConnectionConfig;
  readonly typeNames: TypeNames;
  readonly slots: Slots;
  readonly idle: WireConnection[];
}

export function createEnginePools({ connections, secrets, poolSize, maxQueue = Math.max(64, poolSize * 8), queueTimeoutMs = 5_000 }: EnginePoolsOptions): EnginePools {
  const targets = new Map<string, Promise<Target>>();
  const open = new Set<WireConnection>();
  let closed = false;

  function targetOf(connection: string): Promise<Target> {
    const existing = targets.get(connection);
    if (existing) return existing;
    const opening = resolveTarget(connection);
    targets.set(connection, opening);
    // A failed secret lookup is not cached: the next request tries again.
    opening.catch(() => forget(connection, opening));
    return opening;
  }

  async function resolveTarget(connection: string): Promise<Target> {
    const url = await connectionUrl(connections, secrets, connection);
    let config: ConnectionConfig;
    try {
      config = connectionConfig(url);
    } catch (e) {
      throw connectError(connection, e);
    }
    return { config, typeNames: createTypeNames(), slots: createSlots(connection, poolSize, maxQueue, queueTimeoutMs), idle: [] };
  }

  function forget(connection: string, target: Promise<Target>): void {
    if (targets.get(connection) === target) targets.delete(connection);
  }

  async function checkout(connection: string, opening: Promise<Target>, target: Target): Promise<WireConnection> {
    for (;;) {
      const idle = target.idle.pop();
      if (idle === undefined) break;
      if (!idle.dead) return idle; // a server that went away while it was idle: the next one
      open.delete(idle);
    }
    try {
      const conn = await WireConnection.open(target.config, { applicationName: APPLICATION_NAME, connectTimeoutMs: CONNECT_TIMEOUT_MS });
      open.add(conn);
      return conn;
    } catch (e) {
      if (isAuthFailure(e)) forget(connection, opening); // the secret was probably rotated
      throw connectError(connection, e);
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
      let conn: WireConnection;
      try {
        conn = await checkout(connection, opening, target);
      } catch (e) {
        freeSlot();
        throw e;
      }
      let cancelling: Promise<void> | undefined;
      let reset: Promise<boolean> | undefined;
      const giveBack = (reuse: boolean) => {
        if (reuse && !closed && !conn.dead && !conn.tainted) target.idle.push(conn);
        else {
          conn.destroy();
          open.delete(conn);
        }
        freeSlot();
      };
      const lease: EngineLease = {
        conn,
        typeNames: target.typeNames,
        broken: false,
        cancel() {
          cancelling ??= conn.cancel();
        },
        finish(last) {
          if (reset) throw new Error('finish called twice');
          const answers = conn.simple([...last, RESET_SESSION, DBLINK_INSTALLED]);
          const [installed] = answers.slice(last.length + 1);
          const work = Promise.all(answers.slice(last.length)).then(async () => {
            // DISCARD ALL keeps dblink's connections open: close them, or recycle the backend.
            if ((await installed!).rows.length > 0) await conn.query(DBLINK_CLEAN_UP);
            return true;
          });
          // A reset that does not finish holds a pool slot: past the bound the connection is destroyed.
          let timer: NodeJS.Timeout | undefined;
          const late = new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(false), RESET_TIMEOUT_MS);
            timer.unref?.();
          });
          reset = Promise.race([work.catch(() => false), late]).finally(() => clearTimeout(timer));
          return answers.slice(0, last.length);
        },
        release() {
          if (cancelling) {
            // Destroyed only once the cancel is through: while our connection is open the pid is
            // still ours, so the cancel cannot reach another session. Nobody waits for it.
            void cancelling.then(() => giveBack(false));
            return;
          }
          if (lease.broken || conn.dead) return giveBack(false);
          if (!reset) lease.finish(['ROLLBACK']);
          void reset!.then((clean) => giveBack(clean && !lease.broken));
        },
      };
      return lease;
    },

    async close() {
      closed = true;
      const opened = await Promise.allSettled(targets.values());
      targets.clear();
      for (const t of opened) {
        if (t.status !== 'fulfilled') continue;
        for (const conn of t.value.idle.splice(0)) {
          conn.destroy();
          open.delete(conn);
        }
      }
      // Leased connections finish their statement and are destroyed as they come back (as
      // pg.Pool.end() waits for its clients); past a bound they are cut.
      for (let waited = 0; open.size > 0 && waited < CLOSE_WAIT_MS; waited += 10) await new Promise((r) => setTimeout(r, 10));
      for (const conn of open) conn.destroy();
      open.clear();
    },
  };
}
