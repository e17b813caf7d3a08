// RowDescription carries type OIDs; the answer names types. The names are cached per pool (per
// database): built-in OIDs never change, and a user type's OID is only reused after it was dropped.
import type { PoolClient } from 'pg';
import { TYPE_NAMES } from './statements.ts';

export interface TypeNames {
  /** Names for these OIDs, querying pg_type once for any not yet cached. */
  resolve(client: PoolClient, oids: readonly number[]): Promise<ReadonlyMap<number, string>>;
}

export function createTypeNames(): TypeNames {
  const cache = new Map<number, string>();
  return {
    async resolve(client, oids) {
      const missing = [...new Set(oids)].filter((oid) => !cache.has(oid));
      if (missing.length > 0) {
        const found = await client.query<{ oid: number; typname: string }>(TYPE_NAMES, [missing]);
        for (const row of found.rows) cache.set(Number(row.oid), row.typname);
      }
      return cache;
    },
  };
}
