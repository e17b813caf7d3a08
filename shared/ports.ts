// The narrow interfaces the core needs. Every adapter implements all of a port; the same contract
// tests run against each (test/adapters/*.contract.ts).
import type { RoutineCatalog } from './sql/routines.ts';
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
  /**
   * Optional: the events of several sessions in one round trip, each as `read` gives them (`[]`
   * for no such session). Evidence export uses it for a page of sessions when the store has it.
   */
  readMany?(sessionIds: readonly string[]): Promise<Map<string, SessionEvent[]>>;
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
 * Mutable approval state (docs/design.md#the-session-log-is-create-only: its own database, apart from the create-only session log).
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

/**
 * The approval desk's own signing key (issue 14): every `approval.granted` / `approval.rejected`
 * event carries its signature, and a redemption believes only votes it verifies. On GCP a Cloud
 * KMS key only the approvals function's service account may use; locally a key file in the state
 * dir. ECDSA P-256 with SHA-256, signatures DER-encoded (what Cloud KMS returns).
 */
export interface VoteSigner {
  sign(payload: Uint8Array): Promise<{ readonly keyId: string; readonly signature: Uint8Array }>;
  /** SPKI PEM of the key that verifies those signatures (the query path needs only this). */
  publicKeyPem(): Promise<string>;
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
  /** Reading stops once the result holds this many bytes (cell text as sent); default 4 MiB. */
  readonly maxResultBytes?: number;
  /** A single cell larger than this is replaced by a marker; default 1 MiB. */
  readonly maxCellBytes?: number;
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

/**
 * What the target database's catalog says about relations, for masking (docs/design.md#masking-provenance: provenance
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

/**
 * What the target's catalog says about functions, operators and casts (shared/sql/routines.ts), for
 * the read allowlist. Cached per connection; `refresh` reads it again (rate-limited by the adapter).
 */
export interface RoutineCatalogReader {
  routines(connection: string, options?: { readonly refresh?: boolean }): Promise<RoutineCatalog>;
}

/**
 * How a view's columns carry its base tables' columns, worked out from the view's definition by
 * the SQL lineage analysis (shared/masking/view-lineage.ts). The catalog reader (shared/postgres/)
 * asks it, so the package that speaks PostgreSQL does not depend on masking.
 */
export interface ViewLineageAnalyzer {
  /** Never rejects for a definition it cannot read: that view's columns then fail closed. */
  parse(definition: string): Promise<ParsedView>;
}

export interface ParsedView {
  /** Unqualified names of the functions the definition calls (their bodies may read any table). */
  readonly functions: readonly string[];
  /**
   * attnum → lineage for the view's columns, given the relations its rule depends on (undefined:
   * past the depth the catalog follows) and which called names are user functions.
   */
  columns(attnums: readonly number[], deps: readonly (RelationInfo | undefined)[], userFunctions: ReadonlySet<string>): ReadonlyMap<number, ViewColumnLineage>;
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
  /** Functions reading it runs that are not PostgreSQL's own: its view rule's and row security policies' (OIDs). */
  readonly calls?: readonly number[];
  /** Views: the relations its rule reads (OIDs). */
  readonly depends?: readonly number[];
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
