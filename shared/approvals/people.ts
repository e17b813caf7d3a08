// Who may decide, and when two identities are one person. Self-approval is the attack this guards
// against: a bot (or a person) that can mint a token under a second trusted issuer must not
// approve its own statement there, so the same email under another issuer is the same person.
import type { Principal } from '../identity/principal.ts';
import { normalForm, possiblySameEmail, subjectKey } from '../identity/normalise.ts';
import { principalMatches } from '../policy/index.ts';
import type { Person, Requester } from './types.ts';

export function personOf(p: Principal | Person): Person {
  return p.email === undefined ? { issuer: p.issuer, subject: p.subject } : { issuer: p.issuer, subject: p.subject, email: p.email };
}

export function requesterOf(p: Principal): Requester {
  return { ...personOf(p), groups: [...p.groups] };
}

/**
 * Same issuer and subject, or the same email under any issuer (an email-shaped subject counts as
 * one) — compared after normalisation, and
 * on the refusal side (shared/identity/normalise.ts): `alice@acme.com`, `Alice@ACME.com`,
 * `ａｌｉｃｅ@acme.com` and `"alice@acme.com "` are one person, who cannot approve her own request
 * or make a quorum of two. Records written before normalisation existed compare the same way.
 */
export function samePerson(a: Person, b: Person): boolean {
  if (samePrincipal(a, b)) return true;
  const theirs = mailboxesOf(b);
  return mailboxesOf(a).some((x) => theirs.some((y) => possiblySameEmail(x, y)));
}

/**
 * The addresses that name a person: the verified email, and a subject that is an email address
 * (the dev issuer's, and many JWKS issuers'), also as a `mailto:` or `acct:` URI. Attack review of issue 14: a second issuer's token
 * with `sub: alice@acme.com` and no email claim counted as someone other than alice.
 */
function mailboxesOf(p: Person): string[] {
  const out = p.email === undefined ? [] : [p.email];
  // A `mailto:` or `acct:` URI (RFC 6068, RFC 7565) names the address after it: `sub:
  // mailto:alice@acme.com` under a second issuer counted as someone other than alice (attack review).
  const subject = p.subject.replace(/^(?:mailto|acct):/i, '');
  if (/^[^@\s]+@[^@\s]+$/.test(subject)) out.push(subject);
  return out;
}

/** Same issuer and subject after normalisation: one credential holder (session and approval visibility). */
export function samePrincipal(a: Pick<Person, 'issuer' | 'subject'>, b: Pick<Person, 'issuer' | 'subject'>): boolean {
  return normalForm(a.issuer) === normalForm(b.issuer) && subjectKey(a.subject) === subjectKey(b.subject);
}

/** The approver pattern the principal matches, or undefined. `*` never appears (the schema refuses it). */
export function matchingApprover(approvers: readonly string[], principal: Principal): string | undefined {
  return approvers.find((pattern) => pattern !== '*' && principalMatches(pattern, principal));
}

/** A short, readable name for messages: the email when there is one, else issuer and subject. */
export function displayName(p: Person): string {
  return p.email ?? `${p.subject} (${p.issuer})`;
}
