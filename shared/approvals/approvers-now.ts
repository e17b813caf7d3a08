// Whether the policy in force at redemption still admits the person who signed a vote (attack
// review of issues 4 and 14, fourth round). A vote is signed with the approver's groups as the
// desk saw them; a policy that has since taken bob out of `dba` (he left the team, his account is
// suspect) must not let his earlier vote run a statement. The policy's own `groups` are re-read
// here; groups an issuer's groups claim gave cannot be re-read without a new token, so a signed
// group the policy does not define is kept when that issuer still has a groups claim — and a group
// the policy does define is the policy's alone (a claim's membership of it is not kept: fail closed).
// A vote signed under the policy in force (same sha256) keeps its signed groups: nothing changed.
import { emailKey, normalForm } from '../identity/normalise.ts';
import { principalMatches } from '../policy/index.ts';
import type { Policy } from '../policy/types.ts';
import type { SignedVote } from './vote-signature.ts';

/** What of the policy in force decides who may approve. */
export type ApproverPolicy = Pick<Policy, 'issuers' | 'groups' | 'sha256'>;

/** The groups the policy in force gives the vote's signer, or undefined when their issuer is no longer trusted. */
export function groupsNow(policy: ApproverPolicy, approver: SignedVote['approver']): string[] | undefined {
  const issuer = policy.issuers.find((i) => normalForm(i.issuer) === approver.issuer);
  if (issuer === undefined) return undefined;
  const groups = new Set<string>();
  if (approver.email !== undefined) {
    const key = emailKey(approver.email);
    for (const [name, members] of Object.entries(policy.groups)) if (members.some((m) => emailKey(m) === key)) groups.add(name);
  }
  // A claim's group is kept only while the issuer in force may still grant it (claimGroups).
  if (issuer.groupsClaim !== undefined) {
    for (const g of approver.groups) if (!Object.hasOwn(policy.groups, g) && (issuer.claimGroups === undefined || issuer.claimGroups.includes(g))) groups.add(g);
  }
  return [...groups].sort();
}

/** True when one of the approver patterns in force admits the vote's signer under the policy in force. */
export function admittedNow(policy: ApproverPolicy, approvers: readonly string[], v: SignedVote): boolean {
  // Signed under this very policy: the signed groups are what it (and the token's claim) gave, so
  // nothing was revoked — and a claim's membership of a policy-defined group still counts.
  const groups = v.policySha256 === policy.sha256 ? [...v.approver.groups] : groupsNow(policy, v.approver);
  if (groups === undefined) return false;
  const { issuer, subject, email } = v.approver;
  const principal = { issuer, subject, ...(email === undefined ? {} : { email }), groups };
  return approvers.some((p) => p !== '*' && principalMatches(p, principal));
}
