// One statement, one transaction.
// A write, two writes on the critical path:
//   1. the statement pipeline (engine/pipeline.ts), read back in one pass;
//   2. after `beforeCommit` has recorded the result: COMMIT, with the session reset behind it in
//      the same write (the answer waits for COMMIT only).
// A read (READ ONLY: its COMMIT commits nothing), one: COMMIT is in the pipeline, so the
// transaction has ended before the result is recorded; `beforeCommit` still runs before run()
// resolves (the gateway records the result before anyone sees it), and the reset is sent beside it.
// A type name not yet cached costs one more round trip, once per pool: inside a write's
// transaction, after a read's.
// Any error in a write rolls back (ROLLBACK travels with the reset), so an error means nothing committed.
import type { DatabaseError } from 'pg-protocol';
import { GatehouseError } from '../../errors.ts';
import type { ResultField } from '../../ports.ts';
import { DEFAULT_MAX_CELL_BYTES, DEFAULT_MAX_RESULT_BYTES } from '../budget.ts';
import { commandOfSuspended } from '../command-tag.ts';
import type { CheckedRequest } from '../request.ts';
import { COMMIT, ROLLBACK, TYPE_NAMES } from '../statements.ts';
import { toJsonSafe } from '../values.ts';
import type { QueryResult } from '../wire/connection.ts';
import type { EngineLease } from './connections.ts';
import { preludeLength, statementPipeline, trailerLength } from './pipeline.ts';
import { StatementExchange, type StatementReply } from './statement-reply.ts';
import pg from 'pg';

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
export async function runPipelined(
  lease: EngineLease,
  request: CheckedRequest,
  bounded: <T>(work: Promise<T>) => Promise<T>,
  beforeCommit?: (executed: Executed) => Promise<void>,
): Promise<Executed> {
  const { conn } = lease;
  const exchange = new StatementExchange(preludeLength(request.readOnly), request.maxRows, {
    maxResultBytes: request.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES,
    maxCellBytes: request.maxCellBytes ?? DEFAULT_MAX_CELL_BYTES,
    ...(request.maskedColumns ? { maskedColumns: request.maskedColumns } : {}),
  });
  conn.send(statementPipeline(request), [exchange]);
  const reply = await bounded(exchange.reply);
  if (request.readOnly) return finishRead(lease, request, reply, bounded, beforeCommit);
  // The server skipped everything after its first error; the transaction is aborted ('E'), or
  // was never opened ('I', BEGIN itself failed): ROLLBACK goes with the reset on release.
  if (reply.error) throw reply.error;
  if (reply.state !== 'T' || TRANSACTION_CONTROL.test(reply.tag?.command ?? '')) {
    // The statement ended our transaction itself (the analysis refuses transaction control, so
    // this is a statement it misread): whatever it did may be committed. Never reused. A
    // transaction still open is no proof it is ours: `COMMIT AND CHAIN` / `ROLLBACK AND CHAIN`
    // end the transaction whose txid the result would name and open another ('T'); our COMMIT
    // would then commit that one and the log say committed of a transaction the statement ended
    // (test/outcomes/fault-attacks.e2e.test.ts). Their tags, as a read's, are transaction control.
    lease.broken = true;
    throw new GatehouseError('execution_failed', 'the statement ended the transaction', { commit: 'unknown' });
  }
  // Inside the transaction, before COMMIT: a failed lookup after COMMIT would report a committed
  // write as failed. TYPE_NAMES is schema-qualified against a search_path the statement changed.
  const names = await bounded(resolveTypeNames(lease, reply));
  const executed = shape(reply, names, request.sql);
  if (beforeCommit) {
    try {
      // Outside the deadline: it is the gateway's own record, not the bot's statement.
      await beforeCommit(executed);
    } catch (e) {
      // Waited for, as before: the caller reports a rollback, so it has happened when it does.
      const [rolledBack] = lease.finish([ROLLBACK]);
      await rolledBack!.catch(() => (lease.broken = true));
      throw e;
    }
  }
  const [committed] = lease.finish([COMMIT]);
  await commitAnswer(lease, committed!);
  return executed;
}

/**
 * A read's pipeline ended with our probe and COMMIT. Only this reply proves that OUR COMMIT ended
 * the transaction BEGIN READ ONLY opened, with the bot's statement inside it:
 *   - no error at all (an error in the statement made the server skip the probe and COMMIT: the
 *     transaction is aborted, 'E', and rolled back with the reset on release);
 *   - the statement answered (CommandComplete, PortalSuspended or EmptyQuery), and its own tag is
 *     not transaction control (`COMMIT AND CHAIN` would open a new transaction the probe accepts);
 *   - then exactly our two tags, SAVEPOINT and COMMIT (a transaction the statement had ended makes
 *     the probe fail, 25P01, and COMMIT is skipped);
 *   - and the connection is idle ('I') at Sync.
 * Anything else: the statement did something we did not ask for: refused, connection destroyed.
 */
