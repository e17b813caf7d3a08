// Between Firestore documents and approvals.
//
//   approvals/{id}   record, state, createdAt, expiresAt, notifyDueAt, version, visible, lease
//
// `record` is the approval's exact JSON text, as in the PostgreSQL store: what a reader gets back
// is exactly what was written (strings with NUL, empty keys and nested arrays included), with no
// trust in a converter. The other fields exist only for listing and for the lease (lease.ts).
import { malformedRow } from '../../approvals/record.ts';
import type { Approval } from '../../approvals/types.ts';

export interface Lease {
  readonly id: string;
  /** Milliseconds since the epoch, by the clock of the instance that took the lease. */
  readonly until: number;
}

export interface ApprovalDocument {
  readonly record: string;
  readonly state: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  /** When the notification is due while it is pending; null once published. */
  readonly notifyDueAt: Date | null;
  /** Counts committed changes: a lease holder checks nothing moved under it. */
  readonly version: number;
  /** False between create()'s reservation and its commit: such an approval does not exist yet. */
  readonly visible: boolean;
  readonly lease: Lease | null;
}

/** The listing fields and the record, for a commit of `a` as version `version`. */
export function recordFields(a: Approval, version: number) {
  return {
    record: JSON.stringify(a),
    state: a.state,
    createdAt: new Date(a.createdAt),
    expiresAt: new Date(a.expiresAt),
    notifyDueAt: a.notification.state === 'pending' ? new Date(a.notification.nextAttemptAt ?? a.createdAt) : null,
    version,
  };
}

/** Field values as the client library hands them back (Timestamps, not Dates). */
export interface StoredDocument {
  readonly record: string;
  readonly version: number;
  readonly visible: boolean;
  readonly lease: Lease | null;
  readonly expiresAtMs: number;
  readonly notifyDueAtMs: number | null;
}

type Timestampish = { toMillis(): number };

/**
 * The fields of approval document `id`. One edited behind the gateway's back (no `record` text, a
 * listing field that is no timestamp) is approval_mismatch `row_malformed`, like a malformed
 * record (record.ts): the listing leaves it out, get and update refuse it.
 */
export function fromFields(fields: Readonly<Record<string, unknown>>, id?: string): StoredDocument {
  const { record, version, visible, lease, expiresAt, notifyDueAt } = fields;
  if (typeof record !== 'string') throw malformedRow(id, 'record');
  if (!isTimestamp(expiresAt)) throw malformedRow(id, 'expiresAt');
  if (notifyDueAt !== null && notifyDueAt !== undefined && !isTimestamp(notifyDueAt)) throw malformedRow(id, 'notifyDueAt');
  return {
    record,
    version: typeof version === 'number' ? version : 0,
    visible: visible === true,
    lease: isLease(lease) ? lease : null,
    expiresAtMs: expiresAt.toMillis(),
    notifyDueAtMs: notifyDueAt ? notifyDueAt.toMillis() : null,
  };
}

function isTimestamp(v: unknown): v is Timestampish {
  return typeof v === 'object' && v !== null && typeof (v as Timestampish).toMillis === 'function';
}

/** Exactly what a reader will get back: no undefined fields, no class instances. */
export function roundTrip(a: Approval): Approval {
  return JSON.parse(JSON.stringify(a)) as Approval;
}

/** An id Firestore can hold as a document id (see ../firestore/documents.ts usableId). */
export { usableId } from '../firestore/documents.ts';

function isLease(v: unknown): v is Lease {
  return typeof v === 'object' && v !== null && typeof (v as Lease).id === 'string' && typeof (v as Lease).until === 'number';
}
