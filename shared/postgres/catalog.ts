// The CatalogReader port over node-postgres: relation OIDs and names → schema, name, columns,
// ancestors; views and materialized views → the base columns each of their columns can carry.
//
// It has pools of its own (same credentials, same module as the statement's), not a client from
// the statement's pool: the masker asks while the bot's statement still holds its client (the
// outcome is recorded before COMMIT), and with every client so held a shared pool would wait on
// itself. Answers are cached per connection; an OID the cache does not know means the schema
// changed, so the connection's cache is dropped and rebuilt, and nothing is kept longer than
// `maxAgeMs` (a view replaced in place keeps its OID).
//
// What a view's columns carry is worked out from its definition by the SQL lineage analysis, which
// is the masking step's (shared/masking/view-lineage.ts): this module asks it through the
// ViewLineageAnalyzer port and imports nothing of masking.
import { GatehouseError, isGatehouseError } from '../errors.ts';
import type { CatalogReader, ParsedView, RelationInfo, RoutineCatalogReader, SecretSource, ViewColumnLineage, ViewLineageAnalyzer } from '../ports.ts';
import type { RoutineCatalog } from '../sql/routines.ts';
import { loadRoutineCatalog } from './routine-catalog.ts';
import { withDeadline } from './deadline.ts';
import { createPools, type Pools } from './pools.ts';

/**
 * Relations by OID: name, kind, live columns, the tables it inherits from (partitions included),
 * and for views and materialized views their definition and every relation their rewrite rule
 * depends on. pg_depend is per column for plain references but not for whole-row references, so
 * the dependency list is used per relation, never per column.
 */
