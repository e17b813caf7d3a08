// The last event this process appended per session, bounded, for every SessionLog adapter: a miss
// or a stale entry only costs a retry (the store's uniqueness check — a primary key, a create
// precondition — refuses a stale head, and the retry reads the real one).
import type { ChainHead } from './chain.ts';

export type CachedHead = ChainHead;

export class HeadCache {
  readonly #heads = new Map<string, CachedHead>();
  constructor(private readonly max: number) {}

  get(sessionId: string): CachedHead | undefined {
    return this.#heads.get(sessionId);
  }

  remember(sessionId: string, head: CachedHead): void {
    // Re-inserted so the oldest entry is always first in the Map's order, and evicted first.
    this.#heads.delete(sessionId);
    this.#heads.set(sessionId, { seq: head.seq, hash: head.hash });
    if (this.#heads.size > this.max) this.#heads.delete(this.#heads.keys().next().value!);
  }

  forget(sessionId: string): void {
    this.#heads.delete(sessionId);
  }
}
