// The narrow interfaces the core needs. Every adapter implements all of a port; the same contract
// tests run against each (test/adapters/*.contract.ts).
import type { EventDraft, SessionEvent, SessionSummary } from './audit/events.ts';

export interface SessionLog {
  /**
   * Appends drafts to a session, in order, atomically: all land or none do. The log assigns seq,
   * at, prevHash and hash (shared/audit/chain.ts). Concurrent appends to one session never share
   * a seq. Throws GatehouseError('audit_unavailable') when the log cannot be written; callers then
   * run nothing.
   */
  append(sessionId: string, drafts: readonly EventDraft[]): Promise<SessionEvent[]>;
  /** The session's events ordered by seq; `[]` when there is no such session. */
  read(sessionId: string): Promise<SessionEvent[]>;
  /** Sessions started in [from, to), oldest first, at most `limit`, after the cursor `after` (a sessionId). */
  list(query: SessionQuery): Promise<SessionSummary[]>;
  close(): Promise<void>;
}

export interface SessionQuery {
  readonly from?: Date;
  readonly to?: Date;
  readonly limit?: number;
  /** Return sessions strictly after this one in the listing order (startedAt, sessionId). */
  readonly after?: string;
  /** Only sessions whose request came from this subject. */
  readonly subject?: string;
}

/**
 * Resolves a credentials reference (`env://VAR`, `embedded://NAME`, `secret://projects/…`) to its
 * value. The value never reaches a log, an error message or a session event.
 */
export interface SecretSource {
  resolve(ref: string): Promise<string>;
}

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

export interface StatementRequest {
  readonly connection: string;
  readonly sql: string;
  readonly params: readonly unknown[];
  /** Run inside BEGIN READ ONLY (true for the `read` class). */
  readonly readOnly: boolean;
  readonly maxRows: number;
  readonly statementTimeoutMs: number;
  /**
   * Called with the result after the statement ran and before COMMIT. If it throws, the
   * transaction rolls back and run() rejects with that error: the gateway records the outcome
   * here, so a write whose record cannot be written never commits.
   */
  readonly beforeCommit?: (result: StatementResult) => Promise<void>;
}

export interface StatementResult {
  readonly command: string;
  /** Rows returned (≤ maxRows) for row-returning statements; rows affected otherwise. */
  readonly rowCount: number;
  readonly truncated: boolean;
  readonly fields: readonly ResultField[];
  readonly rows: readonly (readonly unknown[])[];
  readonly durationMs: number;
}

/** Runs one statement on a named connection. Knows nothing of policy. */
export interface TargetDatabase {
  run(request: StatementRequest): Promise<StatementResult>;
  close(): Promise<void>;
}