const RELATIONS_BY_OID = `
SELECT c.oid::pg_catalog.int8 AS oid,
       n.nspname AS schema,
       c.relname AS name,
       c.relkind::pg_catalog.text AS relkind,
       COALESCE((SELECT pg_catalog.json_agg(pg_catalog.json_build_array(a.attnum, a.attname) ORDER BY a.attnum)
                   FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped),
                '[]'::pg_catalog.json) AS columns,
       COALESCE((WITH RECURSIVE up(parent, depth) AS (
                   SELECT i.inhparent, 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid OPERATOR(pg_catalog.=) c.oid
                   UNION ALL
                   SELECT i.inhparent, up.depth OPERATOR(pg_catalog.+) 1
                     FROM up JOIN pg_catalog.pg_inherits i ON i.inhrelid OPERATOR(pg_catalog.=) up.parent
                    WHERE up.depth OPERATOR(pg_catalog.<) 32)
                 SELECT pg_catalog.json_agg(pn.nspname OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.relname ORDER BY up.depth)
                   FROM up
                   JOIN pg_catalog.pg_class p ON p.oid OPERATOR(pg_catalog.=) up.parent
                   JOIN pg_catalog.pg_namespace pn ON pn.oid OPERATOR(pg_catalog.=) p.relnamespace),
                '[]'::pg_catalog.json) AS ancestors,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END AS definition,
       CASE WHEN c.relkind IN ('v', 'm') THEN
         COALESCE((SELECT pg_catalog.json_agg(DISTINCT d.refobjid::pg_catalog.int8)
                     FROM pg_catalog.pg_rewrite r
                     JOIN pg_catalog.pg_depend d
                       ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
                      AND d.objid OPERATOR(pg_catalog.=) r.oid
                      AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                      AND d.refobjid OPERATOR(pg_catalog.<>) c.oid
                    WHERE r.ev_class OPERATOR(pg_catalog.=) c.oid),
                  '[]'::pg_catalog.json)
       END AS depends,
       CASE WHEN c.oid OPERATOR(pg_catalog.>=) 16384 THEN
         COALESCE((WITH RECURSIVE owners AS (
                     SELECT 'pg_catalog.pg_rewrite'::pg_catalog.regclass AS classid, r.oid AS objid
                       FROM pg_catalog.pg_rewrite r WHERE r.ev_class OPERATOR(pg_catalog.=) c.oid
                     UNION ALL
                     SELECT 'pg_catalog.pg_policy'::pg_catalog.regclass, p.oid
                       FROM pg_catalog.pg_policy p WHERE p.polrelid OPERATOR(pg_catalog.=) c.oid),
                   refs AS (
                     SELECT d.refclassid, d.refobjid FROM pg_catalog.pg_depend d
                       JOIN owners o ON d.classid OPERATOR(pg_catalog.=) o.classid AND d.objid OPERATOR(pg_catalog.=) o.objid),
                   -- this relation and the inheritance children (partitions) a scan of it reads
                   down(rel) AS (
                     SELECT c.oid
                     UNION
                     SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN down ON i.inhparent OPERATOR(pg_catalog.=) down.rel)
                   SELECT pg_catalog.json_agg(DISTINCT f.fn::pg_catalog.int8) FROM (
                     SELECT refobjid AS fn FROM refs WHERE refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                     UNION
                     SELECT op.oprcode::pg_catalog.oid FROM refs JOIN pg_catalog.pg_operator op ON op.oid OPERATOR(pg_catalog.=) refs.refobjid
                      WHERE refs.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_operator'::pg_catalog.regclass
                     UNION
                     -- A foreign table, or one among the inheritance children a scan of this one
                     -- reads, is read by its wrapper's handler (file_fdw runs a program, postgres_fdw
                     -- runs SQL on another server).
                     SELECT w.fdwhandler FROM pg_catalog.pg_foreign_table ft
                       JOIN pg_catalog.pg_foreign_server fs ON fs.oid OPERATOR(pg_catalog.=) ft.ftserver
                       JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid OPERATOR(pg_catalog.=) fs.srvfdw
                      WHERE ft.ftrelid IN (SELECT rel FROM down)
                     UNION
                     -- An index scan calls the support functions of the index's operator classes
                     -- (a btree's comparison function), whatever operator the statement wrote.
                     SELECT ap.amproc::pg_catalog.oid FROM pg_catalog.pg_index ix
                       CROSS JOIN LATERAL pg_catalog.unnest(ix.indclass::pg_catalog.oid[]) oc(opc)
                       JOIN pg_catalog.pg_opclass o ON o.oid OPERATOR(pg_catalog.=) oc.opc
                       JOIN pg_catalog.pg_amproc ap ON ap.amprocfamily OPERATOR(pg_catalog.=) o.opcfamily
                      WHERE ix.indrelid IN (SELECT rel FROM down)
                     UNION
                     -- Partition pruning compares with the partition key's operator classes.
                     SELECT ap.amproc::pg_catalog.oid FROM pg_catalog.pg_partitioned_table pt
                       CROSS JOIN LATERAL pg_catalog.unnest(pt.partclass::pg_catalog.oid[]) oc(opc)
                       JOIN pg_catalog.pg_opclass o ON o.oid OPERATOR(pg_catalog.=) oc.opc
                       JOIN pg_catalog.pg_amproc ap ON ap.amprocfamily OPERATOR(pg_catalog.=) o.opcfamily
                      WHERE pt.partrelid IN (SELECT rel FROM down)) f
                    WHERE f.fn OPERATOR(pg_catalog.>=) 16384),
                  '[]'::pg_catalog.json)
       END AS calls,
       c.reltype::pg_catalog.int8 AS row_type,
       -- Relations a row security policy's expressions read (a subquery in USING): reading this one
       -- reads them, with whatever they run.
       COALESCE((SELECT pg_catalog.json_agg(DISTINCT d.refobjid::pg_catalog.int8)
                   FROM pg_catalog.pg_policy p
                   JOIN pg_catalog.pg_depend d
                     ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_policy'::pg_catalog.regclass
                    AND d.objid OPERATOR(pg_catalog.=) p.oid
                    AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                    AND d.refobjid OPERATOR(pg_catalog.<>) c.oid
                  WHERE p.polrelid OPERATOR(pg_catalog.=) c.oid),
                '[]'::pg_catalog.json) AS policy_reads,
       -- Types a view's rule or a row security policy converts to or compares (a constant or cast of
       -- a domain type): their CHECK, input and comparison functions run without a call in pg_depend.
       CASE WHEN c.oid OPERATOR(pg_catalog.>=) 16384 THEN
         COALESCE((SELECT pg_catalog.json_agg(DISTINCT d.refobjid::pg_catalog.int8)
                     FROM pg_catalog.pg_depend d
                    WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass
                      AND ((d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
                            AND d.objid IN (SELECT r.oid FROM pg_catalog.pg_rewrite r WHERE r.ev_class OPERATOR(pg_catalog.=) c.oid))
                        OR (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_policy'::pg_catalog.regclass
                            AND d.objid IN (SELECT p.oid FROM pg_catalog.pg_policy p WHERE p.polrelid OPERATOR(pg_catalog.=) c.oid)))),
                  '[]'::pg_catalog.json)
       END AS types
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
 WHERE c.oid OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.oid[])`;

/** Relations named `schema.name` ($2), or `name` in any schema ($1). */
const RELATIONS_BY_NAME = `
SELECT c.oid::pg_catalog.int8 AS oid, n.nspname AS schema, c.relname AS name
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND (c.relname OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.text[])
        OR (n.nspname OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) c.relname) OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.text[]))`;

