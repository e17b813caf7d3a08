import { z } from 'zod';
import { RISK_CLASSES } from '../sql/analysis.ts';
import { normalizeSignature } from '../sql/routines.ts';
import type { MaskStrategy, Policy, Rule, RuleAction } from './types.ts';
import { subjectPattern } from './subject-pattern.ts';
import { isEmailAddress } from '../identity/normalise.ts';

// The shape of gatehouse.policy.yaml (docs/design.md#policy-file). Every object is strict so that a typo such as
// `clases:` is an error instead of a filter silently dropped (which would widen a rule).

export const GOOGLE_ISSUER = 'https://accounts.google.com';
export const RULE_ACTIONS = ['allow', 'deny', 'approve'] as const satisfies readonly RuleAction[];
export const MASK_STRATEGIES = ['redact', 'null', 'last4', 'email', 'hash'] as const satisfies readonly MaskStrategy[];
export const DETECTORS = ['email', 'card', 'ssn', 'phone', 'iban', 'secret'] as const;
export const DEFAULT_APPROVAL_TTL_MS = 30 * 60_000;
/** Model strings come from an untrusted header; patterns obey the same bounds. */
export const MAX_MODEL_LENGTH = 200;
// An approval is a standing permission to run one statement; a week is already generous.
const MAX_TTL_MS = 7 * 86_400_000;

/** The policy as the file states it, defaults filled in; `sha256` and `source` come from the loader. */
export type PolicyFile = Omit<Policy, 'sha256' | 'source'>;

