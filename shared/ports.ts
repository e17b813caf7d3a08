// The narrow interfaces the core needs. Every adapter implements all of a port; the same contract
// tests run against each (test/adapters/*.contract.ts).
import type { EventDraft, SessionEvent, SessionSummary } from './audit/events.ts';
import type { OutgoingMessage } from './approvals/message.ts';
import type { Approval, ApprovalState } from './approvals/types.ts';

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

/**
 * The session log read as one global Merkle log (shared/transparency/): every event has a global,
 * gap-free index, assigned atomically with its append, and is the leaf at that index. Both
 * SessionLog adapters implement it; the checkpoint signer and evidence export read through it.
 */
export interface LogLeafReader {
  /** How many leaves the log holds: the highest index + 1. */
  treeSize(): Promise<number>;
  /** Leaves with index in [start, end), in index order (a missing index is simply absent). */
  leaves(start: number, end: number): Promise<LogLeaf[]>;
}

export interface LogLeaf {
  readonly index: number;
  readonly sessionId: string;
  readonly seq: number;
  /** The event's hash (shared/audit/chain.ts); the leaf hash is computed from it. */
  readonly hash: string;
}

export type TransparentSessionLog = SessionLog & LogLeafReader;

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
 * Mutable approval state (DESIGN §4: its own database, apart from the create-only session log).
 * The state machine is not the store's: it only applies `change` (shared/approvals/state.ts)
 * atomically, so every adapter needs one primitive — a locked read-modify-write of one record.
 */
export interface ApprovalStore {
  /**
   * Stores a new approval. `beforeCommit` runs before it becomes visible to anyone; if it throws,
   * nothing is stored and create rejects with that error (so an approval exists only once its
   * `approval.requested` event does).
   */
  create(approval: Approval, beforeCommit?: (approval: Approval) => Promise<void>): Promise<void>;
  get(id: string): Promise<Approval | undefined>;
  /** Oldest first (createdAt, id). */
  list(query: ApprovalQuery): Promise<Approval[]>;
  /**
   * Atomic read-check-write of one approval. `change` (synchronous, pure) gets the current record
   * and returns the next, or the same object when there is nothing to write, or throws to refuse:
   * its error comes out of update unchanged and nothing is written. Updates of one approval run
   * one after another, each seeing the result of the last, so of 20 concurrent redemptions exactly
   * one sees `approved`. `beforeCommit` runs with the new record while it is still locked; if it
   * throws, nothing is written. Resolves to the record as stored, or undefined when there is no
   * such approval. Throws GatehouseError('approvals_unavailable') when the store cannot be used.
   */
  update(
    id: string,
    change: (current: Approval) => Approval,
    beforeCommit?: (next: Approval) => Promise<void>,
  ): Promise<Approval | undefined>;
  close(): Promise<void>;
}

export interface ApprovalQuery {
  readonly states?: readonly ApprovalState[];
  /** Only approvals whose expiresAt is after this instant. */
  readonly expiresAfter?: Date;
  /** Only approvals whose expiresAt is at or before this instant. */
  readonly expiredBy?: Date;
  /** Only approvals whose notification is still pending and due at or before this instant. */
  readonly notificationDueBy?: Date;
  /** At most this many; default 100. */
  readonly limit?: number;
}

/** Tells people an approval is waiting: the approvals Pub/Sub topic on GCP, the console locally. */
export interface ApprovalNotifier {
  /**
   * Resolves to the message id. Retries within its own bounds and then rejects; the caller keeps
   * the notification pending and publishes it again later (nothing is lost).
   */
  publish(message: OutgoingMessage): Promise<string>;
  close(): Promise<void>;
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

/**
 * What the target database's catalog says about relations, for masking (DESIGN §4: provenance
 * comes from the database). RowDescription names a result column's source by table OID and
 * attribute number; this turns those into names, and views into the base columns they can carry.
 * Answers are cached per connection and refreshed when an unknown OID shows up.
 */
export interface CatalogReader {
  /** Relations by OID (from RowDescription). OIDs the catalog does not know are absent. */
  describe(connection: string, relationOids: readonly number[]): Promise<ReadonlyMap<number, RelationInfo>>;
  /**
   * Relations by name as written in SQL: `schema.name` that one; a bare `name` every relation of
   * that name in any schema (the bot's search_path is not trusted). Unknown names map to `[]`.
   */
  lookup(connection: string, names: readonly string[]): Promise<ReadonlyMap<string, readonly RelationInfo[]>>;
  /**
   * Of these unqualified function names, those with a definition outside pg_catalog and
   * information_schema in a language that can run SQL: their bodies may read any table.
   */
  userFunctions(connection: string, names: readonly string[]): Promise<ReadonlySet<string>>;
}

export interface RelationInfo {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  readonly kind: 'table' | 'view' | 'matview' | 'other';
  /** attnum → column name, live columns only. */
  readonly columns: ReadonlyMap<number, string>;
  /** Tables this one inherits from or is a partition of, as `schema.table`, nearest first. */
  readonly ancestors: readonly string[];
  /** Views and materialized views: attnum → the base table columns that column can carry. */
  readonly viewColumns?: ReadonlyMap<number, ViewColumnLineage>;
}

export interface ViewColumnLineage {
  /** Base table columns as `schema.table.column` (ancestors' names included). */
  readonly sources: readonly string[];
  /** Not a plain reference: an expression, a cast, a whole row. */
  readonly derived: boolean;
  /** The view's lineage could not be worked out: `sources` are every column of every relation it reads. */
  readonly failClosed: boolean;
  /** The column calls a function whose body may read any table: no list of sources is complete. */
  readonly opaque: boolean;
}
