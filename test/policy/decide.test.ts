import { createHash } from 'node:crypto';
import test from 'ava';
import { decide, parsePolicy, type Policy } from '../../shared/policy/index.ts';
import type { RiskClass } from '../../shared/sql/analysis.ts';
import { BASE, edit, policyWithRules, principal } from './fixtures.ts';

const bot = principal({ subject: 'bot-1', email: 'bot@acme.com', groups: ['bots'] });
const alice = principal({ subject: 'alice-1', email: 'alice@acme.com', groups: ['dba'] });
const stranger = principal({ subject: 'x-1', email: 'x@elsewhere.com' });

function analysis(cls: RiskClass, kind = 'SELECT', reasons: string[] = []) {
  return { class: cls, kind, reasons };
}

function run(policy: Policy, who = bot, cls: RiskClass = 'read', connection = 'demo') {
  return decide(policy, { principal: who, connection, analysis: analysis(cls) });
}

const twoRules = `  - name: bots-read
    principals: [group:bots]
    classes: [read]
    action: allow
  - name: nothing-else
    action: deny`;

test('first match wins', (t) => {
  const p = policyWithRules(twoRules);
  t.like(run(p, bot, 'read'), { action: 'allow', rule: 'bots-read' });
  t.like(run(p, bot, 'write'), { action: 'deny', rule: 'nothing-else' });
  t.like(run(p, alice, 'read'), { action: 'deny', rule: 'nothing-else' });
});

test('order matters: swapping two rules changes the decision', (t) => {
  const allowBots = '  - name: allow-bots\n    principals: [group:bots]\n    action: allow\n';
  const denyDestructive = '  - name: deny-destructive\n    classes: [destructive]\n    action: deny\n';
  t.like(run(policyWithRules(allowBots + denyDestructive), bot, 'destructive'), { action: 'allow', rule: 'allow-bots' });
  t.like(run(policyWithRules(denyDestructive + allowBots), bot, 'destructive'), { action: 'deny', rule: 'deny-destructive' });
});

test('no match denies with rule null', (t) => {
  const p = policyWithRules('  - name: bots-read\n    principals: [group:bots]\n    action: allow');
  const d = decide(p, { principal: stranger, connection: 'demo', analysis: analysis('read', 'SELECT', ['reads public.orders']) });
  t.deepEqual(d, {
    action: 'deny',
    rule: null,
    reasons: ['no rule matched (default deny)', 'reads public.orders'],
    policySha256: p.sha256,
  });
});

test('reasons say which rule decided and why, then the analysis reasons', (t) => {
  const p = policyWithRules(twoRules);
  const d = decide(p, { principal: bot, connection: 'demo', analysis: analysis('destructive', 'DROP TABLE', ['drops public.orders']) });
  t.deepEqual(d.reasons, ['rule "nothing-else" denies class destructive (DROP TABLE)', 'drops public.orders']);
  const allowed = decide(p, { principal: bot, connection: 'demo', analysis: analysis('read') });
  t.is(allowed.reasons[0], 'rule "bots-read" allows class read (SELECT) for group:bots');
});

test('principals: group, email, subject and "*"', (t) => {
  const rule = (principals: string) => policyWithRules(`  - name: r\n    principals: [${principals}]\n    action: allow`);
  t.like(run(rule('group:bots'), bot), { action: 'allow' });
  t.like(run(rule('group:bots'), alice), { action: 'deny', rule: null });
  t.like(run(rule('email:alice@acme.com'), alice), { action: 'allow' });
  t.like(run(rule('email:alice@acme.com'), bot), { action: 'deny', rule: null });
  t.like(run(rule('subject:bot-1'), bot), { action: 'allow' });
  t.like(run(rule('subject:bot-1'), principal({ subject: 'bot-10' })), { action: 'deny', rule: null });
  t.like(run(rule('"*"'), stranger), { action: 'allow' });
  t.like(run(rule('subject:nobody, group:dba'), alice), { action: 'allow' });
});

test('email comparison folds the domain always, the local part only for known providers (a grant)', (t) => {
  const p = policyWithRules('  - name: r\n    principals: [email:alice@ACME.com]\n    action: allow');
  t.like(run(p, principal({ email: 'alice@acme.COM' })), { action: 'allow', rule: 'r' });
  t.like(run(p, principal({ email: 'Alice@acme.com' })), { action: 'deny', rule: null }, 'acme.com may tell Alice from alice');
  const g = policyWithRules('  - name: r\n    principals: [email:Alice.Smith@GMAIL.com, email:Build@proj.iam.gserviceaccount.com]\n    action: allow');
  t.like(run(g, principal({ email: 'alice.smith@gmail.com' })), { action: 'allow', rule: 'r' });
  t.like(run(g, principal({ email: 'build@proj.iam.gserviceaccount.com' })), { action: 'allow', rule: 'r' });
  t.like(run(g, principal({ email: 'ａｌｉｃｅ.smith@gmail.com' })), { action: 'allow', rule: 'r' }, 'compared after NFKC (a token with it is refused before)');
});

