// The SessionLog on PostgreSQL: a self-hosted server, or the embedded PGlite served over the wire.
// It only ever INSERTs and SELECTs; there is no code path that updates or deletes an event.
import pg from 'pg';
import { createAppendPath, type AppendOptions, type GroupCommitStats, DEFAULT_MAX_BATCH_EVENTS, type ChainedAppend } from '../../audit/append-path.ts';
import { checkSessionQuery } from '../../audit/query-check.ts';
import type { EventDraft, SessionEvent, SessionSummary } from '../../audit/events.ts';
import type { LogLeaf, SessionQuery, TransparentSessionLog } from '../../ports.ts';
import { lostRace, sqlStateOf, unavailable } from './failures.ts';
import { batchColumns, eventFromRow, firstEventOf, listingColumns, sessionColumns, summaryFromRow, type EventRow, type SummaryRow } from './rows.ts';
import { listingMismatch, tamperedSummary } from '../../audit/listing-check.ts';
import type { StoredEvents } from '../../audit/stored-text.ts';
import { SQL } from './sql.ts';
import { storedData } from '../../audit/chain.ts';

export interface PostgresSessionLogOptions {
  readonly connectionString: string;
  /** Connections kept open; with PGlite, at most the socket server's maxConnections. */
  readonly poolSize?: number;
  readonly clock?: () => Date;
  /**
   * Server-side bound on every statement of the log's connections (statement_timeout and
   * lock_timeout), in ms; default 10 s. The client gives up CLIENT_MARGIN_MS later, so an append
   * the gateway gave up on has already been aborted by the server: it can never commit later and
   * leave a record (say, a result) for something that was rolled back.
   */
  readonly statementTimeoutMs?: number;
  /** Group commit (shared/audit/append-path.ts): events per batch, default 64. */
  readonly maxBatchEvents?: number;
}

const APPEND_STATEMENT = 'gatehouse_append_batch';

/**
 * The most data text one event may hold, in UTF-8 bytes; readers read no more (read.sql): a value
 * the INSERT right wrote longer than a JavaScript string can be crashed node-postgres in its socket
 * handler, taking the process down. An honest result is far smaller (maxResultBytes, 4 MiB by
 * default, is of cell text); an append over it is refused as event_too_large, nothing written.
 */
export const MAX_STORED_DATA_BYTES = 64 * 1024 * 1024;

/** How much later than the server's bound the client stops waiting (and cancels). */
const CLIENT_MARGIN_MS = 5_000;

// Appends are optimistic: the primary key (session_id, seq) decides who gets a seq, and the loser
// reads the new head and tries again (shared/audit/append-path.ts, which also batches concurrent
// appends into one statement). No SELECT … FOR UPDATE: row locks need UPDATE privilege, and the
// log's role should hold only SELECT and INSERT (schema.sql).

