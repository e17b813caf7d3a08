// The TargetDatabase port over the pipelined engine (engine/): check the request, take a
// connection, run the statement in its own transaction under two clocks (statement_timeout and a
// deadline of our own), translate what PostgreSQL says, give the connection back clean (the reset
// runs off the answer's path; the connection is reused only once it is done).
import pg from 'pg';
import { GatehouseError, isGatehouseError } from '../errors.ts';
import type { SecretSource, StatementRequest, StatementResult, TargetDatabase, TransactionStatus } from '../ports.ts';
import { DEADLINE_MARGIN_MS, withDeadline } from './deadline.ts';
import { createEnginePools } from './engine/connections.ts';
import { runPipelined } from './engine/run.ts';
import { statementError } from './postgres-errors.ts';
import { TXID_STATUS } from './statements.ts';
import { checkRequest } from './request.ts';

export interface TargetDatabaseOptions {
  /** Connection name → credentials reference (`env://…`, `embedded://…`, `secret://…`). */
  readonly connections: Readonly<Record<string, { readonly credentials: string }>>;
  readonly secrets: SecretSource;
  /** Clients per connection; default 5. */
  readonly poolSize?: number;
  /** Requests that may wait for a client when all are busy; more answer pool_exhausted at once. Default max(64, 8 × poolSize). */
  readonly maxQueue?: number;
  /** How long a queued request waits for a client before pool_exhausted; default 5 s. */
  readonly queueTimeoutMs?: number;
  /** Milliseconds, for durationMs; default performance.now. */
  readonly clock?: () => number;
}

export function createTargetDatabase(options: TargetDatabaseOptions): TargetDatabase {
  const { connections, secrets, poolSize = 5, clock = () => performance.now(), maxQueue, queueTimeoutMs } = checkOptions(options);
  const pools = createEnginePools({ connections, secrets, poolSize, maxQueue, queueTimeoutMs });

  return {
    async run(request: StatementRequest): Promise<StatementResult> {
      const checked = checkRequest(request);
      const lease = await pools.lease(checked.connection);
      const started = clock();
      try {
        const deadlineMs = checked.statementTimeoutMs + DEADLINE_MARGIN_MS;
        const hook = request.beforeCommit;
        const executed = await runPipelined(
          lease,
          checked,
          (work) =>
            withDeadline(work, deadlineMs, () => {
              lease.broken = true;
              lease.cancel();
            }),
          hook && ((ex) => hook({ ...ex, durationMs: clock() - started })),
        );
        return { ...executed, durationMs: clock() - started };
      } catch (e) {
        // Anything but an error PostgreSQL reported (or one of ours) leaves the session in an unknown state.
        if (!(e instanceof pg.DatabaseError) && !isGatehouseError(e)) lease.broken = true;
        throw statementError(checked.connection, e);
      } finally {
        lease.release();
      }
    },

    async transactionStatus(connection: string, txid: string): Promise<TransactionStatus> {
      if (!/^[1-9][0-9]{0,18}$/.test(txid)) throw new GatehouseError('bad_request', 'txid must be a transaction id');
      const lease = await pools.lease(connection);
      try {
        const { rows } = await lease.conn.query(TXID_STATUS, [txid]);
        const status = rows[0]?.[0] ?? null;
        return status === 'committed' || status === 'aborted' || status === 'in progress' ? status : null;
      } catch (e) {
        // 22023: "transaction ID … is in the future" (another cluster, or a restored one): unknown.
        if (e instanceof pg.DatabaseError && e.code === '22023') return null;
        lease.broken = !(e instanceof pg.DatabaseError);
        throw statementError(connection, e);
      } finally {
        lease.release();
      }
    },

    close: () => pools.close(),
  };
}

function checkOptions(options: TargetDatabaseOptions): TargetDatabaseOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('createTargetDatabase: options are required');
  const { connections, secrets, poolSize, clock } = options;
  if (typeof connections !== 'object' || connections === null) throw new TypeError('createTargetDatabase: connections must be an object');
  for (const [name, c] of Object.entries(connections)) {
    if (typeof c?.credentials !== 'string' || c.credentials === '') {
      throw new TypeError(`createTargetDatabase: connection "${name}" needs a credentials reference`);
    }
  }
  if (typeof secrets?.resolve !== 'function') throw new TypeError('createTargetDatabase: secrets must be a SecretSource');
  if (poolSize !== undefined && !(Number.isInteger(poolSize) && poolSize > 0)) {
    throw new TypeError('createTargetDatabase: poolSize must be a positive integer');
  }
  if (clock !== undefined && typeof clock !== 'function') throw new TypeError('createTargetDatabase: clock must be a function');
  return options;
}
