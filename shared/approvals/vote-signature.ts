// What the approval desk signs for each vote, and how a redemption checks it (issue 14). Anyone
// who can append to the session log can append a perfectly chained `approval.granted`; only the
// desk can sign one. The signed statement names the approval, the exact statement digest (as
// logged in `approval.requested`), the verdict, the approver's normalised identity and groups as
// the desk saw them, the token that cast it (iss, sub, iat, jti, sha256 of the token) and the time.
import { createPublicKey, verify } from 'node:crypto';
import canonicalize from 'canonicalize';
import { emailKey, normalForm, subjectKey } from '../identity/normalise.ts';
import type { Principal } from '../identity/principal.ts';
import type { VoteSigner } from './ports.ts';
import type { Approval, Vote } from './types.ts';

export const SIGNED_VOTE_VERSION = 'gatehouse-vote/1';

/** Exactly what is signed (RFC 8785 canonical JSON of this object). */
export interface SignedVote {
  readonly v: typeof SIGNED_VOTE_VERSION;
  readonly approvalId: string;
  /** The requesting session: a copy of the request and its votes into another session is not this one. */
  readonly sessionId: string;
  readonly digest: string;
  readonly verdict: Vote['verdict'];
  readonly approver: {
    readonly issuer: string;
    readonly subject: string;
    /** emailKey() of the verified email, when there was one. */
    readonly email?: string;
    readonly groups: readonly string[];
  };
  readonly token: { readonly iss: string; readonly sub: string; readonly iat: number; readonly jti?: string; readonly sha256: string };
  /** The approver pattern of the request that admitted this person. */
  readonly as: string;
  /** The policy the desk decided membership under. */
  readonly policySha256: string;
  readonly at: string;
}

export interface VoteSignature {
  readonly alg: 'ES256';
  readonly keyId: string;
  /** base64 of the DER-encoded ECDSA signature. */
  readonly value: string;
}

export function signedVoteOf(a: Approval, vote: Vote, by: Principal, as: string, policySha256: string): SignedVote {
  if (!by.token) throw new TypeError('signedVoteOf: the principal carries no token facts (not from a verified token)');
  return {
    v: SIGNED_VOTE_VERSION,
    approvalId: a.id,
    sessionId: a.sessionId,
    digest: a.digest,
    verdict: vote.verdict,
    approver: {
      issuer: normalForm(by.issuer),
      subject: subjectKey(by.subject),
      ...(by.email === undefined ? {} : { email: emailKey(by.email) }),
      groups: [...by.groups].sort(),
    },
    token: { iss: by.issuer, sub: by.subject, iat: by.token.iat, ...(by.token.jti ? { jti: by.token.jti } : {}), sha256: by.token.sha256 },
    as,
    policySha256,
    at: vote.at,
  };
}

export function signedBytes(vote: SignedVote): Buffer {
  const canonical = canonicalize(vote);
  if (canonical === undefined) throw new TypeError('signed vote is not JSON-serialisable');
  return Buffer.from(canonical, 'utf8');
}

export async function signVote(signer: VoteSigner, vote: SignedVote): Promise<VoteSignature> {
  const { keyId, signature } = await signer.sign(signedBytes(vote));
  return { alg: 'ES256', keyId, value: Buffer.from(signature).toString('base64') };
}

/** True only for a well-formed signature by the key of `publicKeyPem` over exactly `vote`. */
export function voteSignatureValid(publicKeyPem: string, vote: unknown, signature: unknown): boolean {
  if (typeof signature !== 'object' || signature === null) return false;
  const { alg, value } = signature as Partial<VoteSignature>;
  if (alg !== 'ES256' || typeof value !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return false;
  let bytes: Buffer;
  try {
    bytes = signedBytes(vote as SignedVote);
  } catch {
    return false;
  }
  try {
    return verify('sha256', bytes, { key: createPublicKey(publicKeyPem), dsaEncoding: 'der' }, Buffer.from(value, 'base64'));
  } catch {
    return false;
  }
}