/** One thing wrong with the file, located by its path in the YAML tree. */
export interface SchemaProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const NAME_RULE = 'letters, digits, ".", "_" or "-", starting with a letter or digit (at most 63)';
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,189}$/;
const SUBJECT = /^[\x21-\x7e]{1,255}$/;
const PRINTABLE = /^[\x20-\x7e]+$/;
const IDENT = '[A-Za-z_][A-Za-z0-9_$]*';
const COLUMN = new RegExp(`^${IDENT}\\.${IDENT}\\.${IDENT}$`);
const DURATION = /^([1-9][0-9]{0,6})(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const CREDENTIALS = [
  /^embedded:\/\/[A-Za-z0-9_-]+$/,
  /^env:\/\/[A-Za-z_][A-Za-z0-9_]*$/,
  /^secret:\/\/projects\/[A-Za-z0-9._-]+\/secrets\/[A-Za-z0-9_-]+\/versions\/(latest|[1-9][0-9]*)$/,
];

/** A strict object whose unknown-key message lists what the mapping does accept. */
function strict<T extends z.core.$ZodLooseShape>(shape: T) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown field (allowed here: ${allowed})` : undefined),
  });
}

// Plain http would let anyone on the path swap the signing keys, so only loopback may use it.
function isTrustedUrl(s: string): boolean {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}
const trustedUrl = z.string().refine(isTrustedUrl, 'must be an https:// URL (http:// only on 127.0.0.1, localhost or [::1])');

export function isPrincipalPattern(s: string, allowAnyone: boolean): boolean {
  if (s === '*') return allowAnyone;
  const colon = s.indexOf(':');
  if (colon < 0) return false;
  const kind = s.slice(0, colon);
  const value = s.slice(colon + 1);
  if (kind === 'group') return NAME.test(value);
  if (kind === 'email') return EMAIL.test(value) && isEmailAddress(value);
  if (kind === 'subject') return SUBJECT.test(value);
  return false;
}

const principal = z
  .string()
  .refine((s) => isPrincipalPattern(s, true), 'must be group:NAME, email:ADDR, subject:SUB or "*"');
// "*" among approvers would let any verified caller, the requesting bot included, approve.
const approver = z
  .string()
  .refine((s) => isPrincipalPattern(s, false), 'must be group:NAME, email:ADDR or subject:SUB ("*" is not allowed for approvers)');

const duration = z
  .string({ error: 'must be a duration such as 90s, 30m, 1h or 2d' })
  .regex(DURATION, 'must be a duration such as 90s, 30m, 1h or 2d')
  .transform((s) => {
    const [, n, unit] = DURATION.exec(s) as unknown as [string, string, keyof typeof UNIT_MS];
    return Number(n) * UNIT_MS[unit];
  })
  .refine((ms) => ms <= MAX_TTL_MS, 'must be at most 7d');

// A byte size: a whole number of bytes, or a number with a unit (`4MiB`, `512KiB`, `1GB`). Zero,
// negatives and anything else are refused: a zero budget would truncate every answer silently.
const SIZE = /^([0-9]+(?:\.[0-9]+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)$/;
const SIZE_UNIT: Readonly<Record<string, number>> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
const SIZE_RULE = 'must be a positive size: bytes, or a number with B, KiB, MiB, GiB, KB, MB or GB (e.g. 4MiB)';
const MAX_SIZE = 1024 ** 3; // PostgreSQL's own limit on one value; a budget above it means nothing
const byteSize = z
  .union([z.number(), z.string()], { error: SIZE_RULE })
  .transform((v, ctx) => {
    let bytes: number;
    if (typeof v === 'number') bytes = v;
    else {
      const m = SIZE.exec(v.trim());
      bytes = m ? Math.floor(Number(m[1]) * SIZE_UNIT[m[2]!]!) : Number.NaN;
    }
    if (!Number.isInteger(bytes) || bytes < 1) {
      ctx.addIssue({ code: 'custom', message: SIZE_RULE });
      return z.NEVER;
    }
    if (bytes > MAX_SIZE) {
      ctx.addIssue({ code: 'custom', message: 'must be at most 1GiB' });
      return z.NEVER;
    }
    return bytes;
  });

// A list because one issuer can mint for several audiences that share a policy: on GCP, bots'
// tokens name the query function's URL, while `gcloud auth print-identity-token` names gcloud's
// OAuth client id. A tuple, so the type itself says a list is never empty.
const audienceList = z.tuple([z.string().min(1)], z.string().min(1)).superRefine((list, ctx) => {
  list.forEach((a, j) => {
    const first = list.indexOf(a);
    if (first !== j) ctx.addIssue({ code: 'custom', path: [j], message: `duplicate audience "${a}" (also audience[${first}])` });
  });
});
const audience = z.union([z.string().min(1), audienceList], {
  // Only reached when neither shape fits; an empty list fails the tuple's first element.
  error: (iss) => {
    if (iss.input === undefined) return 'required';
    if (Array.isArray(iss.input) && iss.input.length === 0) return 'must not be empty';
    return 'must be a string or a list of strings';
  },
});

export const issuerSchema = strict({
  issuer: trustedUrl,
  audience,
  jwksUri: trustedUrl.optional(),
  groupsClaim: z.string().min(1).optional(),
  // The groups this issuer's groups claim may grant; required when more than one issuer is trusted
  // (crossCheck), so that no issuer grants another's groups or the policy's (attack review of issue 16).
  claimGroups: z.array(z.string().regex(NAME, `group names are ${NAME_RULE}`)).min(1).optional(),
  // `required` (default): the email counts only with email_verified: true. `trusted`: this issuer
  // vouches for every email it signs (an absent email_verified counts as true); never for Google.
  emailVerified: z.enum(['required', 'trusted']).optional(),
  authorizedParty: z.string().min(1).optional(),
  // Longest accepted exp − iat (default 24h, at most 7d): a long-lived token is a long-lived credential.
  maxTokenLifetime: duration.optional(),
  // Reuse of a verified token for at most this long (≤ 60s, never past its exp); default off. The
  // trade-off (docs/identity-cache.md): a key the issuer revokes is honoured until the entry expires.
  tokenCache: duration.refine((ms) => ms <= 60_000, 'must be at most 60s').optional(),
})
  .superRefine((i, ctx) => {
    if (i.jwksUri === undefined && i.issuer !== GOOGLE_ISSUER) {
      ctx.addIssue({ code: 'custom', path: ['jwksUri'], message: `required for every issuer but ${GOOGLE_ISSUER}` });
    }
    if (i.claimGroups !== undefined && i.groupsClaim === undefined) {
      ctx.addIssue({ code: 'custom', path: ['claimGroups'], message: 'only allowed with groupsClaim (the claim they are read from)' });
    }
    i.claimGroups?.forEach((g, j) => {
      const first = i.claimGroups!.indexOf(g);
      if (first !== j) ctx.addIssue({ code: 'custom', path: ['claimGroups', j], message: `duplicate group "${g}" (also claimGroups[${first}])` });
    });
    if (i.emailVerified === 'trusted' && i.issuer === GOOGLE_ISSUER) {
      ctx.addIssue({ code: 'custom', path: ['emailVerified'], message: 'cannot be trusted for Google: a Google account may carry an unverified address' });
    }
  })
  .transform(({ maxTokenLifetime, tokenCache, ...i }) => ({
    ...i,
    ...(maxTokenLifetime === undefined ? {} : { maxTokenLifetimeSec: Math.floor(maxTokenLifetime / 1000) }),
    ...(tokenCache === undefined ? {} : { tokenCacheSec: Math.floor(tokenCache / 1000) }),
  }));

export const groupsSchema = z.record(
  z.string().regex(NAME, `group names are ${NAME_RULE}`),
  // An address (shared/identity/normalise.ts isEmailAddress): a domain only a URL parser reads as
  // acme.com (`bob@acme.com#x`) names no one, and would match no token.
  z.array(z.string().regex(EMAIL, 'must be an email address').refine(isEmailAddress, 'must be an email address (a plain local part @ a DNS name)')),
);

