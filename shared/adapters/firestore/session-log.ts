// The SessionLog on Firestore, in a database of its own (see
// docs/design.md#the-session-log-is-create-only). Every write is a create() (append.ts): there is no set, update or delete anywhere
// in this adapter (a test greps for them), so the deployed service account needs only permission to create
// and read documents in the audit database — never to update or delete them. IAM enforces that,
// not security rules, which server SDKs bypass.
import type { Firestore } from '@google-cloud/firestore';
import type { EventDraft, SessionEvent, SessionSummary } from '../../audit/events.ts';
import type { LogLeaf, SessionQuery, TransparentSessionLog } from '../../ports.ts';
import { firestoreDurableStore, isLeafDocument, MAX_COMMIT_DATA_BYTES, readLogSize } from './append.ts';
import { createAppendPath, type AppendOptions, type GroupCommitStats } from '../../audit/append-path.ts';
import { firestoreConnection, type Connection } from './connection.ts';
import { eventFromDocument, usableId } from './documents.ts';
import { unavailable, type Operation } from './failures.ts';
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
  /** Group commit (shared/audit/append-path.ts): events per commit, default 64 (a commit holds at most 500 writes: 64 events, their leaves and sessions). */
  readonly maxBatchEvents?: number;
}

// Appends are optimistic, as on PostgreSQL: the create precondition decides who gets a seq (a
// commit of creates fails as a whole if any of its documents exists), and the loser reads the new
// head and tries again (shared/audit/append-path.ts, which also batches concurrent appends into
// one commit and keeps one commit in flight per process: appends from this process would
// otherwise all race for the same next index of the global log).

export async function createFirestoreSessionLog(options: FirestoreSessionLogOptions): Promise<TransparentSessionLog & GroupCommitStats> {
  const { projectId, databaseId, clock, collectionPrefix, timeoutMs, maxBatchEvents } = checkOptions(options);
  const sessionsPath = `${collectionPrefix}sessions`;
  const connection: Connection<Store> = firestoreConnection({
    projectId,
    databaseId,
    timeoutMs,
    given: options.firestore,
    name: 'session log',
    make: (lib, db) => ({ lib, db, sessions: db.collection(sessionsPath), log: db.collection(`${collectionPrefix}log`), call: connection.call }),
  });
  const logHead: LogHead = { next: undefined };
  const path = createAppendPath(firestoreDurableStore(() => open('append'), logHead), { clock, maxBatchEvents, maxBatchBytes: MAX_COMMIT_DATA_BYTES });

  function open(operation: Operation): Promise<Store> {
    return connection.open().catch((e: unknown) => {
      throw unavailable(operation, e);
    });
  }

  async function append(sessionId: string, drafts: readonly EventDraft[], options?: AppendOptions): Promise<SessionEvent[]> {
    checkSessionId(sessionId);
    return path.append(sessionId, drafts, options);
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
      throw unavailable('list', e);
    }
  }

  async function treeSize(): Promise<number> {
    // Counts every append this process accepted before the call (the checkpoint signer reads it
    // while appends go on): a batch still being written is waited for, not missed.
    await path.settled();
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
      // Only leaves (append.ts isLeafDocument): a fraction, or a whole number at another id, created
      // behind the log's back is no place in the log. A leaf's other fields not of their type are
      // given as values of it no event matches (export and verify then name the leaf).
      return snap.docs
        .filter((d) => isLeafDocument(d.id, d.get('index')))
        .map((d) => {
          const { sessionId, seq, hash } = d.data();
          return {
            index: d.get('index') as number,
            sessionId: typeof sessionId === 'string' ? sessionId : '',
            seq: typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0 ? seq : -1,
            hash: typeof hash === 'string' ? hash : '',
          };
        });
    } catch (e) {
      throw unavailable('read', e);
    }
  }

  async function close(): Promise<void> {
    // Appends already accepted finish (or fail) before the client goes.
    await path.drain();
    return connection.close();
  }

  return { append, read, list, treeSize, leaves, close, appendStats: path.stats };
}

// Firestore's rule for database ids other than `(default)`.
const DATABASE_ID = /^[a-z][a-z0-9-]{2,61}[a-z0-9]$/;

function checkOptions(options: FirestoreSessionLogOptions) {
  const { projectId, databaseId, firestore, clock = () => new Date(), collectionPrefix = '', timeoutMs = 10_000, maxBatchEvents = 64 } = options;
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
  if (!(Number.isInteger(maxBatchEvents) && maxBatchEvents >= 1 && maxBatchEvents <= 150)) throw new TypeError(`${where}: maxBatchEvents must be an integer from 1 to 150`);
  return { projectId, databaseId, clock, collectionPrefix, timeoutMs, maxBatchEvents };
}

function checkSessionId(sessionId: string): void {
  // Session ids come from the gateway, not from a caller: a bad one is a bug, found loudly.
  if (!usableId(sessionId)) {
    throw new TypeError('SessionLog.append: sessionId must be a usable Firestore document id (non-empty, no "/", not reserved)');
  }
}

