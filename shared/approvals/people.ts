// Who may decide, and when two identities are one person. Self-approval is the attack this guards
// against: a bot (or a person) that can mint a token under a second trusted issuer must not
// approve its own statement there, so the same email under another issuer is the same person.
import type { Principal } from '../identity/principal.ts';
import { principalMatches } from '../policy/index.ts';
import type { Person, Requester } from './types.ts';

export function personOf(p: Principal | Person): Person {
  return p.email === undefined ? { issuer: p.issuer, subject: p.subject } : { issuer: p.issuer, subject: p.subject, email: p.email };
}

export function requesterOf(p: Principal): Requester {
  return { ...personOf(p), groups: [...p.groups] };
}

/** Same issuer and subject, or the same (case-insensitive) email under any issuer. */
export function samePerson(a: Person, b: Person): boolean {
  if (a.issuer === b.issuer && a.subject === b.subject) return true;
  return a.email !== undefined && b.email !== undefined && a.email.toLowerCase() === b.email.toLowerCase();
}

/** The approver pattern the principal matches, or undefined. `*` never appears (the schema refuses it). */
export function matchingApprover(approvers: readonly string[], principal: Principal): string | undefined {
  return approvers.find((pattern) => pattern !== '*' && principalMatches(pattern, principal));
}

/** A short, readable name for messages: the email when there is one, else issuer and subject. */
export function displayName(p: Person): string {
  return p.email ?? `${p.subject} (${p.issuer})`;
}
