// Whether everything GET /v1/approvals/:id shows a reviewer is what the log holds (issue 14).
// checkRowAgrees (logged.ts) covers what a redemption depends on; a reviewer also reads the row's
// state, its votes (who, verdict, comment, when), the requester's email, the agent, the analysis
// (risk class and reasons), the blast-radius estimate and the redemption. Anyone with the store's
// UPDATE right can rewrite those — a DROP shown as class `read`, a comment nobody wrote — so
// `log.agrees` is true only when each of them is the log's too.
import canonicalize from 'canonicalize';
import type { SessionEvent } from '../audit/events.ts';
import { dataOf } from '../audit/event-schema.ts';
import { isGatehouseError } from '../errors.ts';
import { mismatch, signedApprovers, type LoggedApproval } from './logged.ts';
import { samePerson } from './people.ts';
import type { Approval, ApprovalState } from './types.ts';
import type { SignedVote } from './vote-signature.ts';

/** approval_mismatch (`row_disagrees`, naming the fields) when the row shows what the log does not hold. */
export function checkRowShown(row: Approval, events: readonly SessionEvent[], logged: LoggedApproval, votes: readonly SignedVote[]): void {
  const differs: string[] = [];
  const requestedAt = events.findIndex((e) => dataOf(e, 'approval.requested')?.approvalId === logged.approvalId);
  const before = events.slice(0, requestedAt);
  const request = before.map((e) => dataOf(e, 'request')).find((d) => d !== undefined);
  const analysis = before.map((e) => dataOf(e, 'analysis')).findLast((d) => d !== undefined);
  const requested = dataOf(events[requestedAt]!, 'approval.requested')!;

  if (row.state !== stateInLog(events, logged, votes)) differs.push('state');
  if (row.requester.email !== request?.principal?.email) differs.push('requester.email');
  if (row.agent.model !== request?.agent?.model || row.agent.runId !== request?.agent?.runId) differs.push('agent');
  if (!sameJson(row.analysis, analysis)) differs.push('analysis');
  if (!sameJson(row.estimate, requested.estimate)) differs.push('estimate');
  if (!votesAsCast(row, events, logged.approvalId, votes)) differs.push('votes');
  const redeemed = events.map((e) => dataOf(e, 'approval.redeemed')).find((d) => d?.approvalId === logged.approvalId);
  if (row.redemption?.sessionId !== redeemed?.sessionId) differs.push('redemption');
  if (differs.length > 0) throw mismatch(row.id, 'row_disagrees', `the approval store shows what the log does not hold: ${differs.join(', ')}`, { differs });
}

/**
 * What the state must be by the log: by the signed votes, and used once an approval they prove
 * was redeemed. An `approval.redeemed` is appended by whoever holds the log's INSERT right as
 * easily as a vote: for an approval no signed quorum decided it proves nothing, and the row's
 * `used` (and its redemption) does not agree (attack review of issue 14).
 */
function stateInLog(events: readonly SessionEvent[], logged: LoggedApproval, votes: readonly SignedVote[]): ApprovalState {
  let byVotes: ApprovalState;
  try {
    byVotes = signedApprovers(logged, votes).length >= logged.quorum ? 'approved' : 'pending';
  } catch (e) {
    if (isGatehouseError(e, 'approval_rejected')) return 'rejected';
    throw e;
  }
  if (byVotes === 'approved' && events.some((e) => dataOf(e, 'approval.redeemed')?.approvalId === logged.approvalId)) return 'used';
  return byVotes;
}

/**
 * The row's votes are the log's signed votes, in order: verdict, person, time, and the comment
 * shown. The person is compared exactly — issuer, subject and email as the vote event shows them,
 * which verifiedVotes() proved are the signer's — not as samePerson() does: that one is built to
 * refuse (one subject under any email, `a.lice+x@…` as alice), and would let the row show alice's
 * vote under mallory's email (attack review of issue 14).
 */
function votesAsCast(row: Approval, events: readonly SessionEvent[], approvalId: string, votes: readonly SignedVote[]): boolean {
  const cast = events
    .map((e) => dataOf(e, 'approval.granted') ?? dataOf(e, 'approval.rejected'))
    .filter((d) => d?.approvalId === approvalId)
    .map((d) => ({ comment: d!.comment, approver: d!.approver }));
  if (row.votes.length !== votes.length || cast.length !== votes.length) return false;
  return row.votes.every((rv, i) => {
    const v = votes[i]!;
    const { comment, approver } = cast[i]!;
    const signer = { issuer: v.approver.issuer, subject: v.approver.subject, ...(v.approver.email ? { email: v.approver.email } : {}) };
    const asShown = approver !== undefined && rv.by.issuer === approver.issuer && rv.by.subject === approver.subject && rv.by.email === approver.email;
    return rv.verdict === v.verdict && asShown && samePerson(rv.by, signer) && Date.parse(rv.at) === Date.parse(v.at) && rv.comment === comment;
  });
}

/** Equal as JSON (key order aside): what the store and the log each hold after a round trip. */
function sameJson(a: unknown, b: unknown): boolean {
  return canonicalize(a === undefined ? null : JSON.parse(JSON.stringify(a))) === canonicalize(b === undefined ? null : b);
}