export const connectionSchema = strict({
  credentials: z
    .string()
    .refine(
      (s) => CREDENTIALS.some((re) => re.test(s)),
      // Never echo the value: a mistake here is often a literal connection string with a password.
      'must be embedded://NAME, env://VAR or secret://projects/P/secrets/S/versions/V (never the connection string itself)',
    ),
  maxRows: z.int().positive().default(1000),
  statementTimeoutMs: z.int().positive().default(5000),
  // Bytes of cell text an answer may carry, and of one cell (docs/outcomes.md, "Byte budgets").
  maxResultBytes: byteSize.default(4 * 1024 * 1024),
  maxCellBytes: byteSize.default(1024 * 1024),
}).superRefine((c, ctx) => {
  if (c.maxCellBytes > c.maxResultBytes) {
    ctx.addIssue({ code: 'custom', path: ['maxCellBytes'], message: `must not exceed maxResultBytes (${c.maxResultBytes} bytes)` });
  }
});

export const connectionsSchema = z
  .record(z.string().regex(NAME, `connection names are ${NAME_RULE}`), connectionSchema)
  .refine((c) => Object.keys(c).length > 0, 'must define at least one connection');

export const ruleSchema = strict({
  name: z.string().regex(NAME, `rule names are ${NAME_RULE}`),
  // An empty filter list would match nobody: almost certainly a mistake, so it is refused.
  principals: z.array(principal).min(1).optional(),
  connections: z.array(z.string().min(1)).min(1).optional(),
  classes: z.array(z.enum(RISK_CLASSES)).min(1).optional(),
  action: z.enum(RULE_ACTIONS),
  approvers: z.array(approver).min(1).optional(),
  quorum: z.int().min(1).optional(),
  ttl: duration.optional(),
})
  .superRefine((r, ctx) => {
    if (r.action === 'approve') {
      if (r.approvers === undefined) ctx.addIssue({ code: 'custom', path: ['approvers'], message: 'required when action is approve' });
      const individuals = r.approvers?.every((a) => !a.startsWith('group:')) ?? false;
      if (individuals && r.approvers && r.quorum !== undefined && r.quorum > r.approvers.length) {
        ctx.addIssue({
          code: 'custom',
          path: ['quorum'],
          message: `needs ${r.quorum} approvals but only ${r.approvers.length} approver(s) are listed`,
        });
      }
      return;
    }
    for (const field of ['approvers', 'quorum', 'ttl'] as const) {
      if (r[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'only allowed when action is approve' });
    }
  })
  .transform(({ ttl, ...r }): Rule => {
    const rule: { -readonly [K in keyof Rule]: Rule[K] } = { name: r.name, action: r.action };
    if (r.principals) rule.principals = r.principals;
    if (r.connections) rule.connections = r.connections;
    if (r.classes) rule.classes = r.classes;
    if (r.action === 'approve') {
      rule.approvers = r.approvers ?? [];
      rule.quorum = r.quorum ?? 1;
      rule.ttlMs = ttl ?? DEFAULT_APPROVAL_TTL_MS;
    }
    return rule;
  });

const maskingSchema = strict({
  columns: z.record(z.string().regex(COLUMN, 'must be schema.table.column'), z.enum(MASK_STRATEGIES)).default({}),
  derived: z.enum(['mask', 'deny']).default('mask'),
  predicates: z.enum(['allow', 'deny']).default('allow'),
  detectors: z.array(z.enum(DETECTORS)).default([]),
}).prefault({});

// A function the read allowlist does not know, vouched for by whoever writes the policy. The
// schema and the argument types are required: an entry names one function, never a same-named
// one planted in another schema or an overload added later.
const functionEntrySchema = strict({
  signature: z
    .string()
    .transform((s, ctx) => {
      const normal = normalizeSignature(s);
      if (normal === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be schema.name(argtype, …), e.g. public.full_name(customers) or public.tax(numeric, text)' });
        return z.NEVER;
      }
      return normal;
    }),
  class: z.literal('read'),
  reason: z.string().min(1).max(500).regex(PRINTABLE, 'must be printable ASCII'),
});

