// One schema for every session event's `data` (issue 17 item 2): what each writer puts there and
// what every reader (gateway, approvals, reconcile, evidence, CLI, report) may take from it, by
// name. Writers build drafts with `eventDraft(type, data)`, typed by the schema at compile time
// (no parse on the hot path: the unit tests parse every writer's output). Readers take data with
// `dataOf(event, type)`, which parses against the schema and answers `undefined` for an event
// that does not fit it — never a guess between spellings, never a crash. `evidence verify`
// reports such an event as `event_schema` (shared/evidence/verify-session.ts).
//
// The schemas describe what writers produce, and are additive: objects keep fields they do not
// name (loose), so a newer writer's extra field does not make an older reader call the event
// malformed, and fields absent from older logs are optional. A field that IS present must have
// its documented type. The hash covers stored bytes, so old logs are never rewritten to fit.
import { z } from 'zod';
import type { EventDraft, EventType } from './events.ts';
import { compileCheck, type Check } from './schema-check.ts';

const text = z.string();
const count = z.number().int().nonnegative();
const ms = z.number().nonnegative();
// Plain arrays: `.readonly()` freezes every parsed array and doubled the cost of a parse (measured).
// Writers hand over readonly arrays; EventDataInput accepts them.
const list = <T extends z.ZodType>(item: T) => z.array(item);
/** A plain object whose every own value is a string or null. */
const nameMap = z.custom<Record<string, string | null>>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => x === null || typeof x === 'string'),
  'must map names to text or null',
);

/** A GatehouseError as recorded: its stable code and message (details spread beside them). */
const errorRecord = z.looseObject({ code: text, message: text.optional() });

/** The caller of a request (drafts.ts principalRecord). */
const principal = z.looseObject({
  issuer: text.optional(),
  subject: text.optional(),
  email: text.optional(),
  groups: list(text).optional(),
});

/** A person who voted (approvals/types.ts Person). */
const person = z.looseObject({ issuer: text, subject: text, email: text.optional() });

const column = z.looseObject({ name: text, type: text.optional(), tableID: z.number().optional(), columnID: z.number().optional() });

/** What a statement returned, as execution.result (and the pre-protocol execution.completed) record it. */
const result = z.looseObject({
  command: text.optional(),
  rowCount: count.optional(),
  truncated: z.boolean().optional(),
  truncatedBy: z.enum(['rows', 'bytes']).optional(),
  cellsOmitted: count.optional(),
  /** The target's transaction id for a write (reconciliation asks the target about it). */
  txid: text.nullable().optional(),
  durationMs: ms.optional(),
  columns: list(column).optional(),
  // Checked in place, not copied row by row: results are the largest events (and verify reads them all).
  rows: z.custom<unknown[][]>((v) => Array.isArray(v) && v.every((row) => Array.isArray(row)), 'rows must be an array of arrays').optional(),
  resultSha256: text.optional(),
  masking: list(z.unknown()).optional(),
  rawHmacSha256: text.optional(),
});

export const EVENT_DATA = {
  request: z.looseObject({
    endpoint: z.enum(['query', 'analyze', 'approve', 'reject', 'connections', 'describe_table']).optional(),
    principal: principal.optional(),
    agent: z.looseObject({ model: text.optional(), runId: text.optional(), traceparent: text.optional() }).optional(),
    connection: text.optional(),
    sql: text.optional(),
    params: list(z.unknown()).optional(),
    maxRows: count.optional(),
    /** A redemption: the approval this request presents. */
    approvalId: text.optional(),
    /** Refused before analysis: why. */
    rejected: errorRecord.optional(),
  }),
  analysis: z.looseObject({
    /** SQL that could not be analysed: the session ends here. */
    error: errorRecord.optional(),
    pgType: text.optional(),
    kind: text.optional(),
    class: text.optional(),
    reasons: list(text).optional(),
    tables: z.looseObject({ read: list(text), written: list(text) }).optional(),
    columns: list(text).optional(),
    functions: list(text).optional(),
    fingerprint: text.optional(),
  }),
  decision: z.looseObject({
    /** allow | deny | approve; any other value reads as denied (status.ts), so it stays text here. */
    action: text,
    rule: text.nullable().optional(),
    reasons: list(text).optional(),
    policySha256: text.optional(),
    approvers: list(text).optional(),
    quorum: count.optional(),
    ttlMs: ms.optional(),
    /** A redemption's decision (approvals/events.ts redeemedDecision / refusedRedemptionDecision). */
    approval: z
      .looseObject({
        id: text,
        sessionId: text.optional(),
        digest: text.optional(),
        grantedBy: list(person).optional(),
        error: errorRecord.optional(),
      })
      .optional(),
  }),
  'approval.requested': z.looseObject({
    approvalId: text,
    digest: text.optional(),
    rule: text.optional(),
    approvers: list(text).optional(),
    quorum: count.optional(),
    expiresAt: text.optional(),
    notification: z.looseObject({ state: text }).optional(),
    estimate: z.unknown().optional(),
    // What the statement's names resolved to when it was held (approvals/relations.ts). A name →
    // text-or-null map as a predicate, not z.record: the compiled check (schema-check.ts) takes
    // loose objects and predicates, and a record would give back another object than it was given.
    relations: z.looseObject({ relations: nameMap, routines: nameMap, searchPath: list(text).optional() }).optional(),
  }),
  'approval.granted': z.looseObject({
    approvalId: text,
    approver: person.optional(),
    comment: text.optional(),
    approvals: count.optional(),
    quorum: count.optional(),
    /** false while more approvals are needed. */
    quorumMet: z.boolean().optional(),
    state: text.optional(),
    /** The approval desk's signed vote and its signature: checked by approvals/vote-signature.ts, byte for byte. */
    vote: z.unknown().optional(),
    signature: z.unknown().optional(),
  }),
  'approval.rejected': z.looseObject({
    approvalId: text,
    approver: person.optional(),
    comment: text.optional(),
    state: text.optional(),
    vote: z.unknown().optional(),
    signature: z.unknown().optional(),
  }),
  'approval.redeemed': z.looseObject({ approvalId: text, sessionId: text }),
  'execution.started': z.looseObject({
    connection: text.optional(),
    readOnly: z.boolean().optional(),
    maxRows: count.optional(),
    statementTimeoutMs: ms.optional(),
    maxResultBytes: count.optional(),
    instanceId: text.optional(),
  }),
  'execution.result': result,
  'execution.committed': z.looseObject({}),
  'execution.rolled_back': z.looseObject({ reason: errorRecord.optional() }),
  'execution.abandoned': z.looseObject({
    outcome: z.enum(['committed', 'rolled_back', 'unknown']),
    basis: text.optional(),
    lastEvent: text.optional(),
    readOnly: z.boolean().optional(),
    txid: text.optional(),
    instanceId: text.optional(),
    reconciledBy: text.optional(),
  }),
  'execution.completed': result,
  'execution.failed': z.looseObject({ error: errorRecord.optional() }),
} as const satisfies Record<EventType, z.ZodType>;

