// Votes as the approval desk signs them (shared/approvals/vote-signature.ts), for evidence tests
// that append sessions with the query path's rights: a held request, and desk-signed (or
// attacker-signed) votes for it. TEST_SIGNING_KEY is the desk's key in the evidence fixture.
import { sign, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { EventDraft } from '../../shared/audit/events.ts';
import { emailKey, normalForm, subjectKey } from '../../shared/identity/normalise.ts';
import { TEST_SIGNING_KEY } from '../helpers/gateway.ts';

/** An ES256 signature over the vote's canonical JSON, as the desk writes it; the desk's key unless told. */
export function voteSignature(vote: unknown, key: KeyObject | string = TEST_SIGNING_KEY, keyId = 'local:desk'): { alg: 'ES256'; keyId: string; value: string } {
  return { alg: 'ES256', keyId, value: sign('sha256', Buffer.from(canonicalize(vote)!), { key, dsaEncoding: 'der' } as Parameters<typeof sign>[2]).toString('base64') };
}

/** The bot's request, its `approve` decision and the `approval.requested` a held write logs. */
export function heldRequest(issuer: string, approvalId: string, digest: string): EventDraft[] {
  return [
    { type: 'request', data: { endpoint: 'query', principal: { issuer, subject: 'review-bot@acme-prod.iam.gserviceaccount.com', groups: ['review-bots'] }, agent: { model: 'gemini-2.5-pro-002' }, connection: 'main', sql: 'DELETE FROM orders', params: [] } },
    { type: 'decision', data: { action: 'approve', rule: 'bots-write-approved', reasons: ['forged'], approvers: ['group:dba'], quorum: 1 } },
    { type: 'approval.requested', data: { approvalId, digest, rule: 'bots-write-approved', approvers: ['group:dba'], quorum: 1, expiresAt: new Date(Date.now() + 600_000).toISOString() } },
  ];
}

/**
 * The data of an `approval.granted` whose vote the desk signed for exactly this approval, session
 * and statement, by `approver` (shown as given, signed in normal form, as the desk does).
 */
export function signedGrant(
  ids: { approvalId: string; sessionId: string; digest: string },
  approver: { issuer: string; subject: string; email?: string },
): Record<string, unknown> {
  const { approvalId, sessionId, digest } = ids;
  const signedApprover = { issuer: normalForm(approver.issuer), subject: subjectKey(approver.subject), ...(approver.email === undefined ? {} : { email: emailKey(approver.email) }), groups: ['dba'] };
  const vote = { v: 'gatehouse-vote/1', approvalId, sessionId, digest, verdict: 'approve', approver: signedApprover, token: { iss: approver.issuer, sub: approver.subject, iat: 1, sha256: 'a'.repeat(64) }, as: 'group:dba', policySha256: 'b'.repeat(64), at: new Date().toISOString() };
  return { approvalId, approver, comment: 'lgtm', quorumMet: true, state: 'approved', vote, signature: voteSignature(vote) };
}
