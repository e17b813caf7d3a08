// Whether the signed tree holds an event of a session that the store's read of it does not show.
// "Covered by a signed checkpoint" (sessions show) must mean the session as the signed log holds
// it, not only that each event shown is a leaf: a store can leave a session's last events out of
// what it reads — Firestore keeps each leaf in a document of its own, so deleting an event's
// document leaves its leaf (and the signed root) intact; PostgreSQL's owner can move an event's
// row to another session id, leaf and all. A leaf's sessionId and seq are labels no hash covers,
// so a leaf after the session's first event is accepted as another session's only when that
// session, read from the store, holds an event at that index whose own hash is the leaf's (the
// hash covers the event's sessionId). This is export's rule for leaves of sessions it does not
// hold (shared/evidence/log-coverage.ts).
import { hashEvent } from '../audit/chain.ts';
import type { SessionEvent } from '../audit/events.ts';
import type { LogLeafReader, SessionLog } from '../ports.ts';

const PAGE = 2_000;
/** Sessions whose proven leaves are kept while the log is read (a session's leaves sit close together). */
const KEPT = 1_024;
/** Reads in flight on a store without readMany (as `sessions list` reads Firestore). */
const READS_AT_ONCE = 16;

export type SessionReader = Pick<SessionLog, 'read'> & Partial<Pick<SessionLog, 'readMany'>>;

/**
 * A reason, when a leaf in [first shown index, to) is not one of the `shown` events and cannot be
 * shown to be another session's; undefined when every such leaf is another session's event.
 */
export async function leafNotShown(log: LogLeafReader & SessionReader, sessionId: string, shown: readonly SessionEvent[], to: number): Promise<string | undefined> {
  // A session shown from its first event on: no event of it can sit before that event's leaf.
  if (shown.length === 0 || shown[0]!.seq !== 0 || shown.some((e, i) => e.seq !== i)) {
    return 'the store does not show the session from its first event on, each event once and in order';
  }
  const mine = new Set(shown.map((e) => e.index));
  const from = Math.min(...shown.map((e) => e.index as number));
  const proven = new Map<string, Map<number, string>>();
  for (let s = from; s < to; s += PAGE) {
    const page = await log.leaves(s, Math.min(to, s + PAGE));
    const need = [...new Set(page.filter((l) => !mine.has(l.index) && l.sessionId !== sessionId && !proven.has(l.sessionId)).map((l) => l.sessionId))];
    if (need.length) {
      const read = await readSessions(log, need);
      for (const id of need) {
        proven.set(id, provenLeaves(id, read.get(id) ?? []));
        if (proven.size > KEPT) proven.delete(proven.keys().next().value!);
      }
    }
    for (const leaf of page) {
      if (mine.has(leaf.index)) continue;
      if (leaf.sessionId === sessionId) return `the signed log holds event ${leaf.seq} of this session at leaf ${leaf.index}, which the store does not show`;
      if (proven.get(leaf.sessionId)?.get(leaf.index) !== leaf.hash) {
        return `leaf ${leaf.index} is labelled event ${leaf.seq} of session ${leaf.sessionId}, which holds no such event: it may be an event of this session that the store does not show`;
      }
    }
  }
  return undefined;
}

/** Sessions' events: readMany 100 at a time, or (a store without it, Firestore) a few reads at a time, not a page's worth at once. */
async function readSessions(log: SessionReader, ids: readonly string[]): Promise<Map<string, readonly SessionEvent[]>> {
  const out = new Map<string, readonly SessionEvent[]>();
  if (log.readMany) {
    // 100 sessions a query, as export reads them (shared/evidence/sessions-in-range.ts READ_BATCH).
    for (let i = 0; i < ids.length; i += 100) for (const [id, events] of await log.readMany(ids.slice(i, i + 100))) out.set(id, events);
    return out;
  }
  for (let i = 0; i < ids.length; i += READS_AT_ONCE) {
    const batch = ids.slice(i, i + READS_AT_ONCE);
    for (const [id, events] of await Promise.all(batch.map(async (id) => [id, await log.read(id)] as const))) out.set(id, events);
  }
  return out;
}

/** Index → hash of the session's events that have a place in the log and whose hash holds. */
function provenLeaves(sessionId: string, events: readonly SessionEvent[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const e of events) {
    if (e.index === undefined || e.sessionId !== sessionId) continue;
    try {
      if (hashEvent(e) === e.hash) out.set(e.index, e.hash);
    } catch {
      // Not hashable: proves nothing.
    }
  }
  return out;
}
