import { normalForm, sameEmail, subjectKey } from '../identity/normalise.ts';
import type { Principal } from '../identity/principal.ts';
import type { Analysis } from '../sql/analysis.ts';
import { MAX_MODEL_LENGTH } from './schema.ts';
import { subjectPattern } from './subject-pattern.ts';
import type { Decision, Policy, Rule, RuleAction } from './types.ts';

export interface DecideInput {
  readonly principal: Principal;
  readonly connection: string;
  readonly analysis: Pick<Analysis, 'class' | 'kind' | 'reasons'>;
}

const VERB: Record<RuleAction, string> = { allow: 'allows', deny: 'denies', approve: 'requires approval for' };

/** First matching rule wins; no match, or a connection the policy does not define, denies. */
export function decide(policy: Policy, input: DecideInput): Decision {
  const { principal, connection, analysis } = input;
  const policySha256 = policy.sha256;
  // Object.hasOwn: the name comes from the request body, and `__proto__` is "in" every object.
  if (!Object.hasOwn(policy.connections, connection)) {
    return {
      action: 'deny',
      rule: null,
      reasons: [`connection ${quote(connection)} is not defined in the policy (default deny)`, ...analysis.reasons],
      policySha256,
    };
  }
  for (const rule of policy.rules) {
    const who = matchingPrincipal(rule, principal);
    if (who === undefined) continue;
    if (rule.connections && !rule.connections.includes(connection)) continue;
    if (rule.classes && !rule.classes.includes(analysis.class)) continue;

    let why = `rule "${rule.name}" ${VERB[rule.action]} class ${analysis.class} (${analysis.kind})`;
    if (rule.principals) why += ` for ${who}`;
    if (rule.connections) why += ` on connection ${connection}`;
    if (rule.action !== 'approve') {
      return { action: rule.action, rule: rule.name, reasons: [why, ...analysis.reasons], policySha256 };
    }
    const approvers = rule.approvers ?? [];
    const quorum = rule.quorum ?? 1;
    const ttlMs = rule.ttlMs ?? 0;
    const needs = `needs ${quorum} approval(s) from ${approvers.join(', ')} within ${formatDuration(ttlMs)}`;
    return { action: 'approve', rule: rule.name, reasons: [why, needs, ...analysis.reasons], policySha256, approvers, quorum, ttlMs };
  }
  return { action: 'deny', rule: null, reasons: ['no rule matched (default deny)', ...analysis.reasons], policySha256 };
}

/** The rule's principal pattern the caller matched (`*` when the rule has no filter), or undefined. */
function matchingPrincipal(rule: Rule, principal: Principal): string | undefined {
  if (rule.principals === undefined) return '*';
  return rule.principals.find((p) => principalMatches(p, principal));
}

export function principalMatches(pattern: string, principal: Principal): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('group:')) return principal.groups.includes(pattern.slice(6));
  if (pattern.startsWith('email:')) {
    // A grant: only the same mailbox by emailKey() (shared/identity/normalise.ts).
    return principal.email !== undefined && sameEmail(principal.email, pattern.slice(6));
  }
  if (pattern.startsWith('subject:')) {
    const { issuer, subject } = subjectPattern(pattern.slice(8));
    if (issuer !== undefined && normalForm(issuer) !== normalForm(principal.issuer)) return false;
    return subjectKey(principal.subject) === subjectKey(subject);
  }
  return false;
}


function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms / 1000}s`;
}

// Request-supplied text goes into reasons that are logged and returned: quoted and bounded.
function quote(s: string): string {
  return JSON.stringify(s.length > 100 ? `${s.slice(0, 100)}…` : s);
}

export type ModelCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: 'model_required' | 'model_not_allowed'; readonly reason: string };

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Checks the `X-Agent-Model` header against `agents`. The model string is untrusted. */
export function checkAgentModel(policy: Policy, model: string | undefined): ModelCheck {
  if (model === undefined || model === '') {
    return policy.agents.requireModel
      ? { ok: false, code: 'model_required', reason: 'the policy requires an X-Agent-Model header' }
      : { ok: true };
  }
  // Refused before matching, and never echoed: it would land in logs and answers verbatim.
  if (model.length > MAX_MODEL_LENGTH || !PRINTABLE_ASCII.test(model)) {
    return {
      ok: false,
      code: 'model_not_allowed',
      reason: `X-Agent-Model must be printable ASCII of at most ${MAX_MODEL_LENGTH} characters`,
    };
  }
  if (policy.agents.allowedModels.some((pattern) => globMatches(pattern, model))) return { ok: true };
  return { ok: false, code: 'model_not_allowed', reason: `model ${JSON.stringify(model)} is not allowed by the policy` };
}

/**
 * Anchored, case-sensitive glob: `*` any run of characters, `?` one character, everything else
 * literal. Matched by hand rather than through a RegExp so that `.` or `+` in a model name can
 * never act as regex syntax, and so that no pattern can backtrack exponentially.
 */
export function globMatches(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (pattern[p] === '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      p++;
      t++;
    } else if (star !== -1) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}
