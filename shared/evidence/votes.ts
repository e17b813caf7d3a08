// Vote signatures in `evidence verify` (issue 14): the approval desk signs every
// `approval.granted` / `approval.rejected` it appends (shared/approvals/vote-signature.ts), and a
// redemption believes only signed votes. Anyone holding the query path's database rights can
// still append a perfectly chained `approval.granted`: the chain and even the signed Merkle log
// take it in. What tells it apart is the desk's signature, so verify checks every vote event of
// the export against the desk's public key:
//
//   vote_unsigned            the event carries no signed vote at all
//   vote_signature_invalid   a signature that does not verify with the desk's key, or a valid
//                            signature over a vote for another approval, session, statement,
//                            verdict or person than the event shows
//   vote_public_key_missing  the export holds votes and no desk key is known (fail closed)
//   vote_public_key_mismatch --vote-public-key (the published key) is not the key the manifest names
//
// Which key: `--vote-public-key FILE`, the key the desk publishes (`gatehouse approvals
// public-key`, or the KMS key's public half), when the auditor gives it; otherwise the key export
// recorded in manifest.json (`votes.publicKeyPem`, read by whoever ran the export from the desk's
// own key). The manifest's key alone catches a vote forged with the writer's rights, since the
// forger does not hold the desk's key; it does not catch someone who rewrites the whole folder
// and swaps that key too (and fixes every digest) — the published key does: with it, the
// swapped key is `vote_public_key_mismatch` and every re-signed vote `vote_signature_invalid`.
import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import type { SessionEvent } from '../audit/events.ts';
import { emailKey, normalForm, subjectKey } from '../identity/normalise.ts';
import { samePerson } from '../approvals/people.ts';
import type { Person } from '../approvals/types.ts';
import { signedBytes, type SignedVote } from '../approvals/vote-signature.ts';
import { field, record, text } from './guards.ts';
import type { Problem } from './problems.ts';

export interface VoteKey {
  readonly publicKeyPem: string;
  /** sha256 of the key's DER SubjectPublicKeyInfo, hex: how the manifest and the output name it. */
  readonly fingerprint: string;
  readonly key: KeyObject;
}

/** A P-256 public key from PEM (a private key's public half is accepted too), or why not. */
export function voteKeyOf(pem: string): VoteKey | string {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    return 'not a PEM public key';
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') return 'not an EC P-256 key';
  const der = key.export({ type: 'spki', format: 'der' });
  return { publicKeyPem: key.export({ type: 'spki', format: 'pem' }).toString(), fingerprint: createHash('sha256').update(der).digest('hex'), key };
}

export function isVoteEvent(e: Pick<SessionEvent, 'type'>): boolean {
  return e.type === 'approval.granted' || e.type === 'approval.rejected';
}

const FILE = 'events.jsonl';

/**
 * Problems with the vote events of one session (its events in seq order): each must carry a vote
 * signed by `key` that is exactly this event's — same approval, session, verdict, approver, and the
 * statement digest the session's `approval.requested` recorded.
 */
export function voteProblems(
  events: readonly SessionEvent[],
  key: VoteKey,
  lineOf?: (e: SessionEvent) => number | undefined,
  /** Known already (a worker verified it, verify-tasks.ts): this event's signature holds. */
  signatureKnownValid?: (e: SessionEvent) => boolean,
): Problem[] {
  const problems: Problem[] = [];
  /** Per approval, the people whose signed vote was already seen in this session. */
  const voters = new Map<string, Person[]>();
  for (const e of events) {
    if (!isVoteEvent(e)) continue;
    const flag = (kind: Problem['kind'], message: string) => problems.push({ kind, file: FILE, line: lineOf?.(e), sessionId: e.sessionId, seq: e.seq, message });
    const approvalId = text(field(e.data, 'approvalId'));
    const vote = record(field(e.data, 'vote'));
    const signature = record(field(e.data, 'signature'));
    const what = `${e.type} (event ${e.seq} of session ${e.sessionId}${approvalId ? `, approval ${approvalId}` : ''})`;
    if (field(e.data, 'signature') === undefined) {
      flag('vote_unsigned', `${what} carries no vote signed by the approval desk: anyone with the log's write rights can append one`);
      continue;
    }
    if (vote === undefined || signature === undefined || !(signatureKnownValid?.(e) || signatureHolds(key, vote, signature))) {
      flag('vote_signature_invalid', `the signature of ${what} does not verify with the approval desk's key ${key.fingerprint.slice(0, 16)}…`);
      continue;
    }
    const signed = vote as unknown as SignedVote;
    const requested = events.find((r) => r.type === 'approval.requested' && field(r.data, 'approvalId') === approvalId);
    const wrong: string[] = [];
    if (signed.approvalId !== approvalId) wrong.push('approval');
    if (signed.sessionId !== e.sessionId) wrong.push('session');
    if ((e.type === 'approval.granted') !== (signed.verdict === 'approve') || (e.type === 'approval.rejected') !== (signed.verdict === 'reject')) wrong.push('verdict');
    if (requested === undefined || signed.digest !== field(requested.data, 'digest')) wrong.push('statement digest');
    if (!sameApprover(field(e.data, 'approver'), signed)) wrong.push('approver');
    if (wrong.length) {
      flag('vote_signature_invalid', `${what} carries a validly signed vote, but for another ${wrong.join(', ')} than the event shows`);
      continue;
    }
    // The desk signs one vote per person and approval (castVote refuses a second): another is a
    // replayed event, whose unsigned fields (comment, quorumMet) may say anything. Redemption
    // refuses it the same way (shared/approvals/logged.ts).
    const a = signed.approver;
    const person: Person = { issuer: a.issuer, subject: a.subject, ...(a.email === undefined ? {} : { email: a.email }) };
    const seen = voters.get(signed.approvalId) ?? [];
    if (seen.some((p) => samePerson(p, person))) {
      flag('vote_repeated', `${what} is a second signed vote by the same person for this approval: the desk signs one, so this one was replayed`);
      continue;
    }
    voters.set(signed.approvalId, [...seen, person]);
  }
  return problems;
}

/** Whether a vote event's signature verifies with `key` (its content is checked by voteProblems). */
export function voteSignatureHolds(key: VoteKey, e: SessionEvent): boolean {
  const vote = record(field(e.data, 'vote'));
  const signature = record(field(e.data, 'signature'));
  return vote !== undefined && signature !== undefined && signatureHolds(key, vote, signature);
}

function signatureHolds(key: VoteKey, vote: Record<string, unknown>, signature: Record<string, unknown>): boolean {
  const { alg, value } = signature;
  if (alg !== 'ES256' || typeof value !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return false;
  try {
    return verifySignature('sha256', signedBytes(vote as unknown as SignedVote), { key: key.key, dsaEncoding: 'der' }, Buffer.from(value, 'base64'));
  } catch {
    return false;
  }
}

/** The approver the event shows (for people: approvals.jsonl, population.csv) is the one the desk signed. */
function sameApprover(shown: unknown, signed: SignedVote): boolean {
  const issuer = text(field(shown, 'issuer'));
  const subject = text(field(shown, 'subject'));
  const email = text(field(shown, 'email'));
  const a = record(signed.approver as unknown);
  if (issuer === undefined || subject === undefined || a === undefined) return false;
  if (normalForm(issuer) !== a.issuer || subjectKey(subject) !== a.subject) return false;
  return email === undefined ? a.email === undefined : a.email === emailKey(email);
}
