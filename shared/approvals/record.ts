// A stored approval, checked on read (issue 14 hardening). The approval store is a cache that
// whoever holds the query path's UPDATE right can edit: a row rewritten to `{"id":"x"}`, `[]`, or
// a vote whose `by.subject` is a number would otherwise reach the listing, the review page and
// redemption as an `Approval` and crash them (a TypeError for every user of GET /v1/approvals) or
// be acted on in ways nobody defined. Every adapter reads records only through
// parseApprovalRecord: a row that does not fit is `approval_mismatch` with reason `row_malformed`
// — never acted on; listings leave it out.
//
// The schema is what the gateway writes (types.ts, state.ts openApproval), field by field. Objects
// are loose: a field a newer gateway adds must not make an older one refuse its rows during a
// rolling deploy. What is returned is the parsed JSON itself, not zod's copy, so an update writes
// back exactly what it read (unknown fields included).
import { z } from 'zod';
import { GatehouseError } from '../errors.ts';
import { RISK_CLASSES } from '../sql/analysis.ts';
import type { MismatchReason } from './logged.ts';
import { APPROVAL_STATES, type Approval } from './types.ts';

const text = z.string();
const nonEmpty = z.string().min(1);
// ISO-8601 date and time, as written by toISOString(), that Date.parse reads as a time: expiry,
// claims and backoff are compared as numbers, and NaN would compare false everywhere (an approval
// that never expires). Date.parse alone would take "1" (the year 2001).
const timestamp = z.iso.datetime({ offset: true }).refine((s) => !Number.isNaN(Date.parse(s)), 'not a timestamp');
const count = z.number().int().nonnegative();

const person = z.looseObject({ issuer: nonEmpty, subject: nonEmpty, email: text.optional() });

const vote = z.looseObject({
  verdict: z.enum(['approve', 'reject']),
  by: person,
  comment: text,
  at: timestamp,
});

const notification = z.looseObject({
  state: z.enum(['pending', 'published']),
  attempts: count,
  nextAttemptAt: timestamp.optional(),
  lastError: text.optional(),
  messageId: text.optional(),
  publishedAt: timestamp.optional(),
});

const delivery = z.looseObject({
  posted: z.record(z.string(), z.looseObject({ at: timestamp, messageId: text })),
  handled: z.array(text),
  claim: z.looseObject({ token: text, messageId: text, until: timestamp }).optional(),
});

/** As the API's PlanEstimate (shared/api/schemas.ts, which imports this folder: not imported here). */
const estimate = z.looseObject({
  state: z.enum(['estimated', 'unavailable']),
  rows: z.number().nonnegative().optional(),
  topNode: text.optional(),
  totalCost: z.number().optional(),
  tables: z.array(text).optional(),
  reason: text.optional(),
});

export const APPROVAL_RECORD = z.looseObject({
  id: nonEmpty,
  sessionId: nonEmpty,
  state: z.enum(APPROVAL_STATES),
  createdAt: timestamp,
  expiresAt: timestamp,
  requester: person.extend({ groups: z.array(text) }),
  agent: z.looseObject({ model: text.optional(), runId: text.optional() }),
  connection: nonEmpty,
  sql: nonEmpty,
  params: z.array(z.union([text, z.number(), z.boolean(), z.null()])),
  digest: nonEmpty,
  // The views read class and reasons; the client checks class against the risk classes.
  analysis: z.looseObject({ class: z.enum(RISK_CLASSES), reasons: z.array(text) }),
  rule: nonEmpty,
  policySha256: nonEmpty,
  approvers: z.array(nonEmpty).min(1),
  quorum: z.number().int().min(1),
  votes: z.array(vote),
  redemption: z.looseObject({ at: timestamp, sessionId: nonEmpty }).optional(),
  notification,
  delivery,
  estimate: estimate.optional(),
  relations: z.object({ relations: z.record(z.string(), z.string().nullable()), routines: z.record(z.string(), z.string().nullable()), searchPath: z.array(z.string()).optional() }).optional(),
});

/**
 * The approval a stored record holds, or approval_mismatch (reason `row_malformed`, `field` the
 * first path that does not fit). `key` is what the store files it under: a record naming another
 * id is malformed too. The message and details name the id and the field, never a value: a row
 * holds SQL parameters, which may be secrets, and an edited one may hold anything.
 */
export function parseApprovalRecord(text: string | null, key?: string): Approval {
  // null: longer than the store reads (postgres-store/approval-get.sql), which no honest record is.
  if (text === null) throw malformed(key, undefined, 'record', 'is larger than the store reads');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw malformed(key, undefined, 'record', 'is not JSON');
  }
  const r = APPROVAL_RECORD.safeParse(value);
  if (!r.success) {
    // Map keys (delivery.posted's channel names) are the row's own text: shown as `*`.
    const path = r.error.issues[0]!.path.map((p) => (typeof p === 'number' || /^[A-Za-z][A-Za-z0-9]{0,39}$/.test(String(p)) ? String(p) : '*'));
    throw malformed(key, value, path.length > 0 ? path.join('.') : 'record', 'does not fit the approval schema');
  }
  const a = value as Approval;
  if (key !== undefined && a.id !== key) throw malformed(key, value, 'id', 'names another approval than the one it is stored as');
  return a;
}

/** A record whose fault is the store's own filing (e.g. Firestore's listing fields), not its JSON. */
export function malformedRow(key: string | undefined, field: string): GatehouseError {
  return malformed(key, undefined, field, 'is not as the gateway writes it');
}

export function isMalformedRow(e: unknown): e is GatehouseError {
  return e instanceof GatehouseError && e.code === 'approval_mismatch' && (e.details as { reason?: unknown } | undefined)?.reason === 'row_malformed';
}

function malformed(key: string | undefined, value: unknown, field: string, why: string): GatehouseError {
  const approvalId = key ?? readableId(value);
  const name = approvalId === undefined ? 'an approval' : `approval ${approvalId}`;
  return new GatehouseError('approval_mismatch', `${name} in the approval store is malformed: ${field} ${why}; it is not acted on`, {
    approvalId,
    reason: 'row_malformed' satisfies MismatchReason,
    field,
  });
}

/** The record's own id, when it is one the gateway could have written (bounded: it is shown). */
function readableId(value: unknown): string | undefined {
  const id = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as { id?: unknown }).id : undefined;
  return typeof id === 'string' && id !== '' && id.length <= 200 && /^[\w.:-]+$/.test(id) ? id : undefined;
}
