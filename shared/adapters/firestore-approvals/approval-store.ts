// The ApprovalStore on Firestore, in a database of its own (`gatehouse-state`), apart from the
// create-only audit database (docs/design.md#the-session-log-is-create-only): approvals are mutable state. It lives beside, not inside,
// ../firestore/, whose files are checked never to call set, update or delete.
//
// Why a lease, and no transaction. Firestore runs a transaction's callback again on contention, so
// a beforeCommit (which appends the session event) inside one could run several times; and outside
// a lock, the events of 20 racing redemptions would all be appended while only one write lands. A
// transaction that reads is no help either: on Google's emulator, 20 of them reading one document
// and then writing it deadlock on their read locks until "Transaction lock timeout" (measured: 18
// of 20 concurrent votes failed after 35 s). So every write here is a compare-and-set — one
// Commit with a `lastUpdateTime` precondition on what was just read, which fails as a whole if
// anything wrote the document in between — and an update that has a beforeCommit is three steps:
//
//   1. read the approval; if another update holds a live lease, wait and read again; run `change`
//      (pure: running it again after a lost compare-and-set is harmless); compare-and-set the
//      lease {id, until} — only the lease, never the change;
//   2. beforeCommit(next) runs once, while the lease keeps every other update out (all of them go
//      through step 1). If it throws, the lease is released and nothing is written;
//   3. read again and compare-and-set `next`, clearing the lease, only if the lease is still ours
//      and the version unchanged.
//
// Guarantees. One update holds the lease at a time, and each computes its change from the last
// committed record; so of 20 redemptions exactly one sees `approved`, and beforeCommit runs once
// per update that reaches step 3 — never for one that lost the race. What two stores without a
// two-phase commit cannot rule out (the PostgreSQL store has the same gap: a COMMIT failing after
// the event was appended) is an event recorded in step 2 whose change then does not commit:
// step 3 failed (outage, crash, deadline), or the lease ran out first — beforeCommit took longer
// than leaseMs, or the clocks of two instances disagree by more than the lease — and another
// update took the approval over. Step 3 then throws approvals_unavailable (reason `lease_lost` in
// the second case): the request fails and runs nothing; the orphaned event says a change was
// attempted, and the approval still says it did not happen. leaseMs (30 s) is three times the
// session log's own deadline (10 s), so beforeCommit fails long before its lease can be taken.
//
// An update without beforeCommit is step 1 writing the change itself. create() with beforeCommit
// reserves the document invisible and leased, runs beforeCommit, then makes it visible: no one
// sees an approval before its `approval.requested` event exists.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DocumentReference, Firestore, Transaction } from '@google-cloud/firestore';
import type { Approval } from '../../approvals/types.ts';
import type { ApprovalQuery, ApprovalStore } from '../../ports.ts';
import type { FirestoreModule } from '../firestore/client.ts';
import { firestoreConnection } from '../firestore/connection.ts';
import { isMalformedRow, parseApprovalRecord } from '../../approvals/record.ts';
import { fromFields, recordFields, roundTrip, usableId, type Lease } from './documents.ts';
import { approvalsUnavailable, changedUnderUs, LeaseLost, StillLeased, type Operation } from './failures.ts';
import { listApprovals } from './list.ts';
import { checkApprovalQuery } from '../../approvals/query-check.ts';

export interface FirestoreApprovalStoreOptions {
  readonly projectId: string;
  /** The state database (`gatehouse-state` by default in config), never the audit one. */
  readonly databaseId: string;
  /** A client to use instead; it stays the caller's to terminate. Build it with firestoreSettings(). */
  readonly firestore?: Firestore;
  /** Prepended to the collection's name (`{prefix}approvals`). */
  readonly collectionPrefix?: string;
  /** One store request's deadline; default 10 s. */
  readonly timeoutMs?: number;
  /** How long a lease keeps other updates out; default 30 s. */
  readonly leaseMs?: number;
  /** How long an update waits for another's lease before giving up; default leaseMs + 5 s. */
  readonly waitMs?: number;
  readonly clock?: () => Date;
}

interface Open {
  readonly lib: FirestoreModule;
  readonly db: Firestore;
  doc(id: string): DocumentReference;
}

