// The approval is bound to exactly one statement from exactly one requester: this digest. A bot
// that changes a parameter, the SQL (even whitespace), the connection — or another bot presenting
// the id — computes a different one, and the approval does not apply.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Param, Person } from './types.ts';

export interface BoundStatement {
  readonly connection: string;
  readonly sql: string;
  readonly params: readonly Param[];
  readonly requester: Pick<Person, 'issuer' | 'subject'>;
}

/** sha256 (hex) of the RFC 8785 canonical JSON of connection, SQL, params and requester. */
export function approvalDigest(s: BoundStatement): string {
  // Issuer and subject, not email: the subject is what the issuer vouches for as the identity;
  // an email can be shared between issuers (and is checked separately for self-approval).
  const canonical = canonicalize({
    connection: s.connection,
    sql: s.sql,
    params: s.params,
    requester: { issuer: s.requester.issuer, subject: s.requester.subject },
  });
  if (canonical === undefined) throw new TypeError('approval digest: statement is not JSON-serialisable');
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}
