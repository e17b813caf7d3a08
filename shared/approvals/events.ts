// Session events of the approval steps, one builder per type, so every event of a type has one
// shape (like shared/audit/drafts.ts). Change them only additively: auditors read them.
import type { EventDraft } from '../audit/events.ts';
import type { GatehouseError } from '../errors.ts';
import type { Decision } from '../policy/types.ts';
import { approvalCount } from './state.ts';
import type { Approval, Vote } from './types.ts';

export function approvalRequestedEvent(a: Approval): EventDraft {
  return {
    type: 'approval.requested',
    data: {
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
    },
  };
}

/** `approval.granted` or `approval.rejected`, appended to the requesting session. */
export function voteEvent(after: Approval, vote: Vote): EventDraft {
  const approver = { ...vote.by };
  if (vote.verdict === 'reject') {
    return { type: 'approval.rejected', data: { approvalId: after.id, approver, comment: vote.comment, state: after.state } };
  }
  return {
    type: 'approval.granted',
    data: {
      approvalId: after.id,
      approver,
      comment: vote.comment,
      approvals: approvalCount(after),
      quorum: after.quorum,
      // false while more approvals are needed: the session stays pending_approval (shared/audit/status.ts).
      quorumMet: after.state === 'approved',
      state: after.state,
    },
  };
}

/** The decision of a redemption session: the policy's approve, turned into allow by approval X. */
export function redeemedDecision(decision: Decision, a: Approval): Decision & { readonly approval: Record<string, unknown> } {
  const grantedBy = a.votes.filter((v) => v.verdict === 'approve').map((v) => ({ ...v.by }));
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
    approval: { id: approvalId, error: { code: error.code, message: error.message } },
  };
}

/** The decision when the approval store cannot be reached: nothing is held, nothing runs. */
export function storeDownDecision(decision: Decision, error: GatehouseError): Decision {
  return { ...decision, action: 'deny', reasons: [...decision.reasons, `approval required, but the approval store is unavailable (${error.code}): not run`] };
}
