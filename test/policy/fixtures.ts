// Shared by the policy tests (not a test file itself: ava runs only *.test.ts).
import { isGatehouseError } from '../../shared/errors.ts';
import type { Principal } from '../../shared/identity/principal.ts';
import { parsePolicy, type PolicyProblem } from '../../shared/policy/index.ts';

/** A valid policy whose line numbers the mistake tests rely on: edit it line for line. */
export const BASE = `version: 1
issuers:
  - issuer: http://127.0.0.1:8080/dev
    audience: gatehouse-local
    jwksUri: http://127.0.0.1:8080/dev/jwks.json
groups:
  bots: [bot@acme.com]
  dba: [alice@acme.com, bob@acme.com]
connections:
  demo:
    credentials: embedded://demo
rules:
  - name: bots-read
    principals: [group:bots]
    classes: [read]
    action: allow
  - name: bots-write
    principals: [group:bots]
    classes: [write]
    action: approve
    approvers: [group:dba]
  - name: nothing-else
    action: deny
`;

/** Replaces text that must occur exactly once, so an edit can never land somewhere unexpected. */
export function edit(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`expected exactly one ${JSON.stringify(from)}`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** The problems parsePolicy reports for `text`, with its full error message. */
export function problemsOf(text: string, source = 'policy.yaml'): { problems: PolicyProblem[]; message: string } {
  try {
    parsePolicy(text, source);
  } catch (e) {
    if (!isGatehouseError(e, 'policy_invalid')) throw e;
    return { problems: (e.details?.['problems'] ?? []) as PolicyProblem[], message: e.message };
  }
  throw new Error('expected the policy to be refused');
}

/** A policy with BASE's issuers, groups and connections (plus `prod`) and the given rules block. */
export function policyWithRules(rules: string, extra = '') {
  return parsePolicy(
    `version: 1
issuers:
  - issuer: https://accounts.google.com
    audience: gatehouse
groups:
  bots: [bot@acme.com]
  dba: [alice@acme.com]
connections:
  demo: { credentials: embedded://demo }
  prod: { credentials: env://PROD_URL }
rules:
${rules}
${extra}`,
    'test.yaml',
  );
}

export function principal(p: Partial<Principal> = {}): Principal {
  return { issuer: 'https://accounts.google.com', subject: '1001', groups: [], ...p };
}
