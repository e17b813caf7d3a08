// The SessionLog on Firestore, in a database of its own (see
// docs/design.md#the-session-log-is-create-only). Every write is a create() (append.ts): there is no set, update or delete anywhere
// in this adapter (a test greps for them), so the deployed service account needs only permission to create
// and read documents in the audit database — never to update or delete them. IAM enforces that,
// not security rules, which server SDKs bypass.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Firestore } from '@google-cloud/firestore';
import type { EventDraft, SessionEvent, SessionSummary } from '../../audit/events.ts';
import type { LogLeaf, SessionQuery, TransparentSessionLog } from '../../ports.ts';
import { appendOnce, readLogSize, TooLarge } from './append.ts';
import { firestoreConnection, type Connection } from './connection.ts';
import { eventFromDocument, usableId } from './documents.ts';
import { lostRace, unavailable, type Operation } from './failures.ts';
import { isGatehouseError } from '../../errors.ts';
import { HeadCache } from '../../audit/head-cache.ts';
import { checkSessionQuery } from '../../audit/query-check.ts';
import { listSessions } from './list.ts';
import { events, type LogHead, type Store } from './store.ts';

export interface FirestoreSessionLogOptions {
  readonly projectId: string;
  /** The audit database (`gatehouse-audit` by default in config), not the one holding approvals. */
  readonly databaseId: string;
  /**
   * A client to use instead of one built from projectId and databaseId; it stays the caller's to
   * terminate. Build it with `firestoreSettings()` (client.ts), or commits are retried behind the
   * log's back.
   */
  readonly firestore?: Firestore;
  readonly clock?: () => Date;
  /** Prepended to the top-level collection's name (`{prefix}sessions`). */
  readonly collectionPrefix?: string;
  /**
   * How long one store request may take before the log reports itself unavailable; default 10 s.
   * close() waits for requests it gave up on, which the client's settings end within a few times this.
   */
  readonly timeoutMs?: number;
}

// Appends are optimistic, as on PostgreSQL: the create precondition decides who gets a seq (a
// commit of creates fails as a whole if any of its documents exists), and the loser reads the new
// head and tries again. Every failed attempt means another append to the session landed in
// between, so k appends racing on one session need at most k attempts each. Sessions see a
// handful of appends, one at a time; this bound is for bursts, then it fails closed.
const MAX_ATTEMPTS = 32;