const functionsSchema = z.array(functionEntrySchema).default([]).superRefine((list, ctx) => {
  list.forEach((f, j) => {
    const first = list.findIndex((g) => g.signature === f.signature);
    if (first !== j) ctx.addIssue({ code: 'custom', path: [j, 'signature'], message: `duplicate function ${f.signature} (also functions[${first}])` });
  });
});

const agentsSchema = strict({
  requireModel: z.boolean().default(false),
  allowedModels: z
    .array(
      z.string().max(MAX_MODEL_LENGTH).regex(PRINTABLE, 'must be printable ASCII'),
    )
    .min(1)
    .default(['*']),
}).prefault({});

export const policyFileSchema = strict({
  version: z.literal(1),
  issuers: z.array(issuerSchema).min(1),
  groups: groupsSchema.default({}),
  connections: connectionsSchema,
  rules: z.array(ruleSchema).min(1),
  masking: maskingSchema,
  agents: agentsSchema,
  functions: functionsSchema,
});

// Zod's default wording talks about JavaScript types; people editing YAML think in mappings and lists.
const NOUNS: Record<string, string> = {
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
};

const messages: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type':
      return iss.input === undefined ? 'required' : `must be ${NOUNS[iss.expected] ?? iss.expected}`;
    case 'invalid_value':
      return iss.values.length === 1 ? `must be ${String(iss.values[0])}` : `must be one of ${iss.values.join(', ')}`;
    case 'too_small':
      if (iss.origin === 'array') return iss.minimum === 1 ? 'must not be empty' : `must list at least ${iss.minimum}`;
      if (iss.origin === 'string') return 'must not be empty';
      return iss.inclusive ? `must be at least ${iss.minimum}` : `must be greater than ${iss.minimum}`;
    case 'too_big':
      return iss.origin === 'string' ? `must be at most ${iss.maximum} characters` : `must be at most ${iss.maximum}`;
    case 'invalid_key':
      return iss.issues[0]?.message;
    default:
      return undefined;
  }
};

/** Checks the parsed YAML: shapes first, then what only the whole file can tell. */
export function validatePolicyFile(data: unknown):
  | { readonly ok: true; readonly value: PolicyFile }
  | { readonly ok: false; readonly problems: readonly SchemaProblem[] } {
  const parsed = policyFileSchema.safeParse(data, { error: messages });
  const problems: SchemaProblem[] = parsed.success ? [] : parsed.error.issues.flatMap(toProblems);
  problems.push(...crossCheck(data));
  if (problems.length > 0 || !parsed.success) return { ok: false, problems };
  return { ok: true, value: parsed.data };
}

