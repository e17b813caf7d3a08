// Approvals as recorded in sessions: `approval.requested`, `approval.granted`, `approval.rejected`
// (issue 4). The decisions are appended to the session that asked; the statement then runs in the
// session whose request carries `approvalId` — often a later one. Fields are read by name through
// the event schema (shared/audit/event-schema.ts); an event that does not fit it yields a fact with
// no fields, and `evidence verify` reports it (event_schema).
import type { SessionEvent } from '../audit/events.ts';
import { dataOf } from '../audit/event-schema.ts';
import type { Identity } from './identity.ts';

export type ApprovalStep = 'requested' | 'granted' | 'rejected';

export interface ApprovalFact {
  readonly step: ApprovalStep;
  /** The session whose log holds this event. */
  readonly sessionId: string;
  readonly seq: number;
  /** When it was decided: the event's own time unless the event names one. */
  readonly at: string;
  readonly approvalId?: string;
  /** The approver (granted/rejected). */
  readonly by?: Identity;
  readonly comment?: string;
  /** What was asked for (requested). */
  readonly approvers?: readonly string[];
  readonly quorum?: number;
  readonly expiresAt?: string;
  /** The event's hash, so an approval line in approvals.jsonl points at its link in the chain. */
  readonly hash: string;
}

export function isApprovalEvent(e: Pick<SessionEvent, 'type'>): boolean {
  return e.type === 'approval.requested' || e.type === 'approval.granted' || e.type === 'approval.rejected';
}

export function approvalFact(e: SessionEvent): ApprovalFact {
  const step = e.type.slice('approval.'.length) as ApprovalStep;
  const base = { step, sessionId: e.sessionId, seq: e.seq, at: e.at, hash: e.hash };
  const requested = dataOf(e, 'approval.requested');
  if (requested) {
    const { approvalId, approvers, quorum, expiresAt } = requested;
    return { ...base, approvalId, approvers: approvers ? [...approvers] : [], quorum, expiresAt };
  }
  const vote = dataOf(e, 'approval.granted') ?? dataOf(e, 'approval.rejected');
  if (vote) {
    const { approvalId, approver, comment } = vote;
    const by: Identity | undefined = approver && { issuer: approver.issuer, subject: approver.subject, email: approver.email, groups: [] };
    return { ...base, approvalId, by, comment, approvers: [] };
  }
  return { ...base, approvers: [] };
}

/**
 * Approval decisions by approval id, across the sessions of one export, so the session that ran
 * an approved statement can name its approvers. Bounded (oldest forgotten first): approvals are
 * rare next to statements, and one that old has long expired.
 */
export class ApprovalIndex {
  readonly #byId = new Map<string, ApprovalFact[]>();
  constructor(private readonly max = 200_000) {}

  add(fact: ApprovalFact): void {
    if (fact.approvalId === undefined) return;
    const facts = this.#byId.get(fact.approvalId) ?? [];
    facts.push(fact);
    this.#byId.set(fact.approvalId, facts);
    if (this.#byId.size > this.max) this.#byId.delete(this.#byId.keys().next().value!);
  }

  get(approvalId: string | undefined): readonly ApprovalFact[] {
    return approvalId === undefined ? [] : (this.#byId.get(approvalId) ?? []);
  }
}