/**
 * Of the given names, those defined outside PostgreSQL's own schemas in a language that can run
 * SQL (SQL, PL/pgSQL, PL/Python, …). C and internal functions come with PostgreSQL or an extension
 * a DBA installed; the few of those that run SQL given as text are refused upstream (the analysis
 * classes them `unknown`: dblink, query_to_xml, …).
 */
const USER_FUNCTIONS = `
SELECT DISTINCT p.proname AS name
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
  JOIN pg_catalog.pg_language l ON l.oid OPERATOR(pg_catalog.=) p.prolang
 WHERE p.proname OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.text[])
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND l.lanname NOT IN ('c', 'internal')`;

export interface CatalogReaderOptions {
  readonly connections: Readonly<Record<string, { readonly credentials: string }>>;
  readonly secrets: SecretSource;
  /** Works out view column lineage from a view's definition (shared/masking/view-lineage.ts). */
  readonly views: ViewLineageAnalyzer;
  /** Clients per connection; default 2 (catalog reads are short and mostly cached). */
  readonly poolSize?: number;
  /** Longest time an answer is reused; default 60 s. */
  readonly maxAgeMs?: number;
  /** Deadline for each catalog query; default 5 s. */
  readonly queryTimeoutMs?: number;
  /** Milliseconds; default Date.now. */
  readonly clock?: () => number;
  /**
   * Longest time the function catalog (the read allowlist's) is reused; default 30 s. A function
   * created or altered since is seen at the latest then, or at once when a statement calls a name
   * the cached catalog does not have.
   */
  readonly routinesMaxAgeMs?: number;
  /** Shortest time between two reads of the function catalog forced by unknown names; default 2 s. */
  readonly routinesRefreshMinMs?: number;
}

export interface ClosableCatalogReader extends CatalogReader, RoutineCatalogReader {
  close(): Promise<void>;
}

/** Views over views are followed this deep; past it a column may carry anything (fail closed). */
export const MAX_VIEW_DEPTH = 16;

interface State {
  readonly at: number;
  readonly byOid: Map<number, RelationInfo>;
  readonly byName: Map<string, readonly number[]>;
  readonly functions: Map<string, boolean>;
}

interface RawRelation {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  readonly relkind: string;
  readonly columns: readonly [number, string][];
  readonly ancestors: readonly string[];
  readonly definition: string | null;
  readonly depends: readonly number[] | null;
  readonly calls: readonly number[];
  readonly rowType: number;
  readonly types: readonly number[];
  readonly policyReads: readonly number[];
}

