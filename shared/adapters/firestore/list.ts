// Listing sessions by (startedAt, sessionId), with each one's status read off its last event.
import type { DocumentSnapshot, Query, QueryDocumentSnapshot } from '@google-cloud/firestore';
import type { EventType, SessionSummary } from '../../audit/events.ts';
import type { SessionQuery } from '../../ports.ts';
import { DATA_DECIDES_STATUS, eventFromDocument, eventId, seqOfId, sessionDocument, summaryFromDocuments, wrongField, type LastEvent } from './documents.ts';
import { listingMismatch, tamperedSummary } from '../../audit/listing-check.ts';
import { readStoredData, unreadableField } from '../../audit/stored-data.ts';
import { events, type Store } from './store.ts';

// Sessions per query: each page then costs one small query per session for its last event.
const LIST_PAGE = 200;

/** The query is already checked (session-log.ts): limit > 0 when given, usable ids. */
export async function listSessions(s: Store, query: SessionQuery): Promise<SessionSummary[]> {
  const { from, to, limit, after, subject } = query;
  let q: Query = s.sessions;
  if (from) q = q.where('startedAt', '>=', from);
  if (to) q = q.where('startedAt', '<', to);
  if (subject !== undefined) q = q.where('subject', '==', subject);
  // Deployed, the subject filter needs a composite index (subject, startedAt, __name__).
  q = q.orderBy('startedAt').orderBy(s.lib.FieldPath.documentId());
  let cursor: DocumentSnapshot | undefined;
  if (after !== undefined) {
    cursor = await s.call(s.sessions.doc(after).get());
    // An `after` naming no session matches nothing rather than restarting from the beginning.
    if (!cursor.exists) return [];
  }
  const out: SessionSummary[] = [];
  // Page by cursor, not offset: each page is one bounded query that starts where the last one
  // ended, however far into the range (Google's emulator honours cursors; the Node
  // re-implementation of Firestore ignores them, so it cannot stand in here).
  for (;;) {
    const want = limit === undefined ? LIST_PAGE : Math.min(LIST_PAGE, limit - out.length);
    const page = await s.call((cursor ? q.startAfter(cursor) : q).limit(want).get());
    out.push(...(await summarise(s, page.docs)));
    if (page.docs.length < want || out.length === limit) return out;
    cursor = page.docs[page.docs.length - 1];
  }
}

/** The listed sessions with their last events: one small query per session, all at once. */
async function summarise(s: Store, sessions: readonly QueryDocumentSnapshot[]): Promise<SessionSummary[]> {
  const lasts = await Promise.all(
    sessions.map((d) => s.call(events(s, d.id).orderBy('seq', 'desc').limit(1).select('seq', 'type', 'at').get())),
  );
  const lastDocs = lasts.map((snap) => snap.docs[0]);
  // The data only of the last events whose status depends on it, in one batched read.
  const needData = lastDocs.filter((d): d is QueryDocumentSnapshot => d !== undefined && DATA_DECIDES_STATUS.has(String(d.get('type'))));
  const withData = needData.length === 0 ? [] : await s.call(s.db.getAll(...needData.map((d) => d.ref), { fieldMask: ['data'] }));
  const dataOf = new Map(withData.map((d) => [d.ref.path, d.get('data') as unknown]));
  // Each session's first event, to re-derive the listing fields from (listing-check.ts).
  const firsts = sessions.length === 0 ? [] : await s.call(s.db.getAll(...sessions.map((d) => d.ref.collection('events').doc(eventId(0)))));
  const out: SessionSummary[] = [];
  sessions.forEach((session, i) => {
    const firstDoc = firsts[i];
    const first = firstDoc?.exists ? eventFromDocument(session.id, firstDoc.id, firstDoc.data()!) : undefined;
    // A Timestamp, as the adapter writes it; anything else (text, a number, null, a map: the
    // create() right writes any, and a listing without a time range selects it) is no time, and
    // the row is then named (listingTampered: 'started_at') — before, it threw, and every such
    // listing reported the whole log unavailable.
    const startedAt = timestampText(s, session.get('startedAt'));
    // Named with PostgreSQL's column names (started_at), so listingTampered is one code whichever store.
    const tampered = listingMismatch(
      first,
      {
        started_at: startedAt,
        subject: (session.get('subject') as string | null) ?? null,
        email: (session.get('email') as string | null) ?? null,
        connection: (session.get('connection') as string | null) ?? null,
        sql: (session.get('sql') as string | null) ?? null,
      },
      (f) => {
        const d = sessionDocument(f);
        return { started_at: d.startedAt.toISOString(), subject: d.subject, email: d.email, connection: d.connection, sql: d.sql };
      },
    );
    const last = lastDocs[i];
    // A session document is created with its first event, so one without (or without an event
    // with a seq) was created behind the log's back: listed and named ('first event'), as on
    // PostgreSQL — before, both left it out, and nothing named it.
    const lastEvent: LastEvent = last ? lastEventOf(last, dataOf.get(last.ref.path)) : { seq: -1, type: 'unreadable' as EventType, at: '', data: {} };
    const summary = summaryFromDocuments(session.id, startedAt ?? '', session.data(), lastEvent);
    out.push(tampered === undefined ? summary : tamperedSummary(summary, tampered));
  });
  return out;
}

function timestampText(s: Store, v: unknown): string | null {
  if (!(v instanceof s.lib.Timestamp)) return null;
  const date = v.toDate();
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** The last event's seq, type and at, read as eventFromDocument reads them (a field not of its type: unreadable). */
function lastEventOf(last: QueryDocumentSnapshot, text: unknown): LastEvent {
  const fields = { type: last.get('type'), seq: last.get('seq'), at: last.get('at'), prevHash: null, hash: '' };
  const wrong = wrongField(fields);
  const read = wrong !== undefined ? unreadableField(last.get('type'), wrong.field, wrong.expected) : text === undefined ? { type: last.get('type') as EventType, data: {} } : readStoredData(last.get('type'), text);
  const seq = typeof fields.seq === 'number' && Number.isSafeInteger(fields.seq) && fields.seq >= 0 ? fields.seq : seqOfId(last.id);
  return { seq, type: read.type, at: typeof fields.at === 'string' ? fields.at : '', data: read.data };
}