/** The data of an event of type T, as readers get it from dataOf(). */
export type EventData<T extends EventType> = z.output<(typeof EVENT_DATA)[T]>;
/** What a writer may put in an event of type T (readonly arrays and objects welcome). */
export type EventDataInput<T extends EventType> = DeepReadonly<z.input<(typeof EVENT_DATA)[T]>>;

type DeepReadonly<T> = T extends (infer U)[] ? readonly DeepReadonly<U>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** A draft of type T whose data the compiler checked against the schema. */
export function eventDraft<T extends EventType>(type: T, data: EventDataInput<T>): EventDraft {
  return { type, data: data as Readonly<Record<string, unknown>> };
}

type Parsed = { readonly ok: true; readonly data: unknown } | { readonly ok: false; readonly issue: SchemaIssue };

/** Why an event does not fit the schema: a path into `data` and what is wrong there. */
export interface SchemaIssue {
  readonly field: string;
  readonly message: string;
}

// Events are read many times (listing, redemption, evidence); their data objects are not changed
// after reading, so one parse per object is enough.
const parsed = new WeakMap<object, { readonly type: string; readonly result: Parsed }>();

// Each schema as a plain type check (schema-check.ts): data that passes it is what zod would give
// back, without zod's copy. Data it is not sure of goes to zod, which decides and names the issue.
const FITS: Partial<Record<string, Check>> = {};
for (const [type, schema] of Object.entries(EVENT_DATA)) {
  try {
    FITS[type] = compileCheck(schema);
  } catch {
    // Not understood by the compiled check: zod alone decides for this type.
  }
}

function parse(type: string, data: unknown): Parsed {
  const schema = Object.hasOwn(EVENT_DATA, type) ? EVENT_DATA[type as EventType] : undefined;
  if (!schema) return { ok: false, issue: { field: 'type', message: `${JSON.stringify(type)} is not an event type` } };
  const cacheable = typeof data === 'object' && data !== null;
  // Data as JSON gives it (or a writer's literal): a plain object. One whose prototype is
  // something else could answer fields it does not hold, through inheritance.
  const proto: unknown = cacheable ? Object.getPrototypeOf(data) : undefined;
  if (cacheable && proto !== Object.prototype && proto !== null && !Array.isArray(data)) {
    return { ok: false, issue: { field: 'data', message: 'not a plain JSON object' } };
  }
  // Not cached: checking again costs less than a WeakMap lookup.
  if (FITS[type]?.(data)) return { ok: true, data };
  const hit = cacheable ? parsed.get(data) : undefined;
  if (hit && hit.type === type) return hit.result;
  const r = schema.safeParse(data);
  const out: Parsed = r.success
    ? { ok: true, data: r.data }
    : { ok: false, issue: { field: ['data', ...r.error.issues[0]!.path.map(String)].join('.'), message: r.error.issues[0]!.message } };
  if (cacheable) parsed.set(data, { type, result: out });
  return out;
}

/**
 * The event's data, typed, when the event is of `type` and fits its schema; otherwise undefined.
 * A reader treats undefined as "this event says nothing it can rely on" and fails closed.
 */
export function dataOf<T extends EventType>(event: { readonly type: string; readonly data: unknown }, type: T): EventData<T> | undefined {
  if (event.type !== type) return undefined;
  const p = parse(type, event.data);
  return p.ok ? (p.data as EventData<T>) : undefined;
}

/** Whether a stored event fits the schema of its type: undefined when it does, else why not. */
export function schemaIssue(event: { readonly type: string; readonly data: unknown }): SchemaIssue | undefined {
  const p = parse(event.type, event.data);
  return p.ok ? undefined : p.issue;
}
