// The ApprovalStore on PostgreSQL: a self-hosted server, or an embedded PGlite of its own (never
// the session log's PGlite: pglite-socket serialises every connection onto one session, and an
// update here holds its transaction open while the session event is appended there — on one
// PGlite that append would wait for this transaction forever).
//
// Unlike the session log this is mutable state, and the read-check-write is pessimistic:
// SELECT … FOR UPDATE inside a transaction, so concurrent updates of one approval queue on its
// row lock and each reads what the previous one committed.
import pg from 'pg';
import type { Approval } from '../../approvals/types.ts';
import type { ApprovalQuery, ApprovalStore } from '../../ports.ts';
import { approvalsUnavailable } from './failures.ts';
import { APPROVAL_SQL } from './sql.ts';
import { checkApprovalQuery } from '../../approvals/query-check.ts';
import { isMalformedRow, parseApprovalRecord } from '../../approvals/record.ts';

export interface PostgresApprovalStoreOptions {
  readonly connectionString: string;
  /** Connections kept open; with PGlite, at most the socket server's maxConnections. */
  readonly poolSize?: number;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

type Operation = 'create' | 'get' | 'list' | 'update';
type Query = (text: string, params?: unknown[]) => Promise<{ record: string | null }[]>;

/** A failure of this adapter's own SQL, told apart from errors thrown by the caller's callbacks. */
class StoreFailure {
  constructor(readonly cause: unknown) {}
}

export async function createPostgresApprovalStore(options: PostgresApprovalStoreOptions): Promise<ApprovalStore> {
  const { connectionString, poolSize } = checkOptions(options);
  const pool = new pg.Pool({
    connectionString,
    max: poolSize,
    application_name: 'gatehouse-approvals',
    // A store that hangs must fail the request (closed), not hold it open.
    connectionTimeoutMillis: 10_000,
    query_timeout: 30_000,
  });
  pool.on('error', () => {});

  try {
    const { rows } = await pool.query<{ ready: boolean }>(APPROVAL_SQL.schemaReady);
    if (!rows[0]?.ready) await pool.query(APPROVAL_SQL.schema);
  } catch (e) {
    await pool.end().catch(() => {});
    throw approvalsUnavailable('start', e);
  }

  let closed: Promise<void> | undefined;

  async function transaction<T>(operation: Operation, body: (q: Query) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      throw approvalsUnavailable(operation, e);
    }
    const onError = () => {};
    client.on('error', onError);
    const q: Query = async (text, params) => {
      try {
        return (await client.query<{ record: string | null }>(text, params)).rows;
      } catch (e) {
        throw new StoreFailure(e);
      }
    };
    let broken: unknown;
    try {
      await q('BEGIN');
      const out = await body(q);
      await q('COMMIT');
      return out;
    } catch (e) {
      broken = await client.query('ROLLBACK').then(
        () => undefined,
        (rollbackError: unknown) => rollbackError,
      );
      if (e instanceof StoreFailure) throw approvalsUnavailable(operation, e.cause);
      throw e; // the caller's own refusal or failure, unchanged
    } finally {
      client.removeListener('error', onError);
      client.release(broken !== undefined);
    }
  }

  async function create(approval: Approval, beforeCommit?: (approval: Approval) => Promise<void>): Promise<void> {
    checkApproval(approval);
    const stored = roundTrip(approval);
    await transaction('create', async (q) => {
      await q(APPROVAL_SQL.insert, [
        stored.id,
        stored.sessionId,
        stored.state,
        stored.createdAt,
        stored.expiresAt,
        notifyDueAt(stored),
        JSON.stringify(stored),
      ]);
      await beforeCommit?.(stored);
    });
  }

  async function get(id: string): Promise<Approval | undefined> {
    if (!storable(id)) return undefined;
    let rows: { record: string | null }[];
    try {
      ({ rows } = await pool.query<{ record: string | null }>(APPROVAL_SQL.get, [id]));
    } catch (e) {
      throw approvalsUnavailable('get', e);
    }
    // Outside the try: a malformed row is approval_mismatch (row_malformed), not an outage.
    return rows[0] ? parseApprovalRecord(rows[0].record, id) : undefined;
  }

