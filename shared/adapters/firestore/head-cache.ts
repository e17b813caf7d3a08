// The last event this process appended per session, bounded: a miss only costs a retry (the
// create precondition refuses a stale head, and the retry reads the real one). This file imports
// nothing, so it cannot reach Firestore: the create-only source check exempts it for its Map calls.

export interface CachedHead {
  readonly seq: number;
  readonly hash: string;
}

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
