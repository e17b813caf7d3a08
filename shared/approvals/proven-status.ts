// A session's status with its votes believed only as far as the approval desk's signatures prove
// them (issue 14). The plain status (shared/audit/status.ts) reads the last event, so an
// `approval.granted` with `quorumMet: true` says "approved" and an `approval.rejected` says
// "rejected" — and anyone holding the log's write rights can append either. Redemption already
// refuses such a vote (logged.ts); what people and clients are shown must not claim it either:
// `sessions show`, `sessions list`, GET /v1/sessions/:id and its long poll (which a client waiting
// for approval acts on). Here an approval counts exactly when redemption would count its votes —
// every vote for it signed by the desk, for this statement, by distinct admitted people other than
// the requester, before the logged expiry, at least the logged quorum — whatever the time now.
import type { SessionEvent, SessionStatus } from '../audit/events.ts';
import { dataOf } from '../audit/event-schema.ts';
import { protocolBreak } from '../audit/protocol.ts';
import { statusAfter } from '../audit/status.ts';
import { isGatehouseError } from '../errors.ts';
import { loggedApproval, shownIsSigner, signedApprovers, verifiedVotes } from './logged.ts';
import { voteSignatureValid, type SignedVote } from './vote-signature.ts';

/** The events whose status depends on signed votes: what a writer could append to change it. */
function restsOnVotes(e: Pick<SessionEvent, 'type'>): boolean {
  return e.type === 'approval.granted' || e.type === 'approval.rejected' || e.type === 'approval.redeemed';
}

/** Whether the session's status rests on votes (its last event is one, or a redemption of one). */
export function votesDecide(events: readonly Pick<SessionEvent, 'type'>[]): boolean {
  const last = events.at(-1);
  return last !== undefined && restsOnVotes(last);
}

/**
 * The status of a session (its events in seq order) when votes count only as the desk's key
 * `publicKeyPem` proves them. Without a key nothing about votes is proven: fail closed.
 *
 * Only the approval the session asked for is judged: its first `approval.requested` (the gateway
 * writes one). A vote or redemption naming any other approval was never asked for here — the
 * desk writes votes only to the requesting session — so it is passed over, neither counted nor
 * allowed to hide the genuine decision before it.
 */
export function provenStatus(events: readonly SessionEvent[], publicKeyPem: string | undefined): SessionStatus {
  const asked = events.map((e) => dataOf(e, 'approval.requested')?.approvalId).find((id) => id !== undefined);
  const own = events.filter((e) => !restsOnVotes(e) || (asked !== undefined && approvalOf(e) === asked));
  // Out of the order the gateway writes (audit/protocol.ts): nothing it says is believed.
  if (protocolBreak(own)) return 'unknown';
  const last = own.at(-1);
  // In order (checked just above), so the last event says the status.
  if (last === undefined || !restsOnVotes(last)) return last === undefined ? 'received' : statusAfter(last);
  const proven = publicKeyPem === undefined ? undefined : verdict(events, asked!, last.sessionId, publicKeyPem);
  // A redemption is believed only for an approval the signatures prove.
  if (proven !== undefined && (last.type !== 'approval.redeemed' || proven === 'approved')) return proven;
  // A rejection the desk signed is one whatever else was appended: an unsigned vote, a second
  // approval.requested or an approval.redeemed after it proves nothing, and must not turn the
  // genuine "rejected" back into pending_approval — a client would wait on a decision already made
  // (attack review of issue 14).
  if (publicKeyPem !== undefined && signedRejection(events, asked!, last.sessionId, publicKeyPem)) return 'rejected';
  // Votes nobody can prove: the status the rest of the record gives — pending_approval after a
  // genuine request, denied when a vote was appended to a denied session.
  const beforeVotes = own.findLast((e) => !restsOnVotes(e));
  return beforeVotes === undefined ? 'received' : statusAfter(beforeVotes);
}

/**
 * Whether the requesting session's signed votes prove approval `approvalId` approved: what a
 * redemption session's "allow, approved by approval X, granted by …" rests on. Its decision is
 * written with the log's INSERT right as easily as a vote (attack review of issue 14).
 */
export function approvalProven(askingEvents: readonly SessionEvent[], approvalId: string, askingSessionId: string, publicKeyPem: string | undefined): boolean {
  return publicKeyPem !== undefined && verdict(askingEvents, approvalId, askingSessionId, publicKeyPem) === 'approved';
}

function approvalOf(e: SessionEvent): string | undefined {
  return (dataOf(e, 'approval.granted') ?? dataOf(e, 'approval.rejected') ?? dataOf(e, 'approval.redeemed'))?.approvalId;
}

function verdict(events: readonly SessionEvent[], approvalId: string, sessionId: string, publicKeyPem: string): SessionStatus | undefined {
  try {
    const logged = loggedApproval(events, approvalId, sessionId);
    const people = signedApprovers(logged, verifiedVotes(events, logged, publicKeyPem));
    return people.length >= logged.quorum ? 'approved' : 'pending_approval';
  } catch (e) {
    if (isGatehouseError(e, 'approval_rejected')) return 'rejected';
    if (isGatehouseError(e, 'approval_mismatch')) return undefined;
    throw e;
  }
}

/** Whether the session holds an approval.rejected the desk signed for this approval, session and logged digest. */
function signedRejection(events: readonly SessionEvent[], approvalId: string, sessionId: string, publicKeyPem: string): boolean {
  const requested = events.map((e) => dataOf(e, 'approval.requested')).find((d) => d?.approvalId === approvalId);
  if (requested?.digest === undefined) return false;
  return events.some((e) => {
    const d = dataOf(e, 'approval.rejected');
    if (d === undefined || d.approvalId !== approvalId || !voteSignatureValid(publicKeyPem, d.vote, d.signature)) return false;
    const v = d.vote as SignedVote;
    return v.verdict === 'reject' && v.approvalId === approvalId && v.sessionId === sessionId && v.digest === requested.digest && shownIsSigner(d.approver, v);
  });
}
