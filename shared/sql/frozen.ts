// Cached statements are shared by every request that sends the same SQL: nothing reachable from
// one may change, or a request could alter what another is told or decided on.

/** A Map that refuses changes once built (Object.freeze does not reach a Map's entries). */
export class FrozenMap<K, V> extends Map<K, V> {
  #sealed = false;
  constructor(entries: Iterable<readonly [K, V]>) {
    super(); // not super(entries): Map's constructor would call set() before #sealed exists
    for (const [k, v] of entries) super.set(k, v);
    this.#sealed = true;
    Object.freeze(this);
  }
  override set(key: K, value: V): this {
    if (this.#sealed) throw new TypeError('a cached statement cannot be changed');
    return super.set(key, value);
  }
  override delete(): boolean {
    throw new TypeError('a cached statement cannot be changed');
  }
  override clear(): void {
    throw new TypeError('a cached statement cannot be changed');
  }
}

/**
 * Freezes a JSON-like value and everything it holds, iteratively (parse trees of untrusted SQL can
 * be deep; the depth guard bounds them, but recursion here would be one more stack to reason about).
 */
export function deepFreeze<T>(root: T): T {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null || Object.isFrozen(v)) continue;
    if (v instanceof Map) {
      if (!(v instanceof FrozenMap)) throw new TypeError('deepFreeze: use FrozenMap for maps');
      for (const [k, x] of v) stack.push(k, x);
      continue;
    }
    Object.freeze(v);
    for (const key of Object.keys(v)) stack.push((v as Record<string, unknown>)[key]);
  }
  return root;
}
