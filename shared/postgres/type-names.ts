// RowDescription carries type OIDs; the answer names types. The names are cached per pool (per
// database): built-in OIDs never change, and a user type's OID is only reused after it was dropped.

export interface TypeNames {
  /** Names for these OIDs, asking `lookup` (pg_type, TYPE_NAMES) once for any not yet cached. */
  resolve(lookup: (missing: number[]) => Promise<readonly { oid: number | string; typname: string }[]>, oids: readonly number[]): Promise<ReadonlyMap<number, string>>;
  /** Whether every one of these is cached (no round trip needed). */
  has(oids: readonly number[]): boolean;
}

export function createTypeNames(): TypeNames {
  const cache = new Map<number, string>();
  return {
    has: (oids) => oids.every((oid) => cache.has(oid)),
    async resolve(lookup, oids) {
      const missing = [...new Set(oids)].filter((oid) => !cache.has(oid));
      if (missing.length > 0) {
        for (const row of await lookup(missing)) cache.set(Number(row.oid), row.typname);
      }
      return cache;
    },
  };
}
