// Listing, oldest first (createdAt, then id), as the PostgreSQL store does. Only the state filter
// and the order run in Firestore; the time filters are applied here, page by page. Firestore would
// need a composite index for every combination of them with the order (and, before multi-field
// inequalities, could not combine them at all); the listings the gateway makes — due
// notifications and the review desk — ask for `pending` approvals, which the state filter keeps
// few. A store with very many pending approvals pays a scan of them.
import type { CollectionReference, Query, QueryDocumentSnapshot } from '@google-cloud/firestore';
import type { Approval } from '../../approvals/types.ts';
import type { ApprovalQuery } from '../../ports.ts';
import type { FirestoreModule } from '../firestore/client.ts';
import { isMalformedRow, parseApprovalRecord } from '../../approvals/record.ts';
import { fromFields, type StoredDocument } from './documents.ts';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const PAGE = 300;

export interface Lister {
  readonly lib: FirestoreModule;
  readonly collection: CollectionReference;
  call<T>(work: Promise<T>): Promise<T>;
}

export async function listApprovals(s: Lister, query: ApprovalQuery): Promise<Approval[]> {
  const { states, expiresAfter, expiredBy, notificationDueBy } = query;
  const limit = Math.min(query.limit ?? DEFAULT_LIMIT, MAX_LIMIT);
  if (limit === 0 || states?.length === 0) return [];
  let base: Query = s.collection;
  // `in` takes at most 30 values; there are four states.
  if (states) base = base.where('state', 'in', [...new Set(states)]);
  base = base.orderBy('createdAt').orderBy(s.lib.FieldPath.documentId()).limit(PAGE);

  const keep = (d: StoredDocument) =>
    d.visible &&
    (expiresAfter === undefined || d.expiresAtMs > expiresAfter.getTime()) &&
    (expiredBy === undefined || d.expiresAtMs <= expiredBy.getTime()) &&
    (notificationDueBy === undefined || (d.notifyDueAtMs !== null && d.notifyDueAtMs <= notificationDueBy.getTime()));

  const out: Approval[] = [];
  let last: QueryDocumentSnapshot | undefined;
  for (;;) {
    const snap = await s.call((last ? base.startAfter(last) : base).get());
    for (const doc of snap.docs) {
      const a = listed(doc, keep);
      if (a) out.push(a);
      if (out.length >= limit) return out;
    }
    if (snap.docs.length < PAGE) return out;
    last = snap.docs.at(-1);
  }
}

/**
 * The document's approval when the query keeps it; undefined otherwise, and for a malformed one:
 * one edited document must not take the listing down for everyone, and is never acted on.
 */
function listed(doc: QueryDocumentSnapshot, keep: (d: StoredDocument) => boolean): Approval | undefined {
  try {
    const d = fromFields(doc.data(), doc.id);
    return keep(d) ? parseApprovalRecord(d.record, doc.id) : undefined;
  } catch (e) {
    if (isMalformedRow(e)) return undefined;
    throw e;
  }
}
