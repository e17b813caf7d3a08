// Approvals as recorded in sessions: `approval.requested`, `approval.granted`, `approval.rejected`
// (issue 4). The decisions are appended to the session that asked; the statement then runs in the
// session whose request carries `approvalId` — often a later one. Field names are read
// defensively (id | approvalId, approver | by | decidedBy | principal) so evidence keeps working
// while the approval events grow.
import type { SessionEvent } from '../audit/events.ts';
import { count, field, firstText, record, texts } from './guards.ts';
import { identityOf, type Identity } from './identity.ts';

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
  const d = e.data;
  const nested = record(field(d, 'approval'));
  const step = e.type.slice('approval.'.length) as ApprovalStep;
  return {
    step,
    sessionId: e.sessionId,
    seq: e.seq,
    at: firstText(d, 'decidedAt', 'at') ?? e.at,
    approvalId: firstText(d, 'approvalId', 'id') ?? firstText(nested, 'id', 'approvalId'),
    by: identityOf(field(d, 'approver') ?? field(d, 'by') ?? field(d, 'decidedBy') ?? (step === 'requested' ? undefined : field(d, 'principal'))),
    comment: firstText(d, 'comment', 'reason'),
    approvers: texts(field(d, 'approvers') ?? field(nested, 'approvers')),
    quorum: count(field(d, 'quorum') ?? field(nested, 'quorum')),
    expiresAt: firstText(d, 'expiresAt') ?? firstText(nested, 'expiresAt'),
    hash: e.hash,
  };
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
