// Between table rows and the log's records. The event's `data` column holds the JSON text that
// was hashed, so parsing it gives back exactly the value `verifyChain` re-hashes.
import type { EventType, SessionEvent, SessionSummary } from '../../audit/events.ts';
import { statusAfter } from '../../audit/status.ts';
import type { ChainedAppend } from '../../audit/append-path.ts';
import { storedData } from '../../audit/chain.ts';
import { readStoredData, unreadableField } from '../../audit/stored-data.ts';

export interface EventRow {
  readonly session_id: string;
  readonly seq: number;
  readonly type: string;
  /** null for a time with no ISO text ('infinity'). */
  readonly at: string | null;
  /** null when longer than the adapter reads (session-log.ts MAX_STORED_DATA_BYTES). */
  readonly data: string | null;
  readonly prev_hash: string | null;
  readonly hash: string;
  /** bigint as text (node-postgres does not parse int8); null for events older than the global log. */
  readonly log_index: string | null;
}

export interface SummaryRow {
  readonly session_id: string;
  /** null for 'infinity' / '-infinity', as every time column below. */
  readonly started_at: string | null;
  readonly subject: string | null;
  readonly email: string | null;
  readonly connection: string | null;
  readonly sql: string | null;
  /** The last_* columns are null for a session row with no event. */
  readonly last_seq: number | null;
  readonly last_type: string | null;
  readonly last_at: string | null;
  readonly last_data: string | null;
  readonly first_type: string | null;
  readonly first_at: string | null;
  readonly first_data: string | null;
  readonly first_prev_hash: string | null;
  readonly first_hash: string | null;
}

/** The session's first event as listed beside it, for re-deriving the listing columns. */
export function firstEventOf(row: SummaryRow): SessionEvent | undefined {
  if (row.first_type === null || row.first_at === null || row.first_data === null || row.first_hash === null) return undefined;
  return eventFromRow({ session_id: row.session_id, seq: 0, type: row.first_type, at: row.first_at, data: row.first_data, prev_hash: row.first_prev_hash, hash: row.first_hash, log_index: null });
}

/** What the listing columns must be, derived from the first event. */
export function listingColumns(first: SessionEvent): Record<string, string | null> {
  const [subject, email, connection, sql] = sessionColumns(first);
  return { started_at: first.at, subject, email, connection, sql };
}

export function eventFromRow(row: EventRow): SessionEvent {
  // Not checked against EVENT_TYPES: a row edited behind the log's back is evidence for
  // `evidence verify`, and hiding it here would hide the tampering. Data that is not JSON is read
  // as an `unreadable` event (audit/stored-data.ts), never thrown at every reader of the session.
  // An `at` of 'infinity' or '-infinity' (a timestamptz takes them; the INSERT right stores one)
  // has no ISO-8601 text: to_char gives NULL. Read as `unreadable` too, its at '' — not handed on
  // as null, which export wrote into a line evidence verify could not read as an event.
  const { type, data } =
    row.at === null
      ? unreadableField(row.type, 'at', 'a finite time')
      : row.data === null
        ? unreadableField(row.type, 'data', 'text of at most 64 MiB')
        : readStoredData(row.type, row.data);
  const event: { -readonly [K in keyof SessionEvent]: SessionEvent[K] } = {
    sessionId: row.session_id,
    seq: row.seq,
    type,
    at: row.at ?? '',
    data,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
  // Set after the others (the same key order as a spread), without a spread per event.
  if (row.log_index !== null) event.index = Number(row.log_index);
  return event;
}

/**
 * A batch of appends (shared/audit/append-path.ts) as the parallel arrays of one
 * gatehouse_append_batch call: every event in batch order, then the sessions the batch starts.
 */
export function batchColumns(batch: readonly ChainedAppend[]): unknown[] {
  const events = batch.flatMap((a) => a.events);
  const starting = batch.filter((a) => a.starts).map((a) => a.events[0]!);
  const listing = starting.map(sessionColumns);
  return [
    events.map((e) => e.sessionId),
    events.map((e) => e.seq),
    events.map((e) => e.type),
    events.map((e) => e.at),
    events.map(storedData), // the canonical JSON chainEvents hashed, not a second serialisation
    events.map((e) => e.prevHash),
    events.map((e) => e.hash),
    starting.map((e) => e.sessionId),
    starting.map((e) => e.at),
    ...[0, 1, 2, 3].map((i) => listing.map((columns) => columns[i])),
  ];
}

/** Who and what, from a session's first event when it is a request; for listing without reading. */
export function sessionColumns(first: SessionEvent): [string | null, string | null, string | null, string | null] {
  if (first.type !== 'request') return [null, null, null, null];
  const principal = first.data.principal;
  const who = typeof principal === 'object' && principal !== null ? (principal as Record<string, unknown>) : {};
  return [text(who.subject), text(who.email), text(first.data.connection), text(first.data.sql)];
}

export function summaryFromRow(row: SummaryRow): SessionSummary {
  const last =
    row.last_seq === null
      ? { type: 'unreadable' as EventType, data: {} }
      : row.last_at === null
      ? unreadableField(row.last_type, 'at', 'a finite time')
      : row.last_data === null
        ? { type: row.last_type as EventType, data: {} }
        : readStoredData(row.last_type, row.last_data);
  return {
    sessionId: row.session_id,
    // A started_at with no ISO text disagrees with every first event: the row is listingTampered.
    startedAt: row.started_at ?? '',
    lastAt: row.last_at ?? '',
    // Every append numbers on from the head, so seq is dense from 0 and the last one counts them.
    events: row.last_seq === null ? 0 : row.last_seq + 1,
    status: statusAfter(last),
    ...(row.subject === null ? {} : { subject: row.subject }),
    ...(row.email === null ? {} : { email: row.email }),
    ...(row.connection === null ? {} : { connection: row.connection }),
    ...(row.sql === null ? {} : { sql: row.sql }),
  };
}

function text(v: unknown): string | null {
  // A NUL cannot be stored in a Postgres text column: if the SQL a bot sent holds one, the
  // listing copy gets a replacement character rather than the whole append failing. The event
  // itself keeps the original, escaped inside its JSON.
  return typeof v === 'string' ? v.replaceAll('\u0000', '\uFFFD') : null;
}
