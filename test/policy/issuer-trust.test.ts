// Attack review of issue 16, the policy side: with two trusted issuers, a groups claim that may
// name any group let either issuer grant the other's groups and the policy's own (dba, auditors);
// so each groupsClaim must list the groups it may grant (claimGroups). And `emailVerified` says
// whether an issuer's email needs email_verified: true — never `trusted` for Google.
import test from 'ava';
import { parsePolicy } from '../../shared/policy/index.ts';
import { groupsNow } from '../../shared/approvals/approvers-now.ts';
import { BASE, edit, problemsOf } from './fixtures.ts';

const DEV = '    jwksUri: http://127.0.0.1:8080/dev/jwks.json\n';
const TWO = 'https://login.other.example';
const withIssuers = (first: string, second: string) =>
  edit(BASE, DEV, `${DEV}${first}  - issuer: ${TWO}\n    audience: gatehouse-local\n    jwksUri: ${TWO}/jwks.json\n${second}`);

test('two issuers: a groupsClaim without claimGroups is refused, on each issuer that has one', (t) => {
  const { problems } = problemsOf(withIssuers('    groupsClaim: groups\n', '    groupsClaim: roles\n'));
  t.deepEqual(problems.map((p) => p.path), ['issuers[0].claimGroups', 'issuers[1].claimGroups']);
  t.regex(problems[0]!.message, /required with groupsClaim when 2 issuers are trusted/);
  t.deepEqual(problemsOf(withIssuers('', '    groupsClaim: groups\n')).problems.map((p) => p.path), ['issuers[1].claimGroups'], 'even when only the other one has a claim');
});

test('two issuers with claimGroups, and one issuer without: both load', (t) => {
  const p = parsePolicy(withIssuers('    groupsClaim: groups\n    claimGroups: [dba]\n', '    groupsClaim: groups\n    claimGroups: [bots]\n'), 'p.yaml');
  t.deepEqual(p.issuers.map((i) => i.claimGroups), [['dba'], ['bots']]);
  t.notThrows(() => parsePolicy(edit(BASE, DEV, `${DEV}    groupsClaim: groups\n`), 'p.yaml'));
});

test('claimGroups: group names, not empty, no duplicates, only with a groupsClaim', (t) => {
  const one = (lines: string) => problemsOf(edit(BASE, DEV, `${DEV}${lines}`)).problems;
  t.like(one('    claimGroups: [dba]\n'), [{ path: 'issuers[0].claimGroups', message: 'only allowed with groupsClaim (the claim they are read from)' }]);
  t.like(one('    groupsClaim: groups\n    claimGroups: []\n'), [{ path: 'issuers[0].claimGroups', message: 'must not be empty' }]);
  t.like(one('    groupsClaim: groups\n    claimGroups: [dba, dba]\n'), [{ path: 'issuers[0].claimGroups[1]' }]);
  t.like(one('    groupsClaim: groups\n    claimGroups: ["db a"]\n'), [{ path: 'issuers[0].claimGroups[0]' }]);
});

test('emailVerified: required or trusted; trusted is refused for Google', (t) => {
  const p = parsePolicy(edit(BASE, DEV, `${DEV}    emailVerified: trusted\n`), 'p.yaml');
  t.is(p.issuers[0]!.emailVerified, 'trusted');
  t.like(problemsOf(edit(BASE, DEV, `${DEV}    emailVerified: yes\n`)).problems, [{ path: 'issuers[0].emailVerified' }]);
  const google = edit(BASE, DEV, `${DEV}  - issuer: https://accounts.google.com\n    audience: x\n    emailVerified: trusted\n`);
  t.like(problemsOf(google).problems, [{ path: 'issuers[1].emailVerified', message: 'cannot be trusted for Google: a Google account may carry an unverified address' }]);
});

test('a vote\'s claim group is kept under a changed policy only while its issuer may still grant it', (t) => {
  const policy = (claimGroups: string) => ({ ...parsePolicy(edit(BASE, DEV, `${DEV}    groupsClaim: groups\n${claimGroups}`), 'p.yaml') });
  const approver = { issuer: 'http://127.0.0.1:8080/dev', subject: 'ops-1', groups: ['oncall', 'sre'] };
  t.deepEqual(groupsNow(policy(''), approver), ['oncall', 'sre']);
  t.deepEqual(groupsNow(policy('    claimGroups: [sre]\n'), approver), ['sre']);
});
