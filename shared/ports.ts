// The narrow interfaces the core needs. Every adapter implements all of a port; the same contract
// tests run against each (test/adapters/*.contract.ts).
//
// A port a domain folder uses is defined in that folder and re-exported here, so that no domain
// imports this file (it names every domain's types): test/repo/import-cycles.test.ts.
import type { EventDraft, SessionEvent, SessionSummary } from './audit/events.ts';
import type { SessionQuery } from './audit/session-query.ts';
import type { StoredEvents } from './audit/stored-text.ts';
import type { AppendOptions } from './audit/append-path.ts';

export type { SessionQuery } from './audit/session-query.ts';
export type { ApprovalNotifier, ApprovalQuery, ApprovalStore, VoteSigner } from './approvals/ports.ts';
export type { ResultField, StatementRequest, StatementResult, TargetDatabase, TransactionStatus } from './target-port.ts';
export type { CatalogReader, ParsedView, RelationInfo, RoutineCatalogReader, ViewColumnLineage, ViewLineageAnalyzer } from './sql/catalog-ports.ts';

export interface SessionLog {
  /**
   * Appends drafts to a session, in order, atomically: all land or none do. The log assigns seq,
   * at, prevHash and hash (shared/audit/chain.ts). Concurrent appends to one session never share
   * a seq. Throws GatehouseError('audit_unavailable') when the log cannot be written; callers then
   * run nothing. `options.after`: only right after that event, else refused with
   * `details.reason: "session_moved"` (shared/audit/append-path.ts, AppendOptions).
   */
  append(sessionId: string, drafts: readonly EventDraft[], options?: AppendOptions): Promise<SessionEvent[]>;
  /** The session's events ordered by seq; `[]` when there is no such session. */
  read(sessionId: string): Promise<SessionEvent[]>;
  /**
   * Optional: the events of several sessions in one round trip, each as `read` gives them (`[]`
   * for no such session). Evidence export uses it for a page of sessions when the store has it.
   */
  readMany?(sessionIds: readonly string[]): Promise<Map<string, SessionEvent[]>>;
  /**
   * Optional: readMany, with each event's data also as the JSON text the store holds. Evidence
   * export writes and hashes that text when it is canonical (audit/stored-text.ts) instead of
   * serialising every event twice.
   */
  readManyStored?(sessionIds: readonly string[]): Promise<Map<string, StoredEvents>>;
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

/**
 * Resolves a credentials reference (`env://VAR`, `embedded://NAME`, `secret://projects/…`) to its
 * value. The value never reaches a log, an error message or a session event.
 */
export interface SecretSource {
  resolve(ref: string): Promise<string>;
}