export async function createFirestoreApprovalStore(options: FirestoreApprovalStoreOptions): Promise<ApprovalStore> {
  const { projectId, databaseId, collectionPrefix, timeoutMs, leaseMs, waitMs, clock } = checkOptions(options);
  const collection = `${collectionPrefix}approvals`;
  const connection = firestoreConnection<Open>({
    projectId,
    databaseId,
    timeoutMs,
    given: options.firestore,
    name: 'approval store',
    make: (lib, db) => ({ lib, db, doc: (id: string) => db.collection(collection).doc(id) }),
  });
  /** One library request, counted (close() waits for it), with a deadline. */
  const call = <T>(work: Promise<T>): Promise<T> => connection.call(work, 2_000);

  function open(operation: Operation): Promise<Open> {
    return connection.open().catch((e: unknown) => {
      throw approvalsUnavailable(operation, e);
    });
  }

  /**
   * One Commit of `write`: a transaction that reads nothing commits like a WriteBatch, but honours
   * the client's Commit settings (../firestore/client.ts) where WriteBatch.commit() retries for
   * minutes — after the caller was told it failed.
   */
  function commit(s: Open, write: (tx: Transaction) => void): Promise<void> {
    return call(s.db.runTransaction(async (tx) => write(tx), { maxAttempts: 1 }));
  }

  /** The document, or undefined when there is none. */
  async function read(ref: DocumentReference) {
    const snap = await call(ref.get());
    return snap.exists ? { ...fromFields(snap.data()!, ref.id), updateTime: snap.updateTime! } : undefined;
  }

  const pause = (attempt: number) => sleep(Math.random() * Math.min(100, 5 * 2 ** attempt));

  const leasedByOther = (lease: Lease | null) => lease !== null && lease.until > clock().getTime();

  async function create(approval: Approval, beforeCommit?: (approval: Approval) => Promise<void>): Promise<void> {
    checkApproval(approval);
    const stored = roundTrip(approval);
    const s = await open('create');
    const ref = s.doc(stored.id);
    const lease = beforeCommit ? newLease() : null;
    try {
      await commit(s, (tx) => tx.create(ref, { ...recordFields(stored, 0), visible: !beforeCommit, lease }));
    } catch (e) {
      throw approvalsUnavailable('create', e);
    }
    if (!beforeCommit || !lease) return;
    try {
      await beforeCommit(stored);
    } catch (e) {
      // Never visible, so nobody else can have touched it: take the reservation back.
      await read(ref)
        .then((d) => (d?.lease?.id === lease.id ? commit(s, (tx) => tx.delete(ref, { lastUpdateTime: d.updateTime })) : undefined))
        .catch(() => {}); // left behind, it stays invisible
      throw e;
    }
    try {
      const d = await read(ref);
      if (d?.lease?.id !== lease.id) throw new LeaseLost();
      await commit(s, (tx) => tx.update(ref, { visible: true, lease: null }, { lastUpdateTime: d.updateTime }));
    } catch (e) {
      throw approvalsUnavailable('create', e);
    }
  }

  async function get(id: string): Promise<Approval | undefined> {
    if (!usableId(id)) return undefined;
    const s = await open('get');
    let d: Awaited<ReturnType<typeof read>>;
    try {
      d = await read(s.doc(id));
    } catch (e) {
      if (isMalformedRow(e)) throw e; // approval_mismatch (row_malformed), not an outage
      throw approvalsUnavailable('get', e);
    }
    return d?.visible ? parseApprovalRecord(d.record, id) : undefined;
  }

  async function list(query: ApprovalQuery): Promise<Approval[]> {
    checkApprovalQuery(query);
    const s = await open('list');
    try {
      return await listApprovals({ lib: s.lib, collection: s.db.collection(collection), call }, query);
    } catch (e) {
      throw approvalsUnavailable('list', e);
    }
  }

  async function update(
    id: string,
    change: (current: Approval) => Approval,
    beforeCommit?: (next: Approval) => Promise<void>,
  ): Promise<Approval | undefined> {
    if (!usableId(id)) return undefined;
    const s = await open('update');
    const ref = s.doc(id);
    const started = Date.now();
    const deadline = started + waitMs;

    // Step 1 (or the whole update, without beforeCommit).
    let leased: { next: Approval; lease: Lease; version: number } | undefined;
    for (let attempt = 1; !leased; attempt++) {
      let d: Awaited<ReturnType<typeof read>>;
      try {
        d = await read(ref);
      } catch (e) {
        if (isMalformedRow(e)) throw e; // nothing is leased or written
        throw approvalsUnavailable('update', e);
      }
      if (!d?.visible) return undefined;
      if (leasedByOther(d.lease)) {
        if (Date.now() >= deadline) throw approvalsUnavailable('update', new StillLeased(Date.now() - started));
        await pause(attempt);
        continue;
      }
      // A malformed record throws here: `change` is never called, nothing is leased or written.
      const current = parseApprovalRecord(d.record, id);
      const changed = change(current); // the caller's refusal comes out unchanged
      if (changed === current) return current;
      if (changed.id !== current.id) throw new TypeError('ApprovalStore.update: change must not alter the id');
      const next = roundTrip(changed);
      const lease = beforeCommit ? newLease() : null;
      const fields = lease ? { lease } : { ...recordFields(next, d.version + 1), lease: null };
      try {
        await commit(s, (tx) => tx.update(ref, fields, { lastUpdateTime: d.updateTime }));
      } catch (e) {
        if (!changedUnderUs(e) || Date.now() >= deadline) throw approvalsUnavailable('update', e);
        await pause(attempt);
        continue;
      }
      if (!lease) return next;
      leased = { next, lease, version: d.version };
    }
    const { next, lease, version } = leased;

    // Step 2: once, under the lease.
    try {
      await beforeCommit!(next);
    } catch (e) {
      await read(ref)
        .then((d) => (d?.lease?.id === lease.id ? commit(s, (tx) => tx.update(ref, { lease: null }, { lastUpdateTime: d.updateTime })) : undefined))
        .catch(() => {}); // the lease then runs out on its own
      throw e;
    }

    // Step 3: the change, only if the approval is still ours and unchanged. Nothing else writes
    // while the lease holds, so a lost compare-and-set here means it was taken over (or the
    // commit was retried by contention): read again and decide again.
    for (let attempt = 1; ; attempt++) {
      try {
        const d = await read(ref);
        if (d?.lease?.id !== lease.id || d.version !== version) throw new LeaseLost();
        await commit(s, (tx) => tx.update(ref, { ...recordFields(next, version + 1), lease: null }, { lastUpdateTime: d.updateTime }));
        return next;
      } catch (e) {
        if (!changedUnderUs(e) || attempt >= 5) throw approvalsUnavailable('update', e);
        await pause(attempt);
      }
    }
  }

  function newLease(): Lease {
    return { id: randomUUID(), until: clock().getTime() + leaseMs };
  }

  function close(): Promise<void> {
    return connection.close();
  }

  return { create, get, list, update, close };
}

