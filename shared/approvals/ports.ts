// The approval desk's ports, re-exported by shared/ports.ts; adapters implement them.
import type { OutgoingMessage } from './message.ts';
import type { Approval, ApprovalState } from './types.ts';

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
  /**
   * Every record read is checked (record.ts parseApprovalRecord): a malformed one — edited behind
   * the gateway's back — makes get and update throw approval_mismatch (reason `row_malformed`);
   * update then calls no callback and writes nothing.
   */
  get(id: string): Promise<Approval | undefined>;
  /** Oldest first (createdAt, id). Malformed records are left out; `limit` counts the approvals listed. */
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
