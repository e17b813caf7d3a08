import test from 'ava';
import { GatehouseError } from '../../shared/errors.ts';
import { parsePolicy } from '../../shared/policy/index.ts';
import { BASE, edit, problemsOf } from './fixtures.ts';

const CLASSES = 'read, write, destructive, ddl, privilege, session, unknown';

test('the base fixture is valid (so each test below shows one mistake)', (t) => {
  t.notThrows(() => parsePolicy(BASE, 'policy.yaml'));
});

test('the error is policy_invalid and its message names file, line and field', (t) => {
  const err = t.throws(() => parsePolicy(edit(BASE, 'classes: [read]', 'classes: [read, reed]'), 'gatehouse.policy.yaml'), {
    instanceOf: GatehouseError,
  });
  t.is(err?.code, 'policy_invalid');
  t.is(err?.message, `gatehouse.policy.yaml:15: rules[0].classes[1]: must be one of ${CLASSES}`);
  t.deepEqual(err?.details, { problems: [{ line: 15, path: 'rules[0].classes[1]', message: `must be one of ${CLASSES}` }] });
});

test('an unknown key (a typo) is an error, not a filter silently dropped', (t) => {
  const { problems } = problemsOf(edit(BASE, 'classes: [read]', 'clases: [read]'));
  t.is(problems.length, 1);
  t.like(problems[0], { line: 15, path: 'rules[0].clases' });
  t.regex(problems[0]!.message, /^unknown field \(allowed here: name, principals, connections, classes, action/);
});

test('an unknown top-level key', (t) => {
  const { problems } = problemsOf(`${BASE}polcy: 1\n`);
  t.like(problems, [{ line: 24, path: 'polcy' }]);
});

test('a bad action', (t) => {
  const { problems } = problemsOf(edit(BASE, 'action: allow', 'action: permit'));
  t.deepEqual(problems, [{ line: 16, path: 'rules[0].action', message: 'must be one of allow, deny, approve' }]);
});

test('missing rules', (t) => {
  const { problems } = problemsOf(BASE.slice(0, BASE.indexOf('rules:')));
  t.deepEqual(problems, [{ line: 1, path: 'rules', message: 'required' }]);
});

test('an empty rules list', (t) => {
  const { problems } = problemsOf(BASE.slice(0, BASE.indexOf('rules:')) + 'rules: []\n');
  t.deepEqual(problems, [{ line: 12, path: 'rules', message: 'must not be empty' }]);
});

test('a group a rule names must be defined', (t) => {
  const text = edit(BASE, '- name: bots-read\n    principals: [group:bots]', '- name: bots-read\n    principals: [group:robots]');
  t.deepEqual(problemsOf(text).problems, [
    { line: 14, path: 'rules[0].principals[0]', message: 'group "robots" is not defined in groups' },
  ]);
});

test('a group an approver names must be defined', (t) => {
  const { problems } = problemsOf(edit(BASE, 'approvers: [group:dba]', 'approvers: [group:dbas]'));
  t.deepEqual(problems, [{ line: 21, path: 'rules[1].approvers[0]', message: 'group "dbas" is not defined in groups' }]);
});

test('a connection a rule names must be defined', (t) => {
  const { problems } = problemsOf(edit(BASE, 'classes: [read]', 'connections: [prod]'));
  t.deepEqual(problems, [{ line: 15, path: 'rules[0].connections[0]', message: 'connection "prod" is not defined in connections' }]);
});

test('an approve rule needs approvers', (t) => {
  const { problems } = problemsOf(edit(BASE, '    approvers: [group:dba]\n', ''));
  t.deepEqual(problems, [{ line: 17, path: 'rules[1].approvers', message: 'required when action is approve' }]);
});

test('approvers, quorum and ttl belong to approve rules only', (t) => {
  const { problems } = problemsOf(edit(BASE, '    action: allow\n', '    action: allow\n    quorum: 2\n    ttl: 1h\n'));
  t.deepEqual(problems, [
    { line: 17, path: 'rules[0].quorum', message: 'only allowed when action is approve' },
    { line: 18, path: 'rules[0].ttl', message: 'only allowed when action is approve' },
  ]);
});

test('anyone ("*") cannot be an approver', (t) => {
  const { problems } = problemsOf(edit(BASE, 'approvers: [group:dba]', 'approvers: ["*"]'));
  t.like(problems, [{ line: 21, path: 'rules[1].approvers[0]' }]);
  t.regex(problems[0]!.message, /"\*" is not allowed for approvers/);
});

test('a quorum larger than the named approvers can never be met', (t) => {
  const { problems } = problemsOf(edit(BASE, 'approvers: [group:dba]', 'approvers: [email:alice@acme.com]\n    quorum: 2'));
  t.deepEqual(problems, [{ line: 22, path: 'rules[1].quorum', message: 'needs 2 approvals but only 1 approver(s) are listed' }]);
});

for (const ttl of ['30 minutes', '30', '0m', '1w', '-5m', '8d']) {
  test(`a bad ttl: ${ttl}`, (t) => {
    const { problems } = problemsOf(edit(BASE, 'approvers: [group:dba]', `approvers: [group:dba]\n    ttl: ${ttl}`));
    t.is(problems.length, 1);
    t.like(problems[0], { line: 22, path: 'rules[1].ttl' });
    t.regex(problems[0]!.message, ttl === '8d' ? /at most 7d/ : /must be a duration such as 90s, 30m, 1h or 2d/);
  });
}

test('ttl units: s, m, h, d', (t) => {
  for (const [ttl, ms] of [['90s', 90_000], ['30m', 1_800_000], ['1h', 3_600_000], ['2d', 172_800_000]] as const) {
    const p = parsePolicy(edit(BASE, 'approvers: [group:dba]', `approvers: [group:dba]\n    ttl: ${ttl}`), 'p.yaml');
    t.is(p.rules[1]?.ttlMs, ms);
  }
});

for (const credentials of ['postgres://gatehouse:hunter2@db.internal/prod', 'file:///etc/pg', 'secret://projects/p/secrets/s', 'env://1BAD']) {
  test(`bad credentials are refused without being echoed: ${credentials.slice(0, 12)}…`, (t) => {
    const { problems, message } = problemsOf(edit(BASE, 'credentials: embedded://demo', `credentials: ${credentials}`));
    t.like(problems, [{ line: 11, path: 'connections.demo.credentials' }]);
    t.regex(problems[0]!.message, /embedded:\/\/NAME, env:\/\/VAR or secret:\/\/projects\/P\/secrets\/S\/versions\/V/);
    t.false(message.includes(credentials));
  });
}

test('the three credential schemes are accepted', (t) => {
  const accepted = [
    'embedded://demo',
    'env://DATABASE_URL',
    'secret://projects/acme-prod/secrets/pg-url/versions/3',
    'secret://projects/acme-prod/secrets/pg-url/versions/latest',
  ];
  for (const credentials of accepted) {
    const text = edit(BASE, 'credentials: embedded://demo', `credentials: ${credentials}`);
    t.notThrows(() => parsePolicy(text, 'p.yaml'), credentials);
  }
});

test('connection limits default to 1000 rows and 5000 ms and must be positive integers', (t) => {
  t.like(parsePolicy(BASE, 'p.yaml').connections['demo'], { maxRows: 1000, statementTimeoutMs: 5000 });
  const { problems } = problemsOf(edit(BASE, 'credentials: embedded://demo', 'credentials: embedded://demo\n    maxRows: 0\n    statementTimeoutMs: 2.5'));
  t.deepEqual(problems, [
    { line: 12, path: 'connections.demo.maxRows', message: 'must be greater than 0' },
    { line: 13, path: 'connections.demo.statementTimeoutMs', message: 'must be an integer' },
  ]);
});

test('duplicate rule names', (t) => {
  const { problems } = problemsOf(edit(BASE, 'name: bots-write', 'name: bots-read'));
  t.deepEqual(problems, [{ line: 17, path: 'rules[1].name', message: 'duplicate rule name "bots-read" (also rules[0])' }]);
});

test('a rule after a catch-all rule is unreachable', (t) => {
  const { problems } = problemsOf(`${BASE}  - name: late\n    principals: [group:dba]\n    action: allow\n`);
  t.deepEqual(problems, [{ line: 24, path: 'rules[3]', message: 'unreachable: rules[2] "nothing-else" above matches every request' }]);
});

test('"*" principals make a catch-all too', (t) => {
  const text = edit(BASE, '  - name: bots-read\n', '  - name: everyone\n    principals: ["*"]\n    action: deny\n  - name: bots-read\n');
  const { problems } = problemsOf(text);
  t.deepEqual(
    problems.map((p) => [p.line, p.path]),
    [
      [16, 'rules[1]'],
      [20, 'rules[2]'],
      [25, 'rules[3]'],
    ],
  );
  t.true(problems.every((p) => p.message === 'unreachable: rules[0] "everyone" above matches every request'));
});

test('a rule fully covered by an earlier one is unreachable; a narrower rule before a broader one is fine', (t) => {
  const rule = (lines: string[]) => lines.map((l) => `${l}\n`).join('');
  const readDemo = rule(['  - name: bots-read-demo', '    principals: [group:bots]', '    connections: [demo]', '    classes: [read]', '    action: deny']);
  t.deepEqual(problemsOf(edit(BASE, '  - name: nothing-else\n', `${readDemo}  - name: nothing-else\n`)).problems, [
    { line: 22, path: 'rules[2]', message: 'unreachable: rules[0] "bots-read" above matches every request this rule would' },
  ]);

  const anyoneRead = rule(['  - name: staff-read', '    principals: [group:dba, group:bots]', '    classes: [read]', '    action: allow']);
  t.like(problemsOf(edit(BASE, '  - name: bots-read\n', `${anyoneRead}  - name: bots-read\n`)).problems, [
    { line: 17, path: 'rules[1]', message: 'unreachable: rules[0] "staff-read" above matches every request this rule would' },
  ]);

  const staffAll = rule(['  - name: staff-all', '    principals: [group:dba, group:bots]', '    action: allow']);
  t.notThrows(() => parsePolicy(edit(BASE, '  - name: nothing-else\n', `${staffAll}  - name: nothing-else\n`), 'p.yaml'));
});

test('a YAML syntax error, with its line', (t) => {
  const { problems } = problemsOf(edit(BASE, '    action: allow', '   action: allow'));
  t.is(problems[0]?.line, 16);
  t.is(problems[0]?.path, '');
  t.regex(problems[0]!.message, /^YAML: /);
});

test('a duplicate YAML key is an error, not "the last one wins"', (t) => {
  const { problems } = problemsOf(edit(BASE, '    action: deny\n', '    action: deny\n    action: allow\n'));
  t.like(problems, [{ line: 24, path: '' }]);
});

test('two YAML documents in one file', (t) => {
  const { problems } = problemsOf(`${BASE}---\nversion: 1\n`);
  t.like(problems, [{ line: 24, message: 'YAML: a policy file holds one document (remove the second ---)' }]);
});

test('a top level that is not a mapping', (t) => {
  for (const [text, line] of [['- version: 1\n', 1], ['# a list, by mistake\n\n- version: 1\n', 3], ['just words\n', 1]] as const) {
    t.deepEqual(problemsOf(text).problems, [{ line, path: '', message: 'the top level must be a mapping (version: 1, issuers: …, rules: …)' }]);
  }
});

test('an empty file, or one with only comments', (t) => {
  for (const text of ['', '\n\n', '# nothing yet\n']) {
    t.deepEqual(problemsOf(text, 'empty.yaml'), {
      problems: [{ line: 1, path: '', message: 'the file is empty (a policy needs version, issuers, connections and rules)' }],
      message: 'empty.yaml:1: the file is empty (a policy needs version, issuers, connections and rules)',
    });
  }
});

test('version must be 1', (t) => {
  t.deepEqual(problemsOf(edit(BASE, 'version: 1', 'version: 2')).problems, [{ line: 1, path: 'version', message: 'must be 1' }]);
  t.deepEqual(problemsOf(edit(BASE, 'version: 1', 'version: "1"')).problems, [{ line: 1, path: 'version', message: 'must be 1' }]);
});

test('issuers other than Google need a jwksUri, and http is for loopback only', (t) => {
  t.deepEqual(problemsOf(edit(BASE, '    jwksUri: http://127.0.0.1:8080/dev/jwks.json\n', '')).problems, [
    { line: 3, path: 'issuers[0].jwksUri', message: 'required for every issuer but https://accounts.google.com' },
  ]);
  const remote = edit(BASE, 'jwksUri: http://127.0.0.1:8080/dev/jwks.json', 'jwksUri: http://keys.example.com/jwks.json');
  t.like(problemsOf(remote).problems, [{ line: 5, path: 'issuers[0].jwksUri' }]);
});

const AUDIENCE = 'audience: gatehouse-local';
const GCLOUD = '32555940559.apps.googleusercontent.com';

test('audience may be a list, in flow or block style, and loads as written', (t) => {
  const flow = parsePolicy(edit(BASE, AUDIENCE, `audience: [gatehouse-local, "${GCLOUD}"]`), 'p.yaml');
  t.deepEqual(flow.issuers[0]?.audience, ['gatehouse-local', GCLOUD]);
  const block = parsePolicy(edit(BASE, AUDIENCE, `audience:\n      - gatehouse-local\n      - ${GCLOUD}`), 'p.yaml');
  t.deepEqual(block.issuers[0]?.audience, ['gatehouse-local', GCLOUD]);
  // One string stays one string: an existing policy loads exactly as before.
  t.is(parsePolicy(BASE, 'p.yaml').issuers[0]?.audience, 'gatehouse-local');
});

test('an empty audience list is refused at its line', (t) => {
  const err = t.throws(() => parsePolicy(edit(BASE, AUDIENCE, 'audience: []'), 'gatehouse.policy.yaml'), { instanceOf: GatehouseError });
  t.is(err?.code, 'policy_invalid');
  t.is(err?.message, 'gatehouse.policy.yaml:4: issuers[0].audience: must not be empty');
  t.deepEqual(err?.details, { problems: [{ line: 4, path: 'issuers[0].audience', message: 'must not be empty' }] });
});

test('an audience list with an empty entry is refused at that entry', (t) => {
  t.deepEqual(problemsOf(edit(BASE, AUDIENCE, 'audience: [gatehouse-local, ""]')).problems, [
    { line: 4, path: 'issuers[0].audience[1]', message: 'must not be empty' },
  ]);
  t.deepEqual(problemsOf(edit(BASE, AUDIENCE, 'audience:\n      - gatehouse-local\n      - ""')).problems, [
    { line: 6, path: 'issuers[0].audience[1]', message: 'must not be empty' },
  ]);
});

test('an audience listed twice is refused, naming the first', (t) => {
  t.deepEqual(problemsOf(edit(BASE, AUDIENCE, `audience: [gatehouse-local, ${GCLOUD}, gatehouse-local]`)).problems, [
    { line: 4, path: 'issuers[0].audience[2]', message: 'duplicate audience "gatehouse-local" (also audience[0])' },
  ]);
});

test('an audience that is neither a string nor a list of strings, or is missing', (t) => {
  for (const bad of ['audience: 42', 'audience: [gatehouse-local, 42]', 'audience: { a: b }', 'audience: [[gatehouse-local]]']) {
    t.deepEqual(problemsOf(edit(BASE, AUDIENCE, bad)).problems, [
      { line: 4, path: 'issuers[0].audience', message: 'must be a string or a list of strings' },
    ], bad);
  }
  t.deepEqual(problemsOf(edit(BASE, `    ${AUDIENCE}\n`, '')).problems, [{ line: 3, path: 'issuers[0].audience', message: 'required' }]);
  t.deepEqual(problemsOf(edit(BASE, AUDIENCE, 'audience: ""')).problems, [{ line: 4, path: 'issuers[0].audience', message: 'must not be empty' }]);
});

test('masking columns must be schema.table.column and strategies known', (t) => {
  const { problems } = problemsOf(`${BASE}masking:\n  columns:\n    customers.email: email\n    public.customers.ssn: shred\n  detectors: [email, dna]\n`);
  t.deepEqual(problems, [
    { line: 26, path: 'masking.columns["customers.email"]', message: 'must be schema.table.column' },
    { line: 27, path: 'masking.columns["public.customers.ssn"]', message: 'must be one of redact, null, last4, email, hash' },
    { line: 28, path: 'masking.detectors[1]', message: 'must be one of email, card, ssn, phone, iban, secret' },
  ]);
});

test('masking and agents default when omitted', (t) => {
  const p = parsePolicy(BASE, 'p.yaml');
  t.deepEqual(p.masking, { columns: {}, derived: 'mask', detectors: [], predicates: 'allow' });
  t.deepEqual(p.functions, []);
  t.deepEqual(p.agents, { requireModel: false, allowedModels: ['*'] });
  t.deepEqual(parsePolicy(`${BASE}masking: {}\nagents: {}\n`, 'p.yaml').agents, { requireModel: false, allowedModels: ['*'] });
});

test('several problems are reported together, in line order', (t) => {
  let text = edit(BASE, 'audience: gatehouse-local', 'audiense: gatehouse-local'); // line 4
  text = edit(text, 'credentials: embedded://demo', 'credentials: postgres://x'); // line 11
  text = edit(text, 'classes: [read]', 'classes: [reed]'); // line 15
  text = edit(text, 'name: bots-write', 'name: nothing-else'); // line 17, duplicate of line 22
  text = edit(text, '    action: deny\n', '    action: deny\nextra: true\n'); // line 24
  const { problems, message } = problemsOf(text);
  t.deepEqual(
    problems.map((p) => `${p.line} ${p.path}`),
    [
      '3 issuers[0].audience',
      '4 issuers[0].audiense',
      '11 connections.demo.credentials',
      '15 rules[0].classes[0]',
      '22 rules[2].name',
      '24 extra',
    ],
  );
  t.is(message.split('\n').length, problems.length);
  t.true(message.split('\n').every((l) => l.startsWith('policy.yaml:')));
});

test('principal patterns need a known prefix', (t) => {
  for (const bad of ['groupbots', 'group:', 'role:admin', 'email:not-an-address', 'subject:has space']) {
    const { problems } = problemsOf(edit(BASE, '- name: bots-read\n    principals: [group:bots]', `- name: bots-read\n    principals: ["${bad}"]`));
    t.deepEqual(problems, [{ line: 14, path: 'rules[0].principals[0]', message: 'must be group:NAME, email:ADDR, subject:SUB or "*"' }], bad);
  }
});

test('functions: a malformed entry stops the server with file:line: field: message', (t) => {
  const err = t.throws(() => parsePolicy(`${BASE}functions:\n  - signature: full_name(customers)\n    class: read\n    reason: pure\n`, 'p.yaml'), { instanceOf: GatehouseError });
  t.regex(err!.message, /^p\.yaml:25: functions\[0\]\.signature: must be schema\.name\(argtype, …\)/);
  // Only `read` can be granted; a reason is required; unknown fields are refused.
  t.like(problemsOf(`${BASE}functions:\n  - signature: public.f(int)\n    class: write\n    reason: x\n`).problems, [{ line: 26, path: 'functions[0].class', message: 'must be read' }]);
  t.like(problemsOf(`${BASE}functions:\n  - signature: public.f(int)\n    class: read\n`).problems, [{ path: 'functions[0].reason', message: 'required' }]);
  t.like(problemsOf(`${BASE}functions:\n  - signature: public.f(int)\n    class: read\n    reason: x\n    schema: y\n`).problems, [{ path: 'functions[0].schema' }]);
  // The same function twice, in two spellings of its argument type.
  t.like(problemsOf(`${BASE}functions:\n  - signature: public.f(int4)\n    class: read\n    reason: x\n  - signature: Public.F( integer )\n    class: read\n    reason: y\n`).problems, [
    { path: 'functions[1].signature', message: 'duplicate function public.f(integer) (also functions[0])' },
  ]);
});

test('functions: a valid entry is normalised; masking.predicates takes allow or deny only', (t) => {
  const policy = parsePolicy(`${BASE}functions:\n  - signature: " Public.Full_Name( customers, int4 ) "\n    class: read\n    reason: pure SQL over its row\n`, 'p.yaml');
  t.deepEqual(policy.functions, [{ signature: 'public.full_name(customers, integer)', class: 'read', reason: 'pure SQL over its row' }]);
  t.is(parsePolicy(BASE, 'p.yaml').masking.predicates, 'allow');
  t.like(problemsOf(`${BASE}masking:\n  predicates: maybe\n`).problems, [{ path: 'masking.predicates', message: 'must be one of allow, deny' }]);
});
