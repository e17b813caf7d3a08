// One append attempt: chain the drafts onto the head, then create every document in one commit.
import type { ChainHead } from '../../audit/chain.ts';
import { chainEvents } from '../../audit/chain.ts';
import type { EventDraft, SessionEvent } from '../../audit/events.ts';
import { eventDocument, eventId, leafId, MAX_DATA_BYTES, sessionDocument } from './documents.ts';
import type { HeadCache } from '../../audit/head-cache.ts';
import { events, type LogHead, type Store } from './store.ts';

// The commit's own deadline (timeoutMs, enforced by the server) ends it first; this margin only
// bounds what comes before the request is sent, such as fetching credentials.
const COMMIT_GRACE_MS = 2_000;

/**
 * One attempt, one commit. The head comes from `heads` (what this process last appended) or is
 * assumed empty for a session this process has not seen — right for a new session, and for any
 * other the create precondition refuses the commit and the retry reads the real head.
 */
export async function appendOnce(
  s: Store,
  heads: HeadCache,
  logHead: LogHead,
  sessionId: string,
  drafts: readonly EventDraft[],
  now: Date,
  readHead: boolean,
): Promise<SessionEvent[]> {
  let head: ChainHead | null = heads.get(sessionId) ?? null;
  if (readHead) {
    // By the seq field, not the id: Google's emulator refuses descending key scans.
    const snap = await s.call(events(s, sessionId).orderBy('seq', 'desc').limit(1).select('seq', 'hash').get());
    const last = snap.docs[0];
    head = last ? { seq: last.get('seq') as number, hash: last.get('hash') as string } : null;
  }
  if (readHead || logHead.next === undefined) logHead.next = await readLogSize(s);
  const first = logHead.next;
  const created = chain(sessionId, head, drafts, now).map((e, i) => ({ ...e, index: first + i }));
  const docs = created.map(eventDocument);
  for (const d of docs) {
    const bytes = Buffer.byteLength(d.data, 'utf8');
    if (bytes > MAX_DATA_BYTES) throw new TooLarge(d.seq, bytes);
  }
  const session = s.sessions.doc(sessionId);
  // A transaction that reads nothing commits exactly like a WriteBatch — one Commit carrying all
  // the creates, no transaction id, all or nothing — but unlike WriteBatch.commit(), which
  // hard-codes up to ten minutes of retries, it honours the client's Commit settings (client.ts).
  const commit = s.db.runTransaction(
    async (tx) => {
      if (head === null) tx.create(session, sessionDocument(created[0]!));
      for (const d of docs) tx.create(session.collection('events').doc(eventId(d.seq)), d);
      // The global log's leaves, create-only like everything else: two appends that read the same
      // log head collide here, and the loser reads the head again (gap-free, never shared).
      for (const d of docs) tx.create(s.log.doc(leafId(d.index)), { index: d.index, sessionId, seq: d.seq, hash: d.hash });
    },
    { maxAttempts: 1 },
  );
  await s.call(commit, COMMIT_GRACE_MS);
  heads.remember(sessionId, created.at(-1)!);
  logHead.next = first + created.length;
  return created;
}

/** Leaves in the global log: the highest index + 1 (by the field: the emulator refuses descending key scans). */
export async function readLogSize(s: Store): Promise<number> {
  const snap = await s.call(s.log.orderBy('index', 'desc').limit(1).select('index').get());
  const last = snap.docs[0];
  return last ? (last.get('index') as number) + 1 : 0;
}

/** An event whose data a Firestore document cannot hold: the log fails closed, naming why. */
export class TooLarge extends Error {
  override readonly name = 'TooLarge';
  constructor(readonly seq: number, readonly bytes: number) {
    super(`event ${seq} holds ${bytes} bytes of data; a Firestore document holds at most 1 MiB`);
  }
}

function chain(sessionId: string, head: ChainHead | null, drafts: readonly EventDraft[], now: Date): SessionEvent[] {
  try {
    return chainEvents(sessionId, head, drafts, now);
  } catch (e) {
    // Data JSON cannot carry (BigInt, cycles) or RFC 8785 refuses (lone surrogates): the caller's
    // to fix, and retrying or reporting an outage would hide it.
    throw new TypeError(`session events cannot be hashed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}