async function finishRead(
  lease: EngineLease,
  request: CheckedRequest,
  reply: StatementReply,
  bounded: <T>(work: Promise<T>) => Promise<T>,
  beforeCommit?: (executed: Executed) => Promise<void>,
): Promise<Executed> {
  const endedByStatement = () => {
    lease.broken = true;
    return new GatehouseError('execution_failed', 'the statement ended the transaction', { commit: 'unknown' });
  };
  if (reply.error) {
    // The probe (the step right after the statement) refused: the statement had ended the
    // transaction. An error of the statement, or of COMMIT itself (a serialization failure under
    // SERIALIZABLE), is the server's answer: the connection is rolled back and reused.
    if (reply.errorStep === preludeLength(true) + 1) throw endedByStatement();
    throw reply.error;
  }
  const ours = reply.trailer;
  if (
    !reply.statementAnswered ||
    TRANSACTION_CONTROL.test(reply.tag?.command ?? '') ||
    ours.length !== trailerLength(true) ||
    ours[0] !== 'SAVEPOINT' ||
    ours[1] !== 'COMMIT' ||
    reply.state !== 'I'
  ) {
    throw endedByStatement();
  }
  // The transaction is over, so nothing here can change what committed (nothing: it was READ
  // ONLY). TYPE_NAMES is schema-qualified: the statement may have changed the session's search_path.
  const names = await bounded(resolveTypeNames(lease, reply));
  // The reset goes out now, beside the recording; the connection is reused only once it is done.
  lease.finish([]);
  const executed = shape(reply, names, request.sql);
  // The gateway records the result here; if it cannot, run() rejects and no row is answered.
  if (beforeCommit) await beforeCommit(executed);
  return executed;
}

/** Command tags of statements that end or open a transaction; none is ever a read's. */
const TRANSACTION_CONTROL = /^(BEGIN|START TRANSACTION|COMMIT|ROLLBACK|PREPARE TRANSACTION|COMMIT PREPARED|ROLLBACK PREPARED|SAVEPOINT|RELEASE)$/;

function resolveTypeNames(lease: EngineLease, reply: StatementReply): Promise<ReadonlyMap<number, string>> {
  return lease.typeNames.resolve(async (missing) => {
    const r = await lease.conn.query(TYPE_NAMES, [`{${missing.join(',')}}`]);
    return r.rows.map(([oid, typname]) => ({ oid: Number(oid), typname: typname ?? 'unknown' }));
  }, reply.fields.map((f) => f.dataTypeID));
}

/**
 * COMMIT, saying what is known when it fails: `details.commit` is `rolled_back` when the server
 * answered (an error, or the ROLLBACK tag of an aborted transaction), `unknown` when the answer
 * never came (the connection broke: it may have committed; reconciliation asks txid_status).
 */
async function commitAnswer(lease: EngineLease, answer: Promise<QueryResult>): Promise<void> {
  let end: QueryResult;
  try {
    end = await answer;
  } catch (e) {
    if (e instanceof pg.DatabaseError) {
      const de = e as DatabaseError;
      throw new GatehouseError('execution_failed', de.message, { ...(de.code ? { sqlstate: de.code } : {}), commit: 'rolled_back' });
    }
    lease.broken = true;
    throw new GatehouseError('database_unavailable', 'the connection failed during COMMIT: whether it committed is unknown', { commit: 'unknown' });
  }
  // PostgreSQL answers COMMIT of an aborted transaction with ROLLBACK, not an error.
  if (end.tag?.command === 'ROLLBACK') throw new GatehouseError('execution_failed', 'the transaction was rolled back', { commit: 'rolled_back' });
}

function shape(reply: StatementReply, names: ReadonlyMap<number, string>, sql: string): Executed {
  const truncatedBy = reply.overBudget ? 'bytes' : reply.suspended || reply.overRows ? 'rows' : undefined;
  const truncated = truncatedBy !== undefined;
  return {
    command: reply.tag?.command ?? (truncated ? commandOfSuspended(sql) : ''),
    // A write's tag counts the rows it changed, however many of its RETURNING rows were kept (a
    // write always reaches its tag: pipeline.ts); a cut read counts the rows it answered.
    rowCount: reply.tag ? (rowCountOf(reply) ?? reply.rows.length) : reply.rows.length,
    truncated,
    ...(truncatedBy ? { truncatedBy } : {}),
    cellsOmitted: reply.cellsOmitted,
    txid: reply.txid,
    fields: reply.fields.map((f) => ({
      name: f.name,
      dataTypeID: f.dataTypeID,
      tableID: f.tableID,
      columnID: f.columnID,
      type: names.get(f.dataTypeID) ?? 'unknown',
    })),
    rows: reply.rows.map((row) => row.map(toJsonSafe)),
  };
}

/** DML's tag carries rows affected; a row-returning statement's count is the rows it returned. */
function rowCountOf(reply: StatementReply): number | null {
  if (/^(INSERT|UPDATE|DELETE|MERGE)$/.test(reply.tag?.command ?? '')) return reply.tag!.rowCount;
  return reply.fields.length > 0 ? reply.rows.length : (reply.tag?.rowCount ?? null);
}