export async function createPostgresSessionLog(options: PostgresSessionLogOptions): Promise<TransparentSessionLog & GroupCommitStats> {
  const { connectionString, poolSize, clock, statementTimeoutMs, maxBatchEvents } = checkOptions(options);
  const pool = new pg.Pool({
    connectionString,
    max: poolSize,
    application_name: 'gatehouse-session-log',
    // A database that hangs must fail the request (closed), not hold it open. The connection
    // timeout also bounds the wait for a free pooled connection under a burst.
    connectionTimeoutMillis: 10_000,
    // Sent in the startup packet, so they hold for every statement on every connection, before
    // the first one runs. The server's clock is what counts: it aborts the append itself.
    statement_timeout: statementTimeoutMs,
    lock_timeout: statementTimeoutMs,
    query_timeout: statementTimeoutMs + CLIENT_MARGIN_MS,
  });
  // An idle connection that dies (server restart, network cut) is dropped by the pool; the next
  // checkout then fails and is reported. Without a listener the process would crash instead.
  pool.on('error', () => {});

  try {
    await ensureSchema(pool);
  } catch (e) {
    await pool.end().catch(() => {});
    throw unavailable('start', e);
  }

  let closed: Promise<void> | undefined;
  let named = true;
  const path = createAppendPath(
    {
      async readHead(sessionId) {
        try {
          const { rows } = await pool.query<{ seq: number; hash: string }>(SQL.head, [sessionId]);
          return rows[0] ? { seq: rows[0].seq, hash: rows[0].hash } : null;
        } catch (e) {
          throw notWritten(e); // a read: nothing of the append was sent
        }
      },
      async write(batch: readonly ChainedAppend[]) {
        const values = batchColumns(batch);
        // A named statement: parsed and planned once per connection, then only bound and run.
        const query = () => boundedQuery<{ first_index: string }>(pool, named ? { name: APPEND_STATEMENT, text: SQL.appendBatch, values } : { text: SQL.appendBatch, values });
        let rows: { first_index: string }[];
        try {
          rows = await query();
        } catch (e) {
          // duplicate_prepared_statement: a server that shares one session between connections
          // (PGlite over the wire) already holds another connection's statement of that name.
          // Refused at Parse, so nothing ran; from now on the statement goes unnamed.
          if (!(named && sqlStateOf(e) === '42P05')) throw e;
          named = false;
          rows = await query();
        }
        return Number(rows[0]!.first_index);
      },
      admit(append: ChainedAppend): number {
        let total = 0;
        for (const e of append.events) {
          const bytes = Buffer.byteLength(storedData(e), 'utf8');
          if (bytes > MAX_STORED_DATA_BYTES) {
            throw unavailable('append', new Error(`event ${e.seq} holds ${bytes} bytes of data, more than ${MAX_STORED_DATA_BYTES}`), { reason: 'event_too_large', seq: e.seq, bytes, recorded: 'no' });
          }
          total += bytes;
        }
        return total;
      },
      lostRace,
      // Whether the events may yet be stored is part of the answer: an append the client gave up
      // on mid-flight may have committed, or (held by the network) commit later; only a refusal
      // the server answered, or a failure before anything was sent, says they never will be.
      unavailable: (e, more) => unavailable('append', e, { recorded: refused.has(e as object) ? 'no' : 'unknown', ...more }),
    },
    { clock, maxBatchEvents },
  );

  async function append(sessionId: string, drafts: readonly EventDraft[], options?: AppendOptions): Promise<SessionEvent[]> {
    checkSessionId(sessionId);
    return path.append(sessionId, drafts, options);
  }

  async function read(sessionId: string): Promise<SessionEvent[]> {
    // An id Postgres cannot even compare (a NUL byte) names no session; it is not an outage.
    if (!storable(sessionId)) return [];
    try {
      const { rows } = await pool.query<EventRow>(SQL.read, [sessionId]);
      return rows.map(eventFromRow);
    } catch (e) {
      throw unavailable('read', e);
    }
  }

  async function readMany(sessionIds: readonly string[]): Promise<Map<string, SessionEvent[]>> {
    const stored = await readManyStored(sessionIds);
    return new Map([...stored].map(([id, s]) => [id, s.events]));
  }

  async function readManyStored(sessionIds: readonly string[]): Promise<Map<string, StoredEvents>> {
    const out = new Map<string, RowsOfSession>(sessionIds.map((id) => [id, new RowsOfSession()]));
    const ids = sessionIds.filter(storable);
    if (ids.length === 0) return out;
    try {
      const { rows } = await pool.query<EventRow>(SQL.readMany, [ids]);
      for (const row of rows) out.get(row.session_id)?.add(row);
      return out;
    } catch (e) {
      throw unavailable('read', e);
    }
  }

  async function list(query: SessionQuery): Promise<SessionSummary[]> {
    const { from, to, limit, after, subject } = checkSessionQuery(query);
    if (!storable(after ?? '') || !storable(subject ?? '')) return [];
    let listed: SummaryRow[];
    try {
      ({ rows: listed } = await pool.query<SummaryRow>(SQL.list, [
        from?.toISOString() ?? null,
        to?.toISOString() ?? null,
        subject ?? null,
        after ?? null,
        limit ?? null,
      ]));
    } catch (e) {
      throw unavailable('list', e);
    }
    // A row that disagrees with its hashed events is named on its row, not an outage (listing-check.ts).
    return listed.map((row) => {
      const tampered = listingMismatch(firstEventOf(row), { started_at: row.started_at, subject: row.subject, email: row.email, connection: row.connection, sql: row.sql }, listingColumns, row.first_data ?? undefined);
      const summary = summaryFromRow(row);
      return tampered === undefined ? summary : tamperedSummary(summary, tampered);
    });
  }

  async function treeSize(): Promise<number> {
    // Counts every append this process accepted before the call (the checkpoint signer reads it
    // while appends go on): a batch still being written is waited for, not missed.
    await path.settled();
    try {
      const { rows } = await pool.query<{ size: string }>(SQL.treeSize);
      return Number(rows[0]!.size);
    } catch (e) {
      throw unavailable('read', e);
    }
  }

  async function leaves(start: number, end: number): Promise<LogLeaf[]> {
    checkIndexRange(start, end);
    if (end <= start) return [];
    try {
      const { rows } = await pool.query<{ leaf_index: string; session_id: string; seq: number; hash: string }>(SQL.leaves, [start, end]);
      return rows.map((r) => ({ index: Number(r.leaf_index), sessionId: r.session_id, seq: r.seq, hash: r.hash }));
    } catch (e) {
      throw unavailable('read', e);
    }
  }

  async function close(): Promise<void> {
    // Appends already accepted finish (or fail) before the pool goes.
    closed ??= path.drain().then(() => pool.end());
    return closed;
  }

  return { append, read, readMany, readManyStored, list, treeSize, leaves, close, appendStats: path.stats };
}

