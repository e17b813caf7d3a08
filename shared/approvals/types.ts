// An approval: one statement, from one requester, held until enough humans agree (docs/design.md#http-api,
// issue 4). It is mutable state — it lives in the ApprovalStore, not in the create-only session
// log — and every change to it that matters to an auditor is also an event in the requesting
// session (`approval.requested`, `approval.granted`, `approval.rejected`).
import type { Analysis } from '../sql/analysis.ts';
import type { PlanEstimate } from '../blast-radius/types.ts';
import type { BoundRelations } from './relations.ts';

/** What the store holds. `expired` is never stored: it is read off `expiresAt` with the clock. */
export const APPROVAL_STATES = ['pending', 'approved', 'rejected', 'used'] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

/** What callers see: the stored state, or `expired` once `expiresAt` has passed unused. */
export const APPROVAL_STATUSES = [...APPROVAL_STATES, 'expired'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

/** A verified identity as recorded: enough to tell people apart, nothing of the token. */
export interface Person {
  readonly issuer: string;
  readonly subject: string;
  readonly email?: string;
}

export interface Requester extends Person {
  readonly groups: readonly string[];
}

export type Verdict = 'approve' | 'reject';

export interface Vote {
  readonly verdict: Verdict;
  readonly by: Person;
  readonly comment: string;
  /** ISO-8601 UTC */
  readonly at: string;
}

/** Publishing the request to the approvals topic. `pending` is retried until published. */
export interface NotificationState {
  readonly state: 'pending' | 'published';
  readonly attempts: number;
  /** When the next publish attempt is due (pending only). */
  readonly nextAttemptAt?: string;
  /** The last failure, as a short message (never a credential). */
  readonly lastError?: string;
  readonly messageId?: string;
  readonly publishedAt?: string;
}

/**
 * The fan-out to people (functions/notify.ts): which channels have been posted to, which Pub/Sub
 * messages were fully handled, and who is posting right now. This is what makes a redelivered
 * message, or a second message for the same approval, post nothing twice.
 */
export interface DeliveryState {
  /** channel name → when it was posted, and for which message. */
  readonly posted: Readonly<Record<string, { readonly at: string; readonly messageId: string }>>;
  /** Pub/Sub message ids already handled to the end (the most recent few). */
  readonly handled: readonly string[];
  /** A delivery in progress holds this lease; another delivery leaves the approval alone until it lapses. */
  readonly claim?: { readonly token: string; readonly messageId: string; readonly until: string };
}

export type Param = string | number | boolean | null;

export interface Approval {
  readonly id: string;
  /** The session that asked; decisions are appended to it. */
  readonly sessionId: string;
  readonly state: ApprovalState;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly requester: Requester;
  readonly agent: { readonly model?: string; readonly runId?: string };
  readonly connection: string;
  readonly sql: string;
  readonly params: readonly Param[];
  /** sha256 over connection, SQL, params and requester (shared/approvals/digest.ts). */
  readonly digest: string;
  readonly analysis: Analysis;
  readonly rule: string;
  readonly policySha256: string;
  /** Principal patterns (`group:dba`, `email:…`, `subject:…`) copied from the rule when it was asked. */
  readonly approvers: readonly string[];
  readonly quorum: number;
  readonly votes: readonly Vote[];
  /** Set when the bot ran it: the session that did. */
  readonly redemption?: { readonly at: string; readonly sessionId: string };
  readonly notification: NotificationState;
  readonly delivery: DeliveryState;
  /** The planner's estimate of what the statement touches, shown to approvers (absent on older records). */
  readonly estimate?: PlanEstimate;
  /** What its unqualified relation names resolved to when it was held (relations.ts; absent on older records). */
  readonly relations?: BoundRelations;
}
