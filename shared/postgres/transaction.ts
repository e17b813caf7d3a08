// One statement, one transaction: BEGIN [READ ONLY] → statement_timeout → the statement →
// type names → COMMIT. Any error rolls back, so an error always means nothing was committed.
import type { FieldDef } from 'pg';
import { GatehouseError } from '../errors.ts';
import type { ResultField } from '../ports.ts';
import { commandOfSuspended } from './command-tag.ts';
import type { Lease } from './pools.ts';
import { DEFAULT_MAX_CELL_BYTES, DEFAULT_MAX_RESULT_BYTES, readRows, type RowsRead } from './read-rows.ts';
import type { CheckedRequest } from './request.ts';
import pg from 'pg';
import { BEGIN, BEGIN_READ_ONLY, COMMIT, CURRENT_TXID, ROLLBACK, SET_STATEMENT_TIMEOUT } from './statements.ts';
import { toJsonSafe } from './values.ts';

export interface Executed {
  readonly command: string;
  readonly rowCount: number;
  readonly truncated: boolean;
  readonly truncatedBy?: 'rows' | 'bytes';
  readonly cellsOmitted: number;
  readonly txid: string | null;
  readonly fields: readonly ResultField[];
  readonly rows: readonly (readonly unknown[])[];
}

/**
 * `bounded` puts the deadline on everything up to COMMIT, and not on COMMIT itself: a deadline
 * firing while COMMIT is on the wire would report as failed a write that may have committed.
 */
export async function runInTransaction(
  lease: Lease,
  request: CheckedRequest,
  bounded: <T>(work: Promise<T>) => Promise<T>,
  beforeCommit?: (executed: Executed) => Promise<void>,
): Promise<Executed> {
  const { client } = lease;
  try {
    const { read, names, txid } = await bounded(statementPhase(lease, request));
    const executed = shape(read, names, request.sql, txid);
    // Outside the deadline: it is the gateway's own record, not the bot's statement.
    if (beforeCommit) await beforeCommit(executed);
    await commit(lease);
    return executed;
  } catch (e) {
    // A broken connection is destroyed, which rolls back on the server.
    if (!lease.broken) {
      await client.query(ROLLBACK).catch(() => {
        lease.broken = true;
      });
    }
    throw e;
  }
}

/**
 * COMMIT, saying what is known when it fails: `details.commit` is `rolled_back` when the server
 * answered (an error, or the ROLLBACK tag of an aborted transaction), `unknown` when the answer
 * never came (the connection broke: it may have committed; reconciliation asks txid_status).
 */
async function commit(lease: Lease): Promise<void> {
  let end: pg.QueryResult;
  try {
    end = await lease.client.query(COMMIT);
  } catch (e) {
    if (e instanceof pg.DatabaseError) {
      throw new GatehouseError('execution_failed', e.message, { ...(e.code ? { sqlstate: e.code } : {}), commit: 'rolled_back' });
    }
    lease.broken = true;
    throw new GatehouseError('database_unavailable', 'the connection failed during COMMIT: whether it committed is unknown', { commit: 'unknown' });
  }
  // PostgreSQL answers COMMIT of an aborted transaction with ROLLBACK, not an error.
  if (end.command === 'ROLLBACK') throw new GatehouseError('execution_failed', 'the transaction was rolled back', { commit: 'rolled_back' });
}

async function statementPhase(lease: Lease, request: CheckedRequest): Promise<{ read: RowsRead; names: ReadonlyMap<number, string>; txid: string | null }> {
  const { client } = lease;
  await client.query(request.readOnly ? BEGIN_READ_ONLY : BEGIN);
  await client.query(SET_STATEMENT_TIMEOUT, [String(request.statementTimeoutMs)]);
  // A write's transaction id goes into execution.result: if this process dies before it can say
  // whether COMMIT succeeded, reconciliation asks the target (txid_status). Taken before the
  // statement, so it always exists (even for a write that changes nothing) and the bot's
  // statement cannot interfere (PGlite fires an expired statement_timeout on the next query).
  const txid = request.readOnly ? null : ((await client.query<{ txid: string | null }>(CURRENT_TXID)).rows[0]?.txid ?? null);
  const read = await readRows(client, request.sql, request.params, request.maxRows, {
    maxResultBytes: request.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES,
    maxCellBytes: request.maxCellBytes ?? DEFAULT_MAX_CELL_BYTES,
  });
  // Inside the transaction, before COMMIT: a failed lookup after COMMIT would report a committed
  // write as failed. TYPE_NAMES is schema-qualified against a search_path the statement changed.
  const names = await lease.typeNames.resolve(client, read.fields.map((f) => f.dataTypeID));
  return { read, names, txid };
}

function shape(read: RowsRead, names: ReadonlyMap<number, string>, sql: string, txid: string | null): Executed {
  return {
    command: read.command ?? (read.truncated ? commandOfSuspended(sql) : ''),
    rowCount: read.truncated ? read.rows.length : (read.rowCount ?? read.rows.length),
    truncated: read.truncated,
    ...(read.truncatedBy ? { truncatedBy: read.truncatedBy } : {}),
    cellsOmitted: read.cellsOmitted,
    txid,
    fields: read.fields.map((f: FieldDef) => ({
      name: f.name,
      dataTypeID: f.dataTypeID,
      tableID: f.tableID,
      columnID: f.columnID,
      type: names.get(f.dataTypeID) ?? 'unknown',
    })),
    rows: read.rows.map((row) => row.map(toJsonSafe)),
  };
}