export function createCatalogReader(options: CatalogReaderOptions): ClosableCatalogReader {
  const { connections, secrets, views: viewLineage, poolSize = 2, maxAgeMs = 60_000, queryTimeoutMs = 5_000, clock = Date.now } = checkOptions(options);
  const { routinesMaxAgeMs = 30_000, routinesRefreshMinMs = 2_000 } = options;
  // Catalog reads are short and mostly cached: a long queue waits them out rather than refusing.
  const pools: Pools = createPools({ connections, secrets, poolSize, maxQueue: 1024, queueTimeoutMs: 10_000 });
  const states = new Map<string, State>();
  // One load in flight per connection: concurrent statements share it.
  const routineCatalogs = new Map<string, Promise<RoutineCatalog>>();

  function state(connection: string): State {
    const s = states.get(connection);
    if (s !== undefined && clock() - s.at <= maxAgeMs) return s;
    return reset(connection);
  }

  function reset(connection: string): State {
    const s: State = { at: clock(), byOid: new Map(), byName: new Map(), functions: new Map() };
    states.set(connection, s);
    return s;
  }

  async function query<R>(connection: string, text: string, values: unknown[]): Promise<R[]> {
    const lease = await pools.lease(connection);
    try {
      const work = lease.client.query(text, values);
      const result = await withDeadline(work, queryTimeoutMs, () => {
        lease.broken = true;
        lease.cancel();
      });
      return result.rows as R[];
    } catch (e) {
      if (isGatehouseError(e) && e.code !== 'statement_timeout') throw e;
      lease.broken = true;
      // Without the catalog nothing can be masked correctly: the caller fails closed.
      throw new GatehouseError('database_unavailable', `the catalog of connection "${connection}" could not be read`, { connection }, { cause: e });
    } finally {
      await lease.release();
    }
  }

  async function describe(connection: string, oids: readonly number[]): Promise<ReadonlyMap<number, RelationInfo>> {
    const wanted = [...new Set(oids)].filter((oid) => Number.isInteger(oid) && oid > 0);
    let s = state(connection);
    if (wanted.some((oid) => !s.byOid.has(oid))) {
      s = reset(connection);
      await load(connection, s, wanted, 0);
    }
    const out = new Map<number, RelationInfo>();
    for (const oid of wanted) {
      const info = s.byOid.get(oid);
      if (info !== undefined) out.set(oid, info);
    }
    return out;
  }

  async function load(connection: string, s: State, oids: readonly number[], depth: number): Promise<void> {
    const missing = oids.filter((oid) => !s.byOid.has(oid));
    if (missing.length === 0) return;
    const rows = (await query<Record<string, unknown>>(connection, RELATIONS_BY_OID, [missing])).map(rawRelation);
    const views = rows.filter((r) => r.definition !== null);
    const deps = [...new Set(views.flatMap((v) => v.depends ?? []))];
    if (deps.length > 0 && depth < MAX_VIEW_DEPTH) await load(connection, s, deps, depth + 1);

    const parsed = new Map<number, ParsedView>();
    const fnNames = new Set<string>();
    for (const v of views) {
      const p = await viewLineage.parse(v.definition!);
      parsed.set(v.oid, p);
      for (const f of p.functions) fnNames.add(f);
    }
    const userFns = fnNames.size > 0 ? await userFunctionsIn(connection, s, [...fnNames]) : new Set<string>();

    for (const r of rows) if (r.definition === null) s.byOid.set(r.oid, relationInfo(r));
    // Views in dependency order: a view over another view of this batch waits for it.
    let pending = views;
    while (pending.length > 0) {
      const ready = pending.filter((v) => (v.depends ?? []).every((d) => s.byOid.has(d) || !pending.some((p) => p.oid === d)));
      const batch = ready.length > 0 ? ready : pending; // a cycle cannot happen; if it did, fail closed below
      for (const v of batch) {
        const depInfos = (v.depends ?? []).map((d) => s.byOid.get(d));
        const attnums = v.columns.map(([attnum]) => Number(attnum));
        s.byOid.set(v.oid, relationInfo(v, parsed.get(v.oid)!.columns(attnums, depInfos, userFns)));
      }
      pending = pending.filter((v) => !batch.includes(v));
    }
  }

  async function lookup(connection: string, names: readonly string[]): Promise<ReadonlyMap<string, readonly RelationInfo[]>> {
    const s = state(connection);
    const unique = [...new Set(names)];
    const unknown = unique.filter((n) => !s.byName.has(n));
    if (unknown.length > 0) {
      const bare = new Set<string>();
      const qualified = new Set<string>();
      for (const n of unknown) {
        for (const key of lookupKeys(n)) (key.schema === undefined ? bare : qualified).add(key.schema === undefined ? key.name : `${key.schema}.${key.name}`);
      }
      const rows = await query<{ oid: string; schema: string; name: string }>(connection, RELATIONS_BY_NAME, [[...bare], [...qualified]]);
      for (const n of unknown) {
        const keys = lookupKeys(n);
        const oids = rows.filter((r) => keys.some((k) => r.name === k.name && (k.schema === undefined || r.schema === k.schema))).map((r) => Number(r.oid));
        // Only found names are kept: a relation created later under a name asked for now must be seen.
        if (oids.length > 0) s.byName.set(n, oids);
      }
    }
    const all = unique.flatMap((n) => s.byName.get(n) ?? []);
    // Not describe(): it drops the whole cache on an OID it does not know (a RowDescription naming
    // one means the schema changed), and a name looked up for the first time always brings one —
    // statements over different tables then emptied each other's cache on every request.
    const unloaded = all.filter((oid) => !s.byOid.has(oid));
    if (unloaded.length > 0) await load(connection, s, unloaded, 0);
    const infos = new Map(all.flatMap((oid) => (s.byOid.has(oid) ? [[oid, s.byOid.get(oid)!] as const] : [])));
    const out = new Map<string, readonly RelationInfo[]>();
    for (const n of unique) out.set(n, (s.byName.get(n) ?? []).map((oid) => infos.get(oid)).filter((i): i is RelationInfo => i !== undefined));
    return out;
  }

  async function userFunctionsIn(connection: string, s: State, names: readonly string[]): Promise<Set<string>> {
    const unknown = [...new Set(names)].filter((n) => !s.functions.has(n));
    if (unknown.length > 0) {
      const rows = await query<{ name: string }>(connection, USER_FUNCTIONS, [unknown]);
      const found = new Set(rows.map((r) => r.name));
      for (const n of unknown) s.functions.set(n, found.has(n));
    }
    return new Set(names.filter((n) => s.functions.get(n) === true));
  }

  async function routines(connection: string, { refresh = false }: { readonly refresh?: boolean } = {}): Promise<RoutineCatalog> {
    const cached = routineCatalogs.get(connection);
    if (cached !== undefined) {
      const current = await cached.catch(() => undefined);
      const age = current === undefined ? Infinity : clock() - current.loadedAt;
      if (current !== undefined && age <= routinesMaxAgeMs && !(refresh && age >= routinesRefreshMinMs)) return current;
      if (routineCatalogs.get(connection) !== cached) return routines(connection); // another caller reloads already
    }
    const loading = loadRoutineCatalog((text) => query(connection, text, []), clock());
    routineCatalogs.set(connection, loading);
    loading.catch(() => {
      if (routineCatalogs.get(connection) === loading) routineCatalogs.delete(connection); // try again next time
    });
    return loading;
  }

  return {
    describe,
    lookup,
    routines,
    userFunctions: (connection, names) => userFunctionsIn(connection, state(connection), names),
    close: () => pools.close(),
  };
}

