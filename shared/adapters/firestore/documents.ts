// Between Firestore documents and the log's records.
//
//   {prefix}sessions/{sessionId}                 startedAt, subject, email, connection, sql
//   {prefix}sessions/{sessionId}/events/{seq}    seq, type, at, data, prevHash, hash, index
//   {prefix}log/{index}                          index, sessionId, seq, hash   (one per event)
//
// Event ids are seq zero-padded to 10 digits, so ordering by id is ordering by seq. The session
// document is created with the session's first event and holds only what listing needs; a
// session's status is read off its last event, never stored (nothing here is ever updated).
import type { EventType, SessionEvent, SessionSummary } from '../../audit/events.ts';
import { statusAfter } from '../../audit/status.ts';
import { readStoredData, unreadableField } from '../../audit/stored-data.ts';

const SEQ_DIGITS = 10;

export function eventId(seq: number): string {
  return String(seq).padStart(SEQ_DIGITS, '0');
}

/**
 * Firestore's largest string value (1,048,487 bytes, measured on the emulator) less room for the
 * event's other fields: the whole document must stay under 1 MiB.
 */
export const MAX_DATA_BYTES = 1_000_000;

export interface EventDocument {
  readonly seq: number;
  readonly type: string;
  /** The ISO-8601 string that was hashed, not a Timestamp: a Timestamp would not give it back. */
  readonly at: string;
  /**
   * The exact JSON text the hash was computed over. A Firestore map cannot even hold every event:
   * it refuses arrays inside arrays (result rows), empty keys and keys like `__x__` (checked on the
   * emulator). Text gives back what was written, so verification needs no trust in a converter.
   */
  readonly data: string;
  readonly prevHash: string | null;
  readonly hash: string;
  /** The event's global index: the leaf it is in the log's Merkle tree. */
  readonly index: number;
}

/** `{prefix}log/{index}`: the global log, one document per event, created with the event. */
export interface LeafDocument {
  readonly index: number;
  readonly sessionId: string;
  readonly seq: number;
  readonly hash: string;
}

const INDEX_DIGITS = 15;

export function leafId(index: number): string {
  return String(index).padStart(INDEX_DIGITS, '0');
}

export interface SessionDocument {
  /** A Date on the way in; Firestore stores a Timestamp, which sorts and range-filters natively. */
  readonly startedAt: Date;
  readonly subject: string | null;
  readonly email: string | null;
  readonly connection: string | null;
  readonly sql: string | null;
}

export function eventDocument(event: SessionEvent & { readonly index: number }): EventDocument {
  return {
    index: event.index,
    seq: event.seq,
    type: event.type,
    at: event.at,
    data: JSON.stringify(event.data),
    prevHash: event.prevHash,
    hash: event.hash,
  };
}

/** Who and what, from a session's first event when it is a request; for listing without reading. */
export function sessionDocument(first: SessionEvent): SessionDocument {
  const fromRequest = first.type === 'request';
  const principal = fromRequest ? first.data.principal : undefined;
  const who = typeof principal === 'object' && principal !== null ? (principal as Record<string, unknown>) : {};
  return {
    startedAt: new Date(first.at),
    subject: text(who.subject),
    email: text(who.email),
    connection: fromRequest ? text(first.data.connection) : null,
    sql: fromRequest ? text(first.data.sql) : null,
  };
}

/** Field values as the client library hands them back. */
export type Fields = Readonly<Record<string, unknown>>;

