// The target database port (re-exported by shared/ports.ts): what runs a bot's statement. It
// imports nothing, so every step may name it without a folder cycle.

export interface ResultField {
  readonly name: string;
  readonly dataTypeID: number;
  /** Source table OID from RowDescription; 0 for expressions. */
  readonly tableID: number;
  /** Source attribute number; 0 for expressions or a whole-row reference. */
  readonly columnID: number;
  /** Type name (`text`, `int4`, …) looked up from pg_type. */
  readonly type: string;
}

/**
 * What a masked cell longer than the cost it is counted at (shared/postgres/budget.ts,
 * MASKED_CELL_BYTES) becomes before masking: not kept, and masked as `[REDACTED]` (or null under
 * `null`) whatever the column's strategy. The keyed digest of the raw result covers this text.
 * Unlike the omitted-cell marker, it does not say how long the value was.
 */
export const MASKED_CELL_NOT_KEPT = '[gatehouse: masked cell not kept]';

export interface StatementRequest {
  readonly connection: string;
  readonly sql: string;
  readonly params: readonly unknown[];
  /** Run inside BEGIN READ ONLY (true for the `read` class). */
  readonly readOnly: boolean;
  readonly maxRows: number;
  readonly statementTimeoutMs: number;
  /** Reading stops once the result holds this many bytes (cell text as sent); default 4 MiB. */
  readonly maxResultBytes?: number;
  /** A single cell larger than this is replaced by a marker; default 1 MiB. */
  readonly maxCellBytes?: number;
  /**
   * Asked once, synchronously, when the statement's RowDescription arrives: which columns will
   * be masked. Their cells cost the byte budget MASKED_CELL_BYTES each whatever their length, and
   * one longer than that is not kept (shared/postgres/budget.ts), so how many rows fit never
   * depends on a masked value. Throwing counts every column as masked.
   */
  readonly maskedColumns?: (fields: readonly Pick<ResultField, 'name' | 'dataTypeID' | 'tableID' | 'columnID'>[]) => readonly boolean[];
  /**
   * Called with the result after the statement ran, before run() resolves. For a write it runs
   * before COMMIT: if it throws, the transaction rolls back and run() rejects with that error, so
   * a write whose record cannot be written never commits. For a read (READ ONLY, which commits
   * nothing) COMMIT is pipelined with the statement and this runs after it; if it throws, run()
   * rejects with that error and the caller answers no rows.
   */
  readonly beforeCommit?: (result: StatementResult) => Promise<void>;
}

export interface StatementResult {
  readonly command: string;
  /** Rows returned (≤ maxRows) for row-returning statements; rows affected otherwise. */
  readonly rowCount: number;
  readonly truncated: boolean;
  /** Which bound cut the result short, when truncated. */
  readonly truncatedBy?: 'rows' | 'bytes';
  /** Cells replaced by a marker because they were over maxCellBytes. */
  readonly cellsOmitted?: number;
  /** The target's transaction id when the statement wrote (txid_current_if_assigned), else null. */
  readonly txid?: string | null;
  readonly fields: readonly ResultField[];
  readonly rows: readonly (readonly unknown[])[];
  readonly durationMs: number;
}

/** What the target says of a transaction (txid_status): null when it no longer knows. */
export type TransactionStatus = 'committed' | 'aborted' | 'in progress' | null;

/** Runs one statement on a named connection. Knows nothing of policy. */
export interface TargetDatabase {
  run(request: StatementRequest): Promise<StatementResult>;
  /** Whether a transaction `run` reported (StatementResult.txid) committed; for reconciliation. */
  transactionStatus?(connection: string, txid: string): Promise<TransactionStatus>;
  close(): Promise<void>;
}
