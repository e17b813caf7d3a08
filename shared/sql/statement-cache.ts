// Parse once (issue 17 item 1): Statements by SQL text, and the catalog's verdict on them by
// connection and catalog version, in bounded LRUs.
//
// - `statement(sql)`: the parse tree and everything derived from it depend on the text alone, so
//   one process-wide cache serves every connection. A hit parses nothing; parse errors are not
//   cached (they cost a parse, and say nothing a later request could reuse).
// - `resolve(...)`: whether a `read` stays `read` depends on the connection's catalog. A verdict is
//   reused only while `routines(connection)` answers the very catalog object it was reached with
//   (the routine catalog's version: a reload — its max age, or the refresh a missing function
//   triggers — is a new object, and invalidates), and only when resolve.ts says it may be
//   (`reusableWith`: every name found, nothing missing). Views and row security read through a
//   relation are as fresh as the routine catalog (≤ 30 s by default), a little fresher than the
//   relation cache's own 60 s.
import type { ListedFunctions } from './allowlist.ts';
import type { Analysis } from './analysis.ts';
import { parseStatement } from './analyze.ts';
import { deepFreeze } from './frozen.ts';
import { resolveWithCatalog, type ResolvePorts } from './resolve.ts';
import type { RoutineCatalog } from './routines.ts';
import type { Statement } from './statement.ts';

export const DEFAULT_MAX_STATEMENTS = 1000;
/** Longer texts are parsed every time: a cache of 1000 of them could hold hundreds of MB. */
export const MAX_CACHED_SQL_LENGTH = 16 * 1024;

export interface StatementCacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly size: number;
}

export interface StatementCache {
  /** The Statement for this text: from the cache, or parsed (GatehouseError sql_* when not one statement). */
  statement(sql: string): Statement;
  /** The analysis with the catalog's verdict (resolve.ts), reused while the catalog is the same. */
  resolve(statement: Statement, connection: string, ports: ResolvePorts, listed: ListedFunctions): Promise<Analysis>;
  stats(): StatementCacheStats;
}

/** Least recently used goes first: a Map iterates in insertion order, and a hit re-inserts. */
class Lru<K, V> {
  readonly #max: number;
  readonly #map = new Map<K, V>();
  constructor(max: number) {
    this.#max = max;
  }
  get size(): number {
    return this.#map.size;
  }
  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }
  set(key: K, value: V): void {
    this.#map.delete(key);
    if (this.#map.size >= this.#max) this.#map.delete(this.#map.keys().next().value as K);
    this.#map.set(key, value);
  }
}

export function createStatementCache(maxEntries = DEFAULT_MAX_STATEMENTS): StatementCache {
  const statements = new Lru<string, Statement>(maxEntries);
  // connection → sql → verdict. `listed` is the policy's: a cache belongs to one gateway (one policy).
  const verdicts = new Map<string, Lru<string, { readonly catalog: RoutineCatalog; readonly analysis: Analysis; readonly listed: ListedFunctions }>>();
  let hits = 0;
  let misses = 0;

  return {
    statement(sql) {
      const cached = statements.get(sql);
      if (cached !== undefined) {
        hits++;
        return cached;
      }
      misses++;
      const parsed = parseStatement(sql);
      if (sql.length <= MAX_CACHED_SQL_LENGTH) statements.set(sql, parsed);
      return parsed;
    },

    async resolve(statement, connection, ports, listed) {
      if (statement.analysis.class !== 'read') return statement.analysis; // nothing the catalog could change
      let forConnection = verdicts.get(connection);
      const cached = forConnection?.get(statement.sql);
      if (cached !== undefined && cached.listed === listed) {
        // Cheap when nothing changed: the catalog reader answers its cached object.
        const current = await ports.routines.routines(connection).catch(() => undefined);
        if (current === cached.catalog) return cached.analysis;
      }
      const verdict = await resolveWithCatalog(statement.analysis, statement.sites, connection, ports, listed);
      if (verdict.reusableWith !== undefined && statement.sql.length <= MAX_CACHED_SQL_LENGTH) {
        if (forConnection === undefined) {
          forConnection = new Lru(maxEntries);
          verdicts.set(connection, forConnection);
        }
        forConnection.set(statement.sql, Object.freeze({ catalog: verdict.reusableWith, analysis: deepFreeze(verdict.analysis), listed }));
      }
      return verdict.analysis;
    },

    stats: () => ({ hits, misses, size: statements.size }),
  };
}

/** The process's statement cache: what the gateway, the masker and the estimate share by default. */
export const sharedStatements: StatementCache = createStatementCache();
