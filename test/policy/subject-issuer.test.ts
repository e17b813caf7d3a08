// Attack review of issue 14: a subject is unique only within its issuer. With two trusted issuers,
// `subject:alice-1` matched whoever the second issuer called alice-1 — a rule's grant, or a vote
// as that approver. So a `subject:` pattern must name its issuer when more than one is trusted.
import test from 'ava';
import { decide, principalMatches } from '../../shared/policy/index.ts';
import { BASE, edit, principal, problemsOf } from './fixtures.ts';
import { parsePolicy } from '../../shared/policy/index.ts';

const ONE = 'http://127.0.0.1:8080/dev';
const TWO = 'https://login.other.example';
const twoIssuers = (rule: string) =>
  edit(
    edit(BASE, '    jwksUri: http://127.0.0.1:8080/dev/jwks.json\n', `    jwksUri: http://127.0.0.1:8080/dev/jwks.json\n  - issuer: ${TWO}\n    audience: gatehouse-local\n    jwksUri: ${TWO}/jwks.json\n`),
    '- name: bots-read\n    principals: [group:bots]',
    `- name: bots-read\n    principals: ["${rule}"]`,
  );

test('with two issuers, a subject: pattern that names no issuer is refused, in principals and approvers', (t) => {
  const { problems } = problemsOf(twoIssuers('subject:bot-1'));
  t.is(problems.length, 1);
  t.like(problems[0], { path: 'rules[0].principals[0]' });
  t.regex(problems[0]!.message, /names no issuer, and 2 issuers are trusted.*subject:ISSUER#bot-1/);
  const approvers = problemsOf(edit(twoIssuers(`subject:${ONE}#bot-1`), 'approvers: [group:dba]', 'approvers: [group:dba, "subject:alice-1"]')).problems;
  t.deepEqual(approvers.map((p) => p.path), ['rules[1].approvers[1]']);
});

test('subject:ISSUER#SUB must name a trusted issuer; then it parses (one issuer or two)', (t) => {
  t.regex(problemsOf(twoIssuers('subject:https://evil.example#bot-1')).problems[0]!.message, /names issuer https:\/\/evil\.example, which is not in issuers/);
  t.notThrows(() => parsePolicy(twoIssuers(`subject:${TWO}#bot-1`), 'p.yaml'));
  t.notThrows(() => parsePolicy(edit(BASE, '- name: bots-read\n    principals: [group:bots]', '- name: bots-read\n    principals: ["subject:bot-1"]'), 'p.yaml'), 'one issuer: a bare subject is unambiguous');
});

test('subject:ISSUER#SUB matches that issuer\'s subject only; a bare one (one issuer) any', (t) => {
  const fromOne = principal({ issuer: ONE, subject: 'bot-1' });
  const fromTwo = principal({ issuer: TWO, subject: 'bot-1' });
  t.true(principalMatches(`subject:${ONE}#bot-1`, fromOne));
  t.false(principalMatches(`subject:${ONE}#bot-1`, fromTwo), 'the other issuer\'s bot-1 is someone else');
  t.true(principalMatches(`subject:${TWO}#bot-1`, fromTwo));
  t.false(principalMatches(`subject:${ONE}#bot-2`, fromOne));
  t.true(principalMatches('subject:bot-1', fromTwo), 'bare: issuer-agnostic, which is why two issuers need the issuer');
  t.true(principalMatches('subject:user#1', principal({ issuer: ONE, subject: 'user#1' })), 'a # in a subject that is not after an issuer URL is part of the subject');
  const policy = parsePolicy(twoIssuers(`subject:${ONE}#bot-1`), 'p.yaml');
  const analysis = { class: 'read' as const, kind: 'SELECT', reasons: [] };
  t.like(decide(policy, { principal: fromOne, connection: 'demo', analysis }), { action: 'allow', rule: 'bots-read' });
  t.like(decide(policy, { principal: fromTwo, connection: 'demo', analysis }), { action: 'deny' });
});