/**
 * One session's rows of a readManyStored batch, made into events when first asked for: a batch
 * parsed at once lived through the young-generation collections of every session processed
 * before it, and was copied to the old generation (an export's largest garbage-collection cost).
 */
class RowsOfSession implements StoredEvents {
  readonly #rows: EventRow[] = [];
  #events: SessionEvent[] | undefined;
  readonly dataTexts: string[] = [];

  add(row: EventRow): void {
    this.#rows.push(row);
    this.dataTexts.push(row.data ?? ''); // '' is no value's canonical text: its hash is computed
  }

  get events(): SessionEvent[] {
    try {
      this.#events ??= this.#rows.map(eventFromRow);
    } catch (e) {
      // A data column that is not JSON: reported as readMany reports it.
      throw unavailable('read', e);
    }
    return this.#events;
  }
}

/** Errors after which the append is known never to be stored (see boundedQuery). */
const refused = new WeakSet<object>();

function notWritten(e: unknown): unknown {
  if (typeof e === 'object' && e !== null) refused.add(e);
  return e;
}

/**
 * A query on a client of its own. Its failure says whether the statement may still commit: a
 * failure to connect sent nothing, and an error the server answered (a SQLSTATE) ended the
 * autocommitted statement without committing it — both `refused`. Anything else (the answer lost
 * or late) leaves it open.
 *
 * When the client-side timeout fires first — a server that ignores statement_timeout (PGlite), or
 * a network that holds the statement before the server ever sees it, where statement_timeout has
 * not even started — the backend is TERMINATED, not cancelled, and only then is the connection
 * dropped: a cancel reaches nothing when the statement has not arrived yet, and the server would
 * run it in full once the network delivers it (TCP retransmits what was sent, even after the
 * client closed its socket). A backend that is gone runs nothing more. If it cannot be reached
 * either, the append stays `unknown`, and the gateway names its session in the 503.
 */