  async function list(query: ApprovalQuery): Promise<Approval[]> {
    const { states, expiresAfter, expiredBy, notificationDueBy, limit = DEFAULT_LIMIT } = checkApprovalQuery(query);
    const want = Math.min(limit, MAX_LIMIT);
    const out: Approval[] = [];
    let after: ListedRow | undefined;
    // A malformed record is left out (one edited row must not take the listing down for
    // everyone), and the next page fills its place: the limit counts approvals listed.
    while (out.length < want) {
      const page = want - out.length;
      let rows: ListedRow[];
      try {
        ({ rows } = await pool.query<ListedRow>(APPROVAL_SQL.list, [
          states ? [...states] : null,
          expiresAfter?.toISOString() ?? null,
          expiredBy?.toISOString() ?? null,
          notificationDueBy?.toISOString() ?? null,
          page,
          after?.created_at ?? null,
          after?.approval_id ?? null,
        ]));
      } catch (e) {
        throw approvalsUnavailable('list', e);
      }
      for (const r of rows) {
        const a = listed(r);
        if (a) out.push(a);
      }
      if (rows.length < page) break;
      after = rows.at(-1);
    }
    return out;
  }

  async function update(
    id: string,
    change: (current: Approval) => Approval,
    beforeCommit?: (next: Approval) => Promise<void>,
  ): Promise<Approval | undefined> {
    if (!storable(id)) return undefined;
    return transaction('update', async (q) => {
      const rows = await q(APPROVAL_SQL.lock, [id]);
      if (!rows[0]) return undefined;
      // A malformed row throws here: `change` is never called, nothing is written.
      const current = parseApprovalRecord(rows[0].record, id);
      const changed = change(current);
      if (changed === current) return current;
      if (changed.id !== current.id) throw new TypeError('ApprovalStore.update: change must not alter the id');
      const next = roundTrip(changed);
      await q(APPROVAL_SQL.update, [id, next.state, notifyDueAt(next), JSON.stringify(next)]);
      await beforeCommit?.(next);
      return next;
    });
  }

  async function close(): Promise<void> {
    closed ??= pool.end();
    return closed;
  }

  return { create, get, list, update, close };
}

function notifyDueAt(a: Approval): string | null {
  return a.notification.state === 'pending' ? (a.notification.nextAttemptAt ?? a.createdAt) : null;
}

/** Exactly what a reader will get back: no undefined fields, no class instances. */
function roundTrip(a: Approval): Approval {
  return JSON.parse(JSON.stringify(a)) as Approval;
}

interface ListedRow {
  readonly approval_id: string;
  readonly created_at: string;
  readonly record: string | null;
}

/** The row's approval, or undefined for a malformed one (the listing goes on without it). */
function listed(r: ListedRow): Approval | undefined {
  try {
    return parseApprovalRecord(r.record, r.approval_id);
  } catch (e) {
    if (isMalformedRow(e)) return undefined;
    throw e;
  }
}

function checkOptions(options: PostgresApprovalStoreOptions): Required<PostgresApprovalStoreOptions> {
  const { connectionString, poolSize = 10 } = options;
  if (typeof connectionString !== 'string' || connectionString === '') {
    throw new TypeError('createPostgresApprovalStore: connectionString must be a non-empty string');
  }
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new TypeError('createPostgresApprovalStore: poolSize must be a positive integer');
  return { connectionString, poolSize };
}

function checkApproval(a: Approval): void {
  // Approvals come from the gateway, not from a caller: a malformed one is a bug, found loudly.
  if (typeof a?.id !== 'string' || a.id === '' || !storable(a.id) || !storable(a.sessionId)) {
    throw new TypeError('ApprovalStore.create: approval id and sessionId must be non-empty strings without NUL');
  }
  for (const field of ['createdAt', 'expiresAt'] as const) {
    if (Number.isNaN(Date.parse(a[field]))) throw new TypeError(`ApprovalStore.create: ${field} must be an ISO timestamp`);
  }
}


function storable(s: string): boolean {
  return typeof s === 'string' && !s.includes('\u0000');
}
