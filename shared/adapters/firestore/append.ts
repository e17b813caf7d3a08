// The Firestore half of the append path (shared/audit/append-path.ts): one batch of chained
// appends as one commit that creates every document, and the reads a retry needs.
import type { ChainedAppend, DurableStore } from '../../audit/append-path.ts';
import type { ChainHead } from '../../audit/chain.ts';
import { eventDocument, eventId, leafId, MAX_DATA_BYTES, sessionDocument } from './documents.ts';
import { lostRace, unavailable } from './failures.ts';
import { events, type LogHead, type Store } from './store.ts';
import type { QueryDocumentSnapshot } from '@google-cloud/firestore';

/**
 * One commit carries at most 10 MiB (Firestore's request limit): a batch closes before its events'
 * data passes this, so appends that would each fit are never refused together.
 */
export const MAX_COMMIT_DATA_BYTES = 8 * 1024 * 1024;

// The commit's own deadline (timeoutMs, enforced by the server) ends it first; this margin only
// bounds what comes before the request is sent, such as fetching credentials.
const COMMIT_GRACE_MS = 2_000;

/**
 * The store the append path writes through. The global index is assigned here, from `logHead`
 * (what this process last wrote, or read from the store after a failure): two instances that
 * read the same log head collide on the leaf documents' create precondition, and the loser's
 * batch is retried member by member on a fresh head (gap-free, never shared).
 */
export function firestoreDurableStore(open: () => Promise<Store>, logHead: LogHead): DurableStore {
  return {
    async readHead(sessionId: string): Promise<ChainHead | null> {
      const s = await open();
      // By the seq field, not the id: Google's emulator refuses descending key scans.
      const snap = await s.call(events(s, sessionId).orderBy('seq', 'desc').limit(1).select('seq', 'hash').get());
      const last = snap.docs[0];
      return last ? { seq: last.get('seq') as number, hash: last.get('hash') as string } : null;
    },

    admit(append: ChainedAppend): number {
      let total = 0;
      for (const e of append.events) {
        const bytes = Buffer.byteLength(JSON.stringify(e.data), 'utf8');
        if (bytes > MAX_DATA_BYTES) throw unavailable('append', new TooLarge(e.seq, bytes), { reason: 'event_too_large', seq: e.seq, bytes, recorded: 'no' });
        total += bytes;
      }
      return total;
    },

    async write(batch: readonly ChainedAppend[]): Promise<number> {
      const s = await open();
      logHead.next ??= await readLogSize(s);
      const first = logHead.next;
      let index = first;
      // A transaction that reads nothing commits exactly like a WriteBatch — one Commit carrying
      // all the creates, no transaction id, all or nothing — but unlike WriteBatch.commit(), which
      // hard-codes up to ten minutes of retries, it honours the client's Commit settings (client.ts).
      const commit = s.db.runTransaction(
        async (tx) => {
          index = first;
          for (const a of batch) {
            const session = s.sessions.doc(a.sessionId);
            if (a.starts) tx.create(session, sessionDocument(a.events[0]!));
            for (const e of a.events) {
              const d = eventDocument({ ...e, index: index++ });
              tx.create(session.collection('events').doc(eventId(d.seq)), d);
              // The global log's leaves, create-only like everything else.
              tx.create(s.log.doc(leafId(d.index)), { index: d.index, sessionId: a.sessionId, seq: d.seq, hash: d.hash });
            }
          }
        },
        { maxAttempts: 1 },
      );
      await s.call(commit, COMMIT_GRACE_MS);
      logHead.next = index;
      return first;
    },

    lostRace,
    unavailable: (e, more) => unavailable('append', e, more),
    reset() {
      logHead.next = undefined;
    },
  };
}

/** Leaves in the global log: the highest index + 1 (by the field: the emulator refuses descending key scans). */
/**
 * The log's size: the place after the highest leaf. A leaf is a document at leafId(index) whose
 * `index` is that whole number — the only kind an append writes. The create() right writes any
 * document in the collection, with any `index`: text sorts above every number in Firestore, so one
 * such document used to be "the highest index" (the size "zz1", every later index NaN, the second
 * append after it refused for good), and a fraction made every later index fractional. Now text,
 * maps and booleans are outside the numeric range asked for, and numbers that are no leaf's
 * (fractions, or at another id) are paged past. Then every id after the highest leaf that is
 * already taken — by a document that is no leaf, created there to hold the next append's place —
 * counts as occupied, so appends go on after it (the signer and export name the place as a gap, as
 * for an index the writer chose) instead of failing on it for good. At most MAX_SKIPPED either way.
 */
export async function readLogSize(s: Store): Promise<number> {
  let next = (await highestLeaf(s)) + 1;
  for (let taken = 0; (await s.call(s.log.doc(leafId(next)).get())).exists; taken++) {
    if (taken >= MAX_SKIPPED) throw new NoLogHead(taken);
    next++;
  }
  return next;
}

async function highestLeaf(s: Store): Promise<number> {
  let skipped = 0;
  let cursor: QueryDocumentSnapshot | undefined;
  for (;;) {
    const q = s.log.where('index', '>=', 0).orderBy('index', 'desc').limit(SIZE_PAGE).select('index');
    const snap = await s.call((cursor ? q.startAfter(cursor) : q).get());
    for (const d of snap.docs) {
      if (isLeafDocument(d.id, d.get('index'))) return d.get('index') as number;
      skipped++;
    }
    if (snap.docs.length < SIZE_PAGE) return -1;
    if (skipped >= MAX_SKIPPED) throw new NoLogHead(skipped);
    cursor = snap.docs[snap.docs.length - 1];
  }
}

/** Whether a log document is a leaf: a whole-number index at the id an append gives it. */
export function isLeafDocument(id: string, index: unknown): index is number {
  return typeof index === 'number' && Number.isSafeInteger(index) && index >= 0 && id === leafId(index);
}

const SIZE_PAGE = 50;
const MAX_SKIPPED = 1_000;

/** More documents above the log's head than a reader pages past: the store was flooded behind the log's back. */
export class NoLogHead extends Error {
  override readonly name = 'NoLogHead';
  constructor(readonly skipped: number) {
    super(`the global log's collection holds ${skipped} or more documents above its highest leaf that are no leaf (created behind the log's back)`);
  }
}

/** An event whose data a Firestore document cannot hold: the log fails closed, naming why. */
export class TooLarge extends Error {
  override readonly name = 'TooLarge';
  constructor(readonly seq: number, readonly bytes: number) {
    super(`event ${seq} holds ${bytes} bytes of data; a Firestore document holds at most 1 MiB`);
  }
}