test('a principal without an email does not match email:', (t) => {
  const p = policyWithRules('  - name: r\n    principals: [email:alice@acme.com]\n    action: allow');
  t.like(run(p, principal({ subject: 'alice@acme.com' })), { action: 'deny', rule: null });
});

test('subjects compare exactly', (t) => {
  const p = policyWithRules('  - name: r\n    principals: [subject:Bot-1]\n    action: allow');
  t.like(run(p, principal({ subject: 'bot-1' })), { action: 'deny', rule: null });
});

test('connection filter', (t) => {
  const p = policyWithRules('  - name: demo-only\n    connections: [demo]\n    action: allow');
  t.like(run(p, bot, 'read', 'demo'), { action: 'allow', rule: 'demo-only' });
  t.like(run(p, bot, 'read', 'prod'), { action: 'deny', rule: null });
  t.is(run(p, bot, 'read', 'demo').reasons[0], 'rule "demo-only" allows class read (SELECT) on connection demo');
});

test('a connection the policy does not define is denied, even by a rule without a connection filter', (t) => {
  const p = policyWithRules('  - name: everything\n    action: allow');
  for (const name of ['staging', '__proto__', 'constructor']) {
    t.like(run(p, bot, 'read', name), { action: 'deny', rule: null }, name);
  }
  t.regex(run(p, bot, 'read', 'staging').reasons[0]!, /^connection "staging" is not defined in the policy/);
});

test('class filter', (t) => {
  const p = policyWithRules('  - name: reads\n    classes: [read, session]\n    action: allow');
  t.like(run(p, bot, 'read'), { action: 'allow' });
  t.like(run(p, bot, 'session'), { action: 'allow' });
  for (const cls of ['write', 'destructive', 'ddl', 'privilege', 'unknown'] as const) {
    t.like(run(p, bot, cls), { action: 'deny', rule: null }, cls);
  }
});

test('approve decisions carry approvers, quorum and ttlMs (defaults: quorum 1, ttl 30m)', (t) => {
  const p = policyWithRules(`  - name: explicit
    classes: [ddl]
    action: approve
    approvers: [group:dba, email:carol@acme.com]
    quorum: 2
    ttl: 2d
  - name: defaults
    classes: [write]
    action: approve
    approvers: [group:dba]`);
  t.deepEqual(run(p, bot, 'ddl'), {
    action: 'approve',
    rule: 'explicit',
    reasons: ['rule "explicit" requires approval for class ddl (SELECT)', 'needs 2 approval(s) from group:dba, email:carol@acme.com within 2d'],
    policySha256: p.sha256,
    approvers: ['group:dba', 'email:carol@acme.com'],
    quorum: 2,
    ttlMs: 2 * 86_400_000,
  });
  t.like(run(p, bot, 'write'), { action: 'approve', rule: 'defaults', approvers: ['group:dba'], quorum: 1, ttlMs: 30 * 60_000 });
  t.false('approvers' in run(p, bot, 'read'));
});

test('every decision carries the policy sha256, which changes when the file changes by one byte', (t) => {
  const text = edit(BASE, 'nothing-else\n    action: deny\n', 'nothing-else\n    action: deny\n# v1\n');
  const oneByteOff = edit(BASE, 'nothing-else\n    action: deny\n', 'nothing-else\n    action: deny\n# v2\n');
  const a = parsePolicy(text, 'p.yaml');
  const b = parsePolicy(oneByteOff, 'p.yaml');
  t.is(a.sha256, createHash('sha256').update(text).digest('hex'));
  t.not(a.sha256, b.sha256);
  const cases = [
    [bot, 'read'], // allow
    [bot, 'write'], // approve
    [bot, 'ddl'], // deny by rule
  ] as const;
  for (const [who, cls] of cases) {
    t.is(run(a, who, cls).policySha256, a.sha256);
    t.is(run(b, who, cls).policySha256, b.sha256);
  }
  t.is(run(a, bot, 'read', 'nowhere').policySha256, a.sha256);
  const noMatch = policyWithRules('  - name: r\n    principals: [group:dba]\n    action: allow');
  t.is(run(noMatch, bot).policySha256, noMatch.sha256);
});

test('a loaded policy cannot be changed by the code holding it', (t) => {
  const p = parsePolicy(BASE, 'p.yaml');
  t.throws(() => {
    (p.rules as unknown as unknown[]).unshift({ name: 'sneaky', action: 'allow' });
  });
  t.throws(() => {
    (p.rules[2] as { action: string }).action = 'allow';
  });
  t.like(run(p, stranger, 'destructive'), { action: 'deny', rule: 'nothing-else' });
});
