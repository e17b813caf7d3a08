// The session log's record types (docs/design.md#session-log-and-events). Events are created, never updated.

export const EVENT_TYPES = [
  'request',
  'analysis',
  'decision',
  'approval.requested',
  'approval.granted',
  'approval.rejected',
  // Appended to the requesting session when the approval is used (issue 14): the log, not the
  // approval store, says it was used, so a row reset to `approved` cannot be redeemed again.
  'approval.redeemed',
  'execution.started',
  /** Before COMMIT: what the statement returned (docs/outcomes.md). */
  'execution.result',
  /** After COMMIT succeeded (writes only: a read is complete at its result). */
  'execution.committed',
  /** The gateway rolled the transaction back after the statement ran, or COMMIT failed. */
  'execution.rolled_back',
  /** Closed by reconciliation: the instance that ran it is gone; `outcome` says what is known. */
  'execution.abandoned',
  /** Logs written before the outcome protocol: result and COMMIT in one record. Read, never written. */
  'execution.completed',
  'execution.failed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** What a caller asks the log to append; seq, at, prevHash and hash are the log's to assign. */
export interface EventDraft {
  readonly type: EventType;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface SessionEvent {
  readonly sessionId: string;
  readonly seq: number;
  readonly type: EventType;
  /** ISO-8601 UTC */
  readonly at: string;
  readonly data: Readonly<Record<string, unknown>>;
  /** `null` for seq 0 */
  readonly prevHash: string | null;
  /** sha256 hex of the RFC 8785 canonical JSON of the event without `hash` (and without `index`) */
  readonly hash: string;
  /**
   * The event's global position in the log: the index of its leaf in the one Merkle tree over
   * every event (shared/transparency/). Assigned by the store, gap-free; not part of `hash` (the
   * tree binds it). Absent only on events stored before the global log existed.
   */
  readonly index?: number;
}

/** Derived from a session's events: the status is the type of the last one, made readable. */
export type SessionStatus =
  | 'received'
  | 'analyzed'
  | 'decided'
  | 'pending_approval'
  | 'approved'
  | 'rejected'
  | 'running'
  /** The statement returned (execution.result): final for a read; a write is in doubt until one of the next three. */
  | 'result'
  | 'committed'
  | 'rolled_back'
  /** Reconciliation could not learn whether the write committed: an exception an auditor must see. */
  | 'unknown'
  /** A pre-protocol log's execution.completed. */
  | 'executed'
  | 'failed'
  | 'denied'
  | 'rejected_request';

export interface SessionSummary {
  readonly sessionId: string;
  readonly startedAt: string;
  readonly lastAt: string;
  readonly events: number;
  readonly status: SessionStatus;
  /** From the `request` event: who and what, for listing without reading every event. */
  readonly subject?: string;
  readonly email?: string;
  readonly connection?: string;
  readonly sql?: string;
  /**
   * The listing copy this field names disagrees with the session's hashed first event ('first
   * event': there is none, or its hash does not hold): the row was edited or forged behind the
   * log's back (shared/audit/listing-check.ts). Its status is then `unknown` and who/what are not
   * shown; startedAt is the stored copy, kept only as the listing's order.
   */
  readonly listingTampered?: string;
}
