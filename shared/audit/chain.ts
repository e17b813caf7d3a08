import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { EventDraft, SessionEvent } from './events.ts';

/** The chain position an append continues from: nothing yet, or the last stored event. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

export function hashEvent(event: Omit<SessionEvent, 'hash'>): string {
  const { sessionId, seq, type, at, data, prevHash } = event;
  // Only the fields of the contract go into the hash, so an adapter that adds storage fields
  // (ids, timestamps of its own) cannot change what is verified.
  const canonical = canonicalize({ sessionId, seq, type, at, data, prevHash });
  if (canonical === undefined) throw new TypeError('event is not JSON-serialisable');
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

// The canonical JSON of each chained event's data, for the adapter that writes it (storedData).
const dataTexts = new WeakMap<SessionEvent, string>();

/**
 * The JSON text a store writes for an event's data: the canonical JSON chainEvents hashed (no
 * second serialisation), or a fresh one for an event it did not chain. Either parses to `data`.
 */
export function storedData(event: SessionEvent): string {
  return dataTexts.get(event) ?? JSON.stringify(event.data);
}

/**
 * hashEvent, given the canonical JSON of `data`: RFC 8785 orders the members by key (at, data,
 * prevHash, seq, sessionId, type) and writes primitives as JSON.stringify does, so the text is
 * put together around `dataJson` and hashed piece by piece. test/audit/chain-hash.test.ts holds
 * it equal to hashEvent.
 */
function hashWithData(event: Omit<SessionEvent, 'hash'>, dataJson: string): string {
  const { sessionId, seq, type, at, prevHash } = event;
  // Anything canonicalize itself would refuse (a lone surrogate in an id) takes the plain path, and fails there.
  if (![sessionId, type, at, prevHash ?? ''].every((v) => typeof v === 'string' && v.isWellFormed()) || !Number.isSafeInteger(seq)) return hashEvent(event);
  const head = `{"at":${JSON.stringify(at)},"data":`;
  const tail = `,"prevHash":${JSON.stringify(prevHash)},"seq":${JSON.stringify(seq)},"sessionId":${JSON.stringify(sessionId)},"type":${JSON.stringify(type)}}`;
  return createHash('sha256').update(head, 'utf8').update(dataJson, 'utf8').update(tail, 'utf8').digest('hex');
}

/** Links drafts onto `head` (or starts a chain), assigning seq, prevHash and hash. */
export function chainEvents(
  sessionId: string,
  head: ChainHead | null,
  drafts: readonly EventDraft[],
  now: Date,
): SessionEvent[] {
  const out: SessionEvent[] = [];
  let prev = head;
  for (const draft of drafts) {
    // JSON round-trip first: the hash must cover exactly what a reader will get back
    // (no undefined fields, no Dates, no class instances).
    const data = JSON.parse(JSON.stringify(draft.data)) as Record<string, unknown>;
    // The canonical JSON of `data` is built once: it is hashed inside the event's canonical JSON
    // and it is what the store writes (storedData). A large result is then not serialised again
    // for the INSERT, nor copied into one flat string with the rest of the event to be hashed.
    const dataJson = canonicalize(data);
    if (dataJson === undefined) throw new TypeError('event is not JSON-serialisable');
    const unhashed = {
      sessionId,
      seq: prev ? prev.seq + 1 : 0,
      type: draft.type,
      at: now.toISOString(),
      data,
      prevHash: prev ? prev.hash : null,
    };
    const event: SessionEvent = { ...unhashed, hash: hashWithData(unhashed, dataJson) };
    dataTexts.set(event, dataJson);
    out.push(event);
    prev = event;
  }
  return out;
}

export type ChainProblem =
  | { readonly kind: 'hash_mismatch'; readonly seq: number }
  | { readonly kind: 'link_broken'; readonly seq: number }
  | { readonly kind: 'seq_gap'; readonly expected: number; readonly found: number }
  | { readonly kind: 'wrong_session'; readonly seq: number };

/**
 * Re-checks one session's events in order. An empty list of problems means the chain holds.
 * `hash` must compute hashEvent (evidence passes a faster equivalent: shared/evidence/event-hash.ts).
 */
export function verifyChain(sessionId: string, events: readonly SessionEvent[], hash: (e: Omit<SessionEvent, 'hash'>) => string = hashEvent): ChainProblem[] {
  const problems: ChainProblem[] = [];
  let prev: SessionEvent | undefined;
  events.forEach((e, i) => {
    if (e.sessionId !== sessionId) problems.push({ kind: 'wrong_session', seq: e.seq });
    if (e.seq !== i) problems.push({ kind: 'seq_gap', expected: i, found: e.seq });
    const { hash: own, ...rest } = e;
    if (hash(rest) !== own) problems.push({ kind: 'hash_mismatch', seq: e.seq });
    if ((prev ? prev.hash : null) !== e.prevHash) problems.push({ kind: 'link_broken', seq: e.seq });
    prev = e;
  });
  return problems;
}
