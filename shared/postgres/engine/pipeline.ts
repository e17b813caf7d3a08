// The statement pipeline: everything up to the bot's result in ONE write, answered by one Sync.
//
//   Parse/Bind/Execute  BEGIN [READ ONLY]
//   Parse/Bind/Execute  set_config('statement_timeout', $1, true)
//   Parse/Bind/Execute  txid_current()                      (writes only)
//   Parse/Bind/Describe/Execute(maxRows + 1; a write: all)  the bot's statement
//   Parse/Bind/Execute  SAVEPOINT, then COMMIT               (reads only)
//   Sync
//
// A read (BEGIN READ ONLY) commits nothing, so its COMMIT need not wait for the result to be
// recorded: it travels in the same write and a read costs one round trip. The SAVEPOINT before it
// is a probe: it is refused outside a transaction block, so if the bot's statement ended our
// transaction itself, the probe fails and our COMMIT never runs (statement-reply.ts and run.ts
// check the rest). A write's COMMIT still waits for its recorded result (run.ts).
//
// All of it is one extended-protocol exchange, so the server's own rule does the fail-closed part:
// after an error it skips every message up to Sync. If BEGIN or the timeout fails, the bot's
// statement never runs; it never runs outside the transaction either. Parse takes exactly one
// statement (`SELECT 1; DELETE …` is refused by the server: "cannot insert multiple commands into
// a prepared statement"), and a read's Execute row limit means at most maxRows + 1 rows cross the wire
// (a write's runs to its tag, the count of rows it changed; the reader keeps at most maxRows).
import { serialize } from 'pg-protocol';
import type { Param } from '../request.ts';
import { BEGIN, BEGIN_READ_ONLY, COMMIT, CURRENT_TXID, IN_TRANSACTION_PROBE, SET_STATEMENT_TIMEOUT } from '../statements.ts';

export interface PipelineRequest {
  readonly sql: string;
  readonly params: readonly Param[];
  readonly readOnly: boolean;
  readonly maxRows: number;
  readonly statementTimeoutMs: number;
}

/** How many statements come before the bot's: their replies are ours, not the bot's. */
export function preludeLength(readOnly: boolean): number {
  return readOnly ? 2 : 3;
}

/** How many statements of ours follow the bot's: the probe and COMMIT for a read, none for a write. */
export function trailerLength(readOnly: boolean): number {
  return readOnly ? 2 : 0;
}

/** Index of the txid statement in the prelude (writes only). */
export const TXID_STEP = 2;

export function statementPipeline(request: PipelineRequest): Buffer {
  const parts: Buffer[] = [
    ...step(request.readOnly ? BEGIN_READ_ONLY : BEGIN),
    ...step(SET_STATEMENT_TIMEOUT, [String(request.statementTimeoutMs)]),
  ];
  // A write's transaction id goes into execution.result: if this process dies before it can say
  // whether COMMIT succeeded, reconciliation asks the target (txid_status). Taken before the
  // statement, so it always exists and the bot's statement cannot interfere.
  if (!request.readOnly) parts.push(...step(CURRENT_TXID));
  parts.push(
    serialize.parse({ text: request.sql }),
    serialize.bind({ values: request.params.map(paramText) }),
    serialize.describe({ type: 'P' }),
    // A read stops at maxRows + 1 (the last only proves there are more). A write runs to its
    // CommandComplete: its tag is the one account of the rows it changed, which execution.result
    // records — a suspended portal has none. PostgreSQL runs a write whole at its first Execute
    // either way (RETURNING rows are kept in a tuplestore), so only the transfer of the rows past
    // the cap is added, and the reader skips them without keeping them.
    serialize.execute({ rows: request.readOnly ? request.maxRows + 1 : 0 }),
  );
  // After the statement (suspended or complete) and only if it succeeded: the server skips both
  // after an error. COMMIT closes a suspended portal with the transaction.
  if (request.readOnly) parts.push(...step(IN_TRANSACTION_PROBE), ...step(COMMIT));
  parts.push(serialize.sync());
  return Buffer.concat(parts);
}

function step(text: string, values: string[] = []): Buffer[] {
  return [serialize.parse({ text }), serialize.bind({ values }), serialize.execute({})];
}

/** Text parameters, as node-postgres sends them (the server casts to the inferred type). */
function paramText(value: Param): string | null {
  if (value === null) return null;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return String(value);
}