// Firestore's rule for database ids other than `(default)`.
const DATABASE_ID = /^[a-z][a-z0-9-]{2,61}[a-z0-9]$/;

function checkOptions(options: FirestoreApprovalStoreOptions) {
  const { projectId, databaseId, collectionPrefix = '', timeoutMs = 10_000, leaseMs = 30_000, clock = () => new Date() } = options;
  const waitMs = options.waitMs ?? leaseMs + 5_000;
  if (typeof projectId !== 'string' || projectId === '') throw new TypeError('createFirestoreApprovalStore: projectId must be a non-empty string');
  if (typeof databaseId !== 'string' || !(databaseId === '(default)' || DATABASE_ID.test(databaseId))) {
    throw new TypeError('createFirestoreApprovalStore: databaseId must be a Firestore database id (lowercase letters, digits, hyphens; 4–63 characters)');
  }
  if (typeof collectionPrefix !== 'string' || collectionPrefix.includes('/')) throw new TypeError('createFirestoreApprovalStore: collectionPrefix must be a string without "/"');
  for (const [name, v] of Object.entries({ timeoutMs, leaseMs, waitMs })) {
    if (!Number.isInteger(v) || v <= 0) throw new TypeError(`createFirestoreApprovalStore: ${name} must be a positive integer`);
  }
  if (typeof clock !== 'function') throw new TypeError('createFirestoreApprovalStore: clock must be a function');
  return { projectId, databaseId, collectionPrefix, timeoutMs, leaseMs, waitMs, clock };
}

function checkApproval(a: Approval): void {
  // Approvals come from the gateway, not from a caller: a malformed one is a bug, found loudly.
  if (typeof a?.id !== 'string' || !usableId(a.id) || typeof a.sessionId !== 'string') {
    throw new TypeError('ApprovalStore.create: approval id must be a usable Firestore document id, sessionId a string');
  }
  for (const field of ['createdAt', 'expiresAt'] as const) {
    if (Number.isNaN(Date.parse(a[field]))) throw new TypeError(`ApprovalStore.create: ${field} must be an ISO timestamp`);
  }
}
