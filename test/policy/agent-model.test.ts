import test from 'ava';
import { checkAgentModel, globMatches } from '../../shared/policy/index.ts';
import { policyWithRules } from './fixtures.ts';

const RULES = '  - name: nothing-else\n    action: deny';

function agents(block: string) {
  return policyWithRules(RULES, `agents:\n${block}\n`);
}

test('a required model that is missing is refused with model_required', (t) => {
  const p = agents('  requireModel: true');
  t.deepEqual(checkAgentModel(p, undefined), { ok: false, code: 'model_required', reason: 'the policy requires an X-Agent-Model header' });
  t.like(checkAgentModel(p, ''), { ok: false, code: 'model_required' });
  t.deepEqual(checkAgentModel(p, 'gemini-2.5-pro-002'), { ok: true });
});

test('by default the model is optional and anything is allowed', (t) => {
  const p = policyWithRules(RULES);
  t.deepEqual(checkAgentModel(p, undefined), { ok: true });
  t.deepEqual(checkAgentModel(p, 'any-model/v1 (beta)'), { ok: true });
});

test('globs: * and ?, anchored and case-sensitive', (t) => {
  const p = agents('  allowedModels: [gemini-2.5-*, claude-?-opus]');
  t.deepEqual(checkAgentModel(p, 'gemini-2.5-pro-002'), { ok: true });
  t.deepEqual(checkAgentModel(p, 'gemini-2.0-flash'), {
    ok: false,
    code: 'model_not_allowed',
    reason: 'model "gemini-2.0-flash" is not allowed by the policy',
  });
  t.deepEqual(checkAgentModel(p, 'claude-4-opus'), { ok: true });
  t.like(checkAgentModel(p, 'claude-45-opus'), { ok: false, code: 'model_not_allowed' });
  t.like(checkAgentModel(p, 'Gemini-2.5-pro'), { ok: false, code: 'model_not_allowed' });
  t.like(checkAgentModel(p, 'x-gemini-2.5-pro'), { ok: false, code: 'model_not_allowed' });
  t.like(checkAgentModel(p, 'claude-4-opus-max'), { ok: false, code: 'model_not_allowed' });
});

test('regex metacharacters in patterns are literal', (t) => {
  const p = agents('  allowedModels: [gpt-4.1, "o(1)+", "[ab]", "^x$"]');
  t.deepEqual(checkAgentModel(p, 'gpt-4.1'), { ok: true });
  t.like(checkAgentModel(p, 'gpt-4x1'), { ok: false, code: 'model_not_allowed' });
  t.deepEqual(checkAgentModel(p, 'o(1)+'), { ok: true });
  t.like(checkAgentModel(p, 'o11'), { ok: false, code: 'model_not_allowed' });
  t.like(checkAgentModel(p, 'a'), { ok: false, code: 'model_not_allowed' });
  t.deepEqual(checkAgentModel(p, '^x$'), { ok: true });
  t.like(checkAgentModel(p, 'x'), { ok: false, code: 'model_not_allowed' });
});

test('over-long and non-printable models are refused, and not echoed', (t) => {
  const p = agents('  allowedModels: ["*"]');
  t.deepEqual(checkAgentModel(p, 'm'.repeat(200)), { ok: true });
  for (const model of ['m'.repeat(201), 'gemini\n', 'gemini\u0000pro', 'gémini', 'gemini\u202epro', 'tab\there']) {
    const r = checkAgentModel(p, model);
    t.like(r, { ok: false, code: 'model_not_allowed' }, JSON.stringify(model));
    t.false(!r.ok && r.reason.includes(model), 'the reason must not carry the untrusted string');
  }
});

test('allowedModels patterns are validated like models', (t) => {
  const err = t.throws(() => agents(`  allowedModels: ["${'x'.repeat(201)}"]`));
  t.regex(err?.message ?? '', /test\.yaml:\d+: agents\.allowedModels\[0\]: must be at most 200 characters/);
  t.throws(() => agents('  allowedModels: []'), { message: /agents\.allowedModels: must not be empty/ });
});

test('globMatches edge cases', (t) => {
  t.true(globMatches('*', ''));
  t.false(globMatches('?', ''));
  t.true(globMatches('a*b*c', 'aXXbYYc'));
  t.false(globMatches('a*b*c', 'aXXbYY'));
  t.true(globMatches('**', 'abc'));
  t.true(globMatches('a*', 'a*'));
  t.false(globMatches('a', 'a*'));
  t.true(globMatches('*-002', 'gemini-2.5-pro-002'));
  // No backtracking blow-up: this would take ages with a naive recursive or regex matcher.
  const started = process.hrtime.bigint();
  t.false(globMatches('a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(200)));
  t.true(process.hrtime.bigint() - started < 50_000_000n);
});
