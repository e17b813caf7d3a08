// An optional cache of verified tokens (policy `issuers[].tokenCache`, default off): the same
// compact token, by its SHA-256, gives the same Principal until min(its exp, verified + TTL).
//
// The trade-off, stated where it is made: a token or key the issuer revokes is honoured until the
// entry expires (≤ 60 s), and the clock checks (exp) are not repeated for a hit before `until` —
// which is why `until` never passes exp. Each verifier has its own cache, so a token verified for
// one deployment's audiences is never answered from the cache of another.
import type { Principal } from './principal.ts';

const MAX_ENTRIES = 10_000;

interface Entry {
  readonly principal: Principal;
  /** Milliseconds (the verifier's clock) after which the entry is not used. */
  readonly until: number;
}

export interface TokenCache {
  get(sha256: string, nowMs: number): Principal | undefined;
  set(sha256: string, principal: Principal, untilMs: number): void;
  readonly size: () => number;
}

export function createTokenCache(maxEntries = MAX_ENTRIES): TokenCache {
  // A Map keeps insertion order: the first key is the oldest, evicted when full.
  const entries = new Map<string, Entry>();
  return {
    size: () => entries.size,
    get(sha256, nowMs) {
      const e = entries.get(sha256);
      if (e === undefined) return undefined;
      if (nowMs >= e.until) {
        entries.delete(sha256);
        return undefined;
      }
      return e.principal;
    },
    set(sha256, principal, untilMs) {
      entries.delete(sha256);
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(sha256, { principal: freezePrincipal(principal), until: untilMs });
    },
  };
}

/** A cached Principal is shared by every request presenting that token: nobody may change it. */
export function freezePrincipal(p: Principal): Principal {
  Object.freeze(p.groups);
  if (p.token) Object.freeze(p.token);
  return Object.freeze(p);
}