// --- building RelationInfo ----------------------------------------------------------------------

const KINDS: Readonly<Record<string, RelationInfo['kind']>> = { r: 'table', p: 'table', v: 'view', m: 'matview' };

function rawRelation(row: Record<string, unknown>): RawRelation {
  return {
    oid: Number(row.oid),
    schema: String(row.schema),
    name: String(row.name),
    relkind: String(row.relkind),
    columns: (row.columns as [number, string][]) ?? [],
    ancestors: (row.ancestors as string[]) ?? [],
    definition: typeof row.definition === 'string' ? row.definition : null,
    depends: Array.isArray(row.depends) ? row.depends.map(Number) : null,
    calls: Array.isArray(row.calls) ? row.calls.map(Number) : [],
    rowType: Number(row.row_type ?? 0),
    types: Array.isArray(row.types) ? row.types.map(Number) : [],
    policyReads: Array.isArray(row.policy_reads) ? row.policy_reads.map(Number) : [],
  };
}

function relationInfo(r: RawRelation, viewColumns?: ReadonlyMap<number, ViewColumnLineage>): RelationInfo {
  return {
    oid: r.oid,
    schema: r.schema,
    name: r.name,
    kind: KINDS[r.relkind] ?? 'other',
    columns: new Map(r.columns.map(([attnum, name]) => [Number(attnum), name])),
    ancestors: r.ancestors,
    ...(viewColumns ? { viewColumns } : {}),
    ...(r.calls.length > 0 ? { calls: r.calls } : {}),
    ...(r.rowType !== 0 ? { rowType: r.rowType } : {}),
    ...(r.types.length > 0 ? { types: r.types } : {}),
    ...(r.policyReads.length > 0 ? { policyReads: r.policyReads } : {}),
    ...(r.depends !== null && r.depends.length > 0 ? { depends: r.depends } : {}),
  };
}

/**
 * What a name as written (parts joined with dots, as relationName gives it) may denote. `db.s.t` is
 * `s.t`; but a quoted name may hold dots itself — `"x.y"` is a relation named `x.y` on the search
 * path, `"a.b".c` one named c in schema `a.b` — so every split is asked for, and the bare whole:
 * a relation that is not found is not checked for what reading it runs. Over-matching only checks more.
 */
function lookupKeys(written: string): { schema?: string; name: string }[] {
  const parts = written.split('.');
  const keys: { schema?: string; name: string }[] = [{ name: written }];
  for (let i = 1; i < parts.length; i++) keys.push({ schema: parts.slice(0, i).join('.'), name: parts.slice(i).join('.') });
  if (parts.length > 2) keys.push({ schema: parts[parts.length - 2]!, name: parts[parts.length - 1]! });
  return keys;
}

function checkOptions(options: CatalogReaderOptions): CatalogReaderOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('createCatalogReader: options are required');
  if (typeof options.connections !== 'object' || options.connections === null) throw new TypeError('createCatalogReader: connections must be an object');
  if (typeof options.secrets?.resolve !== 'function') throw new TypeError('createCatalogReader: secrets must be a SecretSource');
  if (typeof options.views?.parse !== 'function') throw new TypeError('createCatalogReader: views must be a ViewLineageAnalyzer');
  for (const key of ['poolSize', 'maxAgeMs', 'queryTimeoutMs'] as const) {
    const v = options[key];
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new TypeError(`createCatalogReader: ${key} must be a positive integer`);
  }
  return options;
}