export async function createFirestoreSessionLog(options: FirestoreSessionLogOptions): Promise<TransparentSessionLog> {
  const { projectId, databaseId, clock, collectionPrefix, timeoutMs } = checkOptions(options);
  const sessionsPath = `${collectionPrefix}sessions`;
  const heads = new HeadCache(10_000);
  const connection: Connection<Store> = firestoreConnection({
    projectId,
    databaseId,
    timeoutMs,
    given: options.firestore,
    name: 'session log',
    make: (lib, db) => ({ lib, db, sessions: db.collection(sessionsPath), log: db.collection(`${collectionPrefix}log`), call: connection.call }),
  });
  const logHead: LogHead = { next: undefined };
  // Appends from this process go one at a time: they would otherwise all race for the same next
  // index of the global log and all but one lose. Other processes still race, and the create
  // precondition on the leaf documents settles it.
  let queue: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => {});
    return run;
  };

  function open(operation: Operation): Promise<Store> {
    return connection.open().catch((e: unknown) => {
      throw unavailable(operation, e);
    });
  }

  async function append(sessionId: string, drafts: readonly EventDraft[]): Promise<SessionEvent[]> {
    checkSessionId(sessionId);
    if (drafts.length === 0) return [];
    const s = await open('append');
    // One time per append, not per attempt: a retry after losing the global log's next index to
    // another instance is the same append, not a later one.
    const now = clock();
    for (let attempt = 1; ; attempt++) {
      try {
        // The first attempt trusts the cached heads; after a lost race, read the store.
        return await serially(() => appendOnce(s, heads, logHead, sessionId, drafts, now, attempt > 1));
      } catch (e) {
        heads.forget(sessionId);
        logHead.next = undefined;
        if (e instanceof TypeError) throw e; // from chain(): not an outage
        if (e instanceof TooLarge) throw unavailable('append', e, { reason: 'event_too_large', seq: e.seq, bytes: e.bytes });
        if (!lostRace(e) || attempt >= MAX_ATTEMPTS) throw unavailable('append', e, { attempts: attempt });
        // Jittered, growing: racers that collided once should not collide again in lockstep.
        await sleep(Math.random() * Math.min(100, 2 ** attempt));
      }
    }
  }

  async function read(sessionId: string): Promise<SessionEvent[]> {
    // An id Firestore cannot hold names no session; it is not an outage.
    if (!usableId(sessionId)) return [];
    const s = await open('read');
    try {
      const snap = await s.call(events(s, sessionId).orderBy(s.lib.FieldPath.documentId()).get());
      return snap.docs.map((d) => eventFromDocument(sessionId, d.id, d.data()));
    } catch (e) {
      throw unavailable('read', e);
    }
  }

  async function list(query: SessionQuery): Promise<SessionSummary[]> {
    const { limit, after, subject } = checkSessionQuery(query);
    if (limit === 0) return [];
    if (after !== undefined && !usableId(after)) return [];
    if (subject !== undefined && !subject.isWellFormed()) return [];
    const s = await open('list');
    try {
      return await listSessions(s, query);
    } catch (e) {
      if (isGatehouseError(e) && e.code === 'audit_tampered') throw e;
      throw unavailable('list', e);
    }
  }

  async function treeSize(): Promise<number> {
    const s = await open('read');
    try {
      return await readLogSize(s);
    } catch (e) {
      throw unavailable('read', e);
    }
  }

  async function leaves(start: number, end: number): Promise<LogLeaf[]> {
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && end >= 0)) {
      throw new TypeError('leaves: start and end must be non-negative integers');
    }
    if (end <= start) return [];
    const s = await open('read');
    try {
      const snap = await s.call(s.log.where('index', '>=', start).where('index', '<', end).orderBy('index').get());
      return snap.docs.map((d) => ({
        index: d.get('index') as number,
        sessionId: d.get('sessionId') as string,
        seq: d.get('seq') as number,
        hash: d.get('hash') as string,
      }));
    } catch (e) {
      throw unavailable('read', e);
    }
  }

  function close(): Promise<void> {
    return connection.close();
  }

  return { append, read, list, treeSize, leaves, close };
}

// Firestore's rule for database ids other than `(default)`.
const DATABASE_ID = /^[a-z][a-z0-9-]{2,61}[a-z0-9]$/;

function checkOptions(options: FirestoreSessionLogOptions) {
  const { projectId, databaseId, firestore, clock = () => new Date(), collectionPrefix = '', timeoutMs = 10_000 } = options;
  const where = 'createFirestoreSessionLog';
  if (typeof projectId !== 'string' || projectId === '' || projectId.includes('/')) {
    throw new TypeError(`${where}: projectId must be a non-empty string without "/"`);
  }
  if (typeof databaseId !== 'string' || !(databaseId === '(default)' || DATABASE_ID.test(databaseId))) {
    throw new TypeError(`${where}: databaseId must be 4–63 lowercase letters, digits and hyphens, starting with a letter`);
  }
  if (firestore !== undefined && (typeof firestore !== 'object' || firestore === null || typeof firestore.collection !== 'function')) {
    throw new TypeError(`${where}: firestore must be a Firestore client`);
  }
  if (typeof clock !== 'function') throw new TypeError(`${where}: clock must be a function`);
  if (typeof collectionPrefix !== 'string' || !/^(?!__)[A-Za-z0-9_-]*$/.test(collectionPrefix)) {
    throw new TypeError(`${where}: collectionPrefix may hold only letters, digits, "_" and "-" (and not start with "__")`);
  }
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new TypeError(`${where}: timeoutMs must be a positive number`);
  return { projectId, databaseId, clock, collectionPrefix, timeoutMs };
}

function checkSessionId(sessionId: string): void {
  // Session ids come from the gateway, not from a caller: a bad one is a bug, found loudly.
  if (!usableId(sessionId)) {
    throw new TypeError('SessionLog.append: sessionId must be a usable Firestore document id (non-empty, no "/", not reserved)');
  }
}