function toProblems(iss: z.core.$ZodIssue): SchemaProblem[] {
  const path = iss.path.map((p) => (typeof p === 'number' ? p : String(p)));
  // One problem per unknown key, each at its own line.
  if (iss.code === 'unrecognized_keys') return iss.keys.map((k) => ({ path: [...path, k], message: iss.message }));
  return [{ path, message: iss.message }];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface IndexedRule {
  readonly index: number;
  readonly rule: Rule;
}

/**
 * The checks that span sections: references between rules, groups and connections, duplicate
 * names, and rules that can never match. Each runs on whichever sections are themselves valid, so
 * one mistake does not hide the others.
 */
/**
 * A `subject:` pattern must say whose subject it is when more than one issuer is trusted: a
 * subject is unique only within its issuer, and another trusted issuer could give the same `sub`
 * to someone else — who would then match the rule or count as that approver (attack review of
 * issue 14). `subject:ISSUER#SUB` names it, and the issuer must be one the policy trusts.
 */
function subjectIssuerProblem(value: string, issuers: readonly string[]): string | undefined {
  const { issuer } = subjectPattern(value);
  if (issuer !== undefined) return issuers.includes(issuer) ? undefined : `subject:${value} names issuer ${issuer}, which is not in issuers`;
  if (issuers.length > 1) return `subject:${value} names no issuer, and ${issuers.length} issuers are trusted (any of them may issue this subject to someone else): write subject:ISSUER#${value}`;
  return undefined;
}

function crossCheck(data: unknown): SchemaProblem[] {
  const root = isRecord(data) ? data : {};
  const groupsResult = groupsSchema.safeParse(root['groups'] === undefined ? {} : root['groups']);
  const groups = groupsResult.success ? new Set(Object.keys(groupsResult.data)) : undefined;
  const connectionsResult = connectionsSchema.safeParse(root['connections']);
  const connections = connectionsResult.success ? Object.keys(connectionsResult.data) : undefined;
  const rawRules = Array.isArray(root['rules']) ? (root['rules'] as unknown[]) : [];
  const rules: IndexedRule[] = [];
  rawRules.forEach((raw, index) => {
    const r = ruleSchema.safeParse(raw);
    if (r.success) rules.push({ index, rule: r.data });
  });

  const rawIssuers = Array.isArray(root['issuers']) ? (root['issuers'] as unknown[]) : [];
  const issuers = rawIssuers.flatMap((i) => (isRecord(i) && typeof i['issuer'] === 'string' ? [i['issuer']] : []));
  const problems: SchemaProblem[] = [];
  // With more than one issuer, a groups claim that may name any group lets each issuer grant the
  // others' groups — and the policy's own (attack review of issue 16): say which it may grant.
  if (rawIssuers.length > 1) {
    rawIssuers.forEach((i, index) => {
      if (isRecord(i) && i['groupsClaim'] !== undefined && i['claimGroups'] === undefined) {
        problems.push({ path: ['issuers', index, 'claimGroups'], message: `required with groupsClaim when ${rawIssuers.length} issuers are trusted: the groups this issuer's claim may grant (another issuer could otherwise grant them)` });
      }
    });
  }
  const firstByName = new Map<string, number>();
  for (const { index, rule } of rules) {
    const at = (...rest: (string | number)[]) => ['rules', index, ...rest];
    const first = firstByName.get(rule.name);
    if (first === undefined) firstByName.set(rule.name, index);
    else problems.push({ path: at('name'), message: `duplicate rule name "${rule.name}" (also rules[${first}])` });

    for (const field of ['principals', 'approvers'] as const) {
      rule[field]?.forEach((p, j) => {
        if (groups && p.startsWith('group:') && !groups.has(p.slice(6))) {
          problems.push({ path: at(field, j), message: `group "${p.slice(6)}" is not defined in groups` });
        }
        const subjectProblem = p.startsWith('subject:') ? subjectIssuerProblem(p.slice(8), issuers) : undefined;
        if (subjectProblem) problems.push({ path: at(field, j), message: subjectProblem });
      });
    }
    rule.connections?.forEach((c, j) => {
      if (connections && !connections.includes(c)) {
        problems.push({ path: at('connections', j), message: `connection "${c}" is not defined in connections` });
      }
    });

    const shadow = rules.find((earlier) => earlier.index < index && covers(earlier.rule, rule, connections));
    if (shadow) {
      const which = `rules[${shadow.index}] "${shadow.rule.name}"`;
      problems.push({
        path: at(),
        message: isCatchAll(shadow.rule, connections)
          ? `unreachable: ${which} above matches every request`
          : `unreachable: ${which} above matches every request this rule would`,
      });
    }
  }
  return problems;
}

/** `undefined` stands for "everything" (the filter is absent or lists every possible value). */
function effective(list: readonly string[] | undefined, universe: readonly string[] | undefined): Set<string> | undefined {
  if (list === undefined || list.includes('*')) return undefined;
  if (universe && universe.every((u) => list.includes(u))) return undefined;
  return new Set(list);
}

function normalisePrincipal(p: string): string {
  return p.startsWith('email:') ? p.toLowerCase() : p;
}

function includes(outer: Set<string> | undefined, inner: Set<string> | undefined): boolean {
  if (outer === undefined) return true;
  if (inner === undefined) return false;
  return [...inner].every((x) => outer.has(x));
}

// Syntactic coverage only: a group may gain members from a token's groups claim, so `group:dba`
// is never taken to cover `email:alice@…`. That keeps the check sound (no false alarms).
function covers(a: Rule, b: Rule, connections: readonly string[] | undefined): boolean {
  const principals = (r: Rule) => effective(r.principals?.map(normalisePrincipal), undefined);
  return (
    includes(principals(a), principals(b)) &&
    includes(effective(a.connections, connections), effective(b.connections, connections)) &&
    includes(effective(a.classes, RISK_CLASSES), effective(b.classes, RISK_CLASSES))
  );
}

function isCatchAll(r: Rule, connections: readonly string[] | undefined): boolean {
  return (
    effective(r.principals, undefined) === undefined &&
    effective(r.connections, connections) === undefined &&
    effective(r.classes, RISK_CLASSES) === undefined
  );
}
