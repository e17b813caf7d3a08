// Session events of the approval steps, one builder per type, so every event of a type has one
// shape (like shared/audit/drafts.ts). Change them only additively: auditors read them.
import type { EventDraft } from '../audit/events.ts';
import { eventDraft } from '../audit/event-schema.ts';
import type { GatehouseError } from '../errors.ts';
import type { Decision } from '../policy/types.ts';
import { approvalCount } from './state.ts';
import type { Approval, Person, Vote } from './types.ts';
import type { SignedVote, VoteSignature } from './vote-signature.ts';

export function approvalRequestedEvent(a: Approval): EventDraft {
  return eventDraft('approval.requested', {
    approvalId: a.id,
    digest: a.digest,
    rule: a.rule,
    approvers: a.approvers,
    quorum: a.quorum,
    expiresAt: a.expiresAt,
    // Written before the request is published (publishing follows the commit, so no approver can
    // be told of an approval that is not recorded). Delivery from here on is tracked on the
    // approval itself (GET /v1/approvals/:id → notification) and retried until published.
    notification: { state: a.notification.state },
    // The planner's estimate the approvers were shown (shared/blast-radius).
    ...(a.estimate ? { estimate: a.estimate } : {}),
    // What its unqualified relation names resolved to on the target (relations.ts): a redemption
    // must find the same relations.
    ...(a.relations ? { relations: { ...a.relations } } : {}),
  });
}

/** Appended to the requesting session when a redemption uses the approval (issue 14). */
export function approvalRedeemedEvent(a: Approval, redemptionSessionId: string): EventDraft {
  return eventDraft('approval.redeemed', { approvalId: a.id, sessionId: redemptionSessionId });
}

/**
 * `approval.granted` or `approval.rejected`, appended to the requesting session. `vote` and
 * `signature` are what a redemption believes (vote-signature.ts); the other fields are for people.
 */
export function voteEvent(after: Approval, vote: Vote, signed?: { vote: SignedVote; signature: VoteSignature }): EventDraft {
  const approver = { ...vote.by };
  const proof = signed ? { vote: signed.vote, signature: signed.signature } : {};
  if (vote.verdict === 'reject') {
    return eventDraft('approval.rejected', { approvalId: after.id, approver, comment: vote.comment, state: after.state, ...proof });
  }
  return eventDraft('approval.granted', {
    approvalId: after.id,
    approver,
    comment: vote.comment,
    approvals: approvalCount(after),
    quorum: after.quorum,
    // false while more approvals are needed: the session stays pending_approval (shared/audit/status.ts).
    quorumMet: after.state === 'approved',
    state: after.state,
    ...proof,
  });
}

/**
 * The decision of a redemption session: the policy's approve, turned into allow by approval X.
 * `grantedBy` are the people whose signed votes the log holds (logged.ts), never the store's list.
 */
export function redeemedDecision(decision: Decision, a: Approval, signedBy: readonly Person[]): Decision & { readonly approval: Record<string, unknown> } {
  const grantedBy = signedBy.map((p) => ({ ...p }));
  const names = grantedBy.map((p) => p.email ?? p.subject).join(', ');
  return {
    ...decision,
    action: 'allow',
    reasons: [`approved by approval ${a.id} (requested in session ${a.sessionId}; granted by ${names})`, ...decision.reasons],
    approval: { id: a.id, sessionId: a.sessionId, digest: a.digest, grantedBy },
  };
}

/** The decision of a redemption the approval does not cover: denied, with the refusal's code. */
export function refusedRedemptionDecision(decision: Decision, approvalId: string, error: GatehouseError): Decision & { readonly approval: Record<string, unknown> } {
  return {
    ...decision,
    action: 'deny',
    reasons: [`approval ${approvalId} refused: ${error.message}`, ...decision.reasons],
    // `reason` names which check of the log refused it (logged.ts), when one did.
    approval: { id: approvalId, error: { code: error.code, message: error.message, ...reasonOf(error) } },
  };
}

/** The decision when the target cannot say what the statement's relation names resolve to: nothing is held. */
export function unresolvedDecision(decision: Decision, error: GatehouseError): Decision {
  return { ...decision, action: 'deny', reasons: [...decision.reasons, `approval required, but the relations the statement names could not be resolved on the target (${error.code}): nothing held, not run`] };
}

/** The decision when the approval store cannot be reached: nothing is held, nothing runs. */
export function storeDownDecision(decision: Decision, error: GatehouseError): Decision {
  return { ...decision, action: 'deny', reasons: [...decision.reasons, `approval required, but the approval store is unavailable (${error.code}): not run`] };
}

function reasonOf(error: GatehouseError): { reason?: string } {
  const reason = error.details?.reason;
  return typeof reason === 'string' ? { reason } : {};
}