async function boundedQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(pool: pg.Pool, query: pg.QueryConfig): Promise<R[]> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (e) {
    throw notWritten(e);
  }
  // A server that drops the connection mid-query emits 'error' on the checked-out client (the
  // query rejects as well); unheard, it would crash the process. pool.query does the same.
  const onError = () => {};
  client.on('error', onError);
  try {
    const { rows } = await client.query<R>(query);
    client.off('error', onError);
    client.release();
    return rows;
  } catch (e) {
    const timedOut = e instanceof Error && e.message === 'Query read timeout';
    // Still listening: the terminated backend's connection fails while we hold it.
    if (timedOut) await terminateBackend(pool, (client as unknown as { processID: number | null }).processID);
    client.off('error', onError);
    // A failed statement leaves nothing open (it autocommits); a timed-out one is condemned.
    client.release(timedOut ? e : undefined);
    throw sqlStateOf(e) === undefined ? e : notWritten(e);
  }
}

async function terminateBackend(pool: pg.Pool, pid: number | null): Promise<void> {
  if (!Number.isInteger(pid) || pid === null || pid <= 0) return;
  // A connection of its own: the pool may be exhausted by the very statements being given up on.
  // Our own connection is still open, so the pid is still our backend's.
  const options = (pool as unknown as { options: pg.ClientConfig }).options;
  const killer = new pg.Client({ ...options, connectionTimeoutMillis: 2_000, query_timeout: 4_000 });
  killer.on('error', () => {});
  try {
    await killer.connect();
    try {
      // PostgreSQL 14+: waits (up to 2 s) until the backend has exited.
      await killer.query('SELECT pg_catalog.pg_terminate_backend($1::pg_catalog.int4, 2000)', [pid]);
    } catch (e) {
      if (sqlStateOf(e) !== '42883') throw e;
      await killer.query('SELECT pg_catalog.pg_terminate_backend($1::pg_catalog.int4)', [pid]);
    }
  } catch {
    // Best effort: unreachable, the append's fate stays unknown, and the caller is told so.
  } finally {
    await killer.end().catch(() => {});
  }
}

async function ensureSchema(pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query<{ ready: boolean }>(SQL.schemaReady);
  if (rows[0]?.ready) return;
  // One simple-protocol message: Postgres runs its statements as a single implicit transaction.
  await pool.query(SQL.schema);
}

function checkOptions(options: PostgresSessionLogOptions): Required<PostgresSessionLogOptions> {
  const { connectionString, poolSize = 10, clock = () => new Date(), statementTimeoutMs = 10_000, maxBatchEvents = DEFAULT_MAX_BATCH_EVENTS } = options;
  if (typeof connectionString !== 'string' || connectionString === '') {
    throw new TypeError('createPostgresSessionLog: connectionString must be a non-empty string');
  }
  if (!Number.isInteger(poolSize) || poolSize < 1) {
    throw new TypeError('createPostgresSessionLog: poolSize must be a positive integer');
  }
  if (typeof clock !== 'function') throw new TypeError('createPostgresSessionLog: clock must be a function');
  if (!Number.isInteger(statementTimeoutMs) || statementTimeoutMs < 1) {
    throw new TypeError('createPostgresSessionLog: statementTimeoutMs must be a positive integer');
  }
  if (!Number.isInteger(maxBatchEvents) || maxBatchEvents < 1) {
    throw new TypeError('createPostgresSessionLog: maxBatchEvents must be a positive integer');
  }
  return { connectionString, poolSize, clock, statementTimeoutMs, maxBatchEvents };
}

function checkSessionId(sessionId: string): void {
  // Session ids come from the gateway, not from a caller: a bad one is a bug, found loudly.
  if (typeof sessionId !== 'string' || sessionId === '' || !storable(sessionId)) {
    throw new TypeError('SessionLog.append: sessionId must be a non-empty string without NUL');
  }
}

export function checkIndexRange(start: number, end: number): void {
  if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && end >= 0)) {
    throw new TypeError('leaves: start and end must be non-negative integers');
  }
}

function storable(s: string): boolean {
  return !s.includes('\u0000');
}
