// What the approvals API shows people. The delivery bookkeeping (claims, handled message ids)
// stays inside; the notification state is shown, so a reviewer can see that a request is known
// to have reached the topic, or is still being retried.
import { approvalCount, statusAt } from './state.ts';
import type { Approval } from './types.ts';

export function approvalView(a: Approval, now: Date) {
  return {
    id: a.id,
    status: statusAt(a, now),
    sessionId: a.sessionId,
    requester: { issuer: a.requester.issuer, subject: a.requester.subject, ...(a.requester.email ? { email: a.requester.email } : {}) },
    agent: a.agent,
    connection: a.connection,
    sql: a.sql,
    params: a.params,
    digest: a.digest,
    risk: { class: a.analysis.class, reasons: a.analysis.reasons },
    analysis: a.analysis,
    rule: a.rule,
    approvers: a.approvers,
    quorum: a.quorum,
    approvals: approvalCount(a),
    votes: a.votes,
    createdAt: a.createdAt,
    expiresAt: a.expiresAt,
    ...(a.redemption ? { redemption: a.redemption } : {}),
    notification: a.notification,
    ...(a.estimate ? { estimate: a.estimate } : {}),
  };
}

export type ApprovalView = ReturnType<typeof approvalView>;

/** One line of a listing: enough to pick one to review. */
export function approvalSummary(a: Approval, now: Date) {
  return {
    id: a.id,
    status: statusAt(a, now),
    sessionId: a.sessionId,
    requester: a.requester.email ?? a.requester.subject,
    connection: a.connection,
    sql: a.sql,
    risk: a.analysis.class,
    approvals: approvalCount(a),
    quorum: a.quorum,
    createdAt: a.createdAt,
    expiresAt: a.expiresAt,
  };
}

export type ApprovalSummary = ReturnType<typeof approvalSummary>;
