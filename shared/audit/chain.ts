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
    const unhashed = {
      sessionId,
      seq: prev ? prev.seq + 1 : 0,
      type: draft.type,
      at: now.toISOString(),
      data,
      prevHash: prev ? prev.hash : null,
    };
    const event: SessionEvent = { ...unhashed, hash: hashEvent(unhashed) };
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