export function eventFromDocument(sessionId: string, id: string, fields: Fields): SessionEvent {
  const { seq, at, prevHash, hash, index } = fields;
  // Not checked against EVENT_TYPES (nor seq against the id): a document edited behind the
  // log's back is evidence for `evidence verify`, and hiding it here would hide the tampering.
  // Data that is not JSON text is read as an `unreadable` event (audit/stored-data.ts), and so is
  // an event whose type, seq, at, prevHash or hash is not of its type (Firestore keeps no schema: the
  // create() right writes any): the field is then given as a value of its type that no hash
  // holds, so no reader is handed a number where text is due — nor a hash that is no text into
  // the export's manifest, which verify then refused whole.
  const wrong = wrongField(fields);
  const { type, data } = wrong === undefined ? readStoredData(fields.type, fields.data) : unreadableField(fields.type, wrong.field, wrong.expected);
  return {
    // The document's place in the tree, like the PostgreSQL key: an event copied in from another
    // session then fails its hash.
    sessionId,
    seq: isSeq(seq) ? seq : seqOfId(id),
    type,
    at: typeof at === 'string' ? at : '',
    data,
    prevHash: typeof prevHash === 'string' ? prevHash : null,
    hash: typeof hash === 'string' ? hash : '',
    // An index that is no place in the log (negative, fractional) is no index: the event is then
    // one outside the global log, which export and verify name (leaf_inserted).
    ...(isSeq(index) ? { index } : {}),
  };
}

/** The first of an event document's fields that is not of its type. */
export function wrongField(fields: Fields): { field: string; expected: string } | undefined {
  if (typeof fields.type !== 'string') return { field: 'type', expected: 'text' };
  if (!isSeq(fields.seq)) return { field: 'seq', expected: 'a whole number' };
  if (typeof fields.at !== 'string') return { field: 'at', expected: 'text' };
  // A missing prevHash reads as null, as it always has (the first event's).
  if (!(fields.prevHash === undefined || fields.prevHash === null || typeof fields.prevHash === 'string')) return { field: 'prevHash', expected: 'text or null' };
  if (typeof fields.hash !== 'string') return { field: 'hash', expected: 'text' };
  return undefined;
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** The seq an event document's id names (eventId), or -1 for an id that names none. */
export function seqOfId(id: string): number {
  return /^\d{1,15}$/.test(id) ? Number(id) : -1;
}

export interface LastEvent {
  readonly seq: number;
  readonly type: EventType;
  readonly at: string;
  /** Only for the types whose status depends on it (DATA_DECIDES_STATUS); `{}` otherwise. */
  readonly data: Readonly<Record<string, unknown>>;
}

/**
 * The types whose status (shared/audit/status.ts) reads the event's data — the same list as the
 * PostgreSQL store's list.sql; keep them in step with status.ts. The others can carry whole result
 * sets, which a listing has no reason to fetch.
 */
export const DATA_DECIDES_STATUS: ReadonlySet<string> = new Set(['request', 'analysis', 'decision', 'approval.granted', 'execution.abandoned']);

/** `startedAt`: the session document's, as ISO text ('' when it is not a Timestamp: see list.ts). */
export function summaryFromDocuments(sessionId: string, startedAt: string, session: Fields, last: LastEvent): SessionSummary {
  return {
    sessionId,
    startedAt,
    lastAt: last.at,
    // Every append numbers on from the head, so seq is dense from 0 and the last one counts them.
    events: last.seq + 1,
    status: statusAfter(last),
    ...optional('subject', session.subject),
    ...optional('email', session.email),
    ...optional('connection', session.connection),
    ...optional('sql', session.sql),
  };
}

export class MalformedDocument extends Error {
  override readonly name = 'MalformedDocument';
  constructor(readonly documentId: string, readonly field: string) {
    super(`session log document ${documentId} has no usable ${field}`);
  }
}

/**
 * A session id Firestore can hold as a document id: not empty, no `/` (it would name a deeper
 * path), not `.` or `..`, not reserved (`__…__`), at most 1,500 bytes of well-formed UTF-16.
 */
export function usableId(id: string): boolean {
  return (
    typeof id === 'string' &&
    id !== '' &&
    id !== '.' &&
    id !== '..' &&
    !id.includes('/') &&
    !/^__.*__$/s.test(id) &&
    id.isWellFormed() &&
    Buffer.byteLength(id, 'utf8') <= 1500
  );
}

function text(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

function optional<K extends string>(key: K, v: unknown): Partial<Record<K, string>> {
  return typeof v === 'string' ? ({ [key]: v } as Record<K, string>) : {};
}
