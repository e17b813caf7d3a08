// The approval is bound to exactly one statement from exactly one requester: this digest. A bot
// that changes a parameter, the SQL (even whitespace), the connection — or another bot presenting
// the id — computes a different one, and the approval does not apply.
//
// It is an HMAC, not a plain hash (issue 14): with sha256 anyone who can write the approval store
// could insert a row for any SQL and compute its digest. The key is derived from the masking key
// (the SecretSource: Secret Manager on GCP, the state dir's masking.key locally), which neither
// the approval store nor the session log holds.
//
// It binds the approval's id and its requesting session too: over the statement alone, whoever
// holds the log's and the store's INSERT rights copied a genuine request — digest and all — into a
// session of their own under a new id (or, once the genuine one was used, the same id), reviewers
// approved what was the same statement, and the statement approved once ran twice (attack review
// of issue 14). Now only the gateway that opened the approval can produce its digest.
import { createHmac } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Param, Person } from './types.ts';

export interface BoundStatement {
  /** The approval this digest belongs to, and the session that requested it. */
  readonly approvalId: string;
  readonly sessionId: string;
  readonly connection: string;
  readonly sql: string;
  readonly params: readonly Param[];
  readonly requester: Pick<Person, 'issuer' | 'subject'>;
}

const LABEL = 'gatehouse/approvals/statement-digest/v1';

/** The digest key, derived from the masking key so that neither use can stand in for the other. */
export function deriveApprovalDigestKey(master: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', master).update(LABEL).digest());
}

/** HMAC-SHA256 (hex) under the digest key of the RFC 8785 canonical JSON of approval id, session, connection, SQL, params and requester. */
export function approvalDigest(key: Uint8Array, s: BoundStatement): string {
  if (!(key instanceof Uint8Array) || key.byteLength < 16) throw new TypeError('approval digest: the key must be at least 16 bytes');
  // Issuer and subject, not email: the subject is what the issuer vouches for as the identity;
  // an email can be shared between issuers (and is checked separately for self-approval).
  if (typeof s.approvalId !== 'string' || s.approvalId === '' || typeof s.sessionId !== 'string' || s.sessionId === '') {
    throw new TypeError('approval digest: the approval id and the requesting session are required');
  }
  const canonical = canonicalize({
    approvalId: s.approvalId,
    sessionId: s.sessionId,
    connection: s.connection,
    sql: s.sql,
    params: s.params,
    requester: { issuer: s.requester.issuer, subject: s.requester.subject },
  });
  if (canonical === undefined) throw new TypeError('approval digest: statement is not JSON-serialisable');
  return createHmac('sha256', key).update(canonical, 'utf8').digest('hex');
}
