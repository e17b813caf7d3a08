// The read allowlist's view of a target database (shared/sql/routines.ts): every function, and the
// user-defined operators and casts that call functions without looking like calls. Read whole, once
// per connection, then held as hash maps: the analysis asks per statement and must not cost a
// round trip (issue budget: ≤ 25 µs per statement on a warm catalog).
import type { Hook, Routine, RoutineCatalog, TypeHooks, Volatility } from '../sql/routines.ts';

/**
 * Every function. `builtin`: created by initdb (OID below FirstNormalObjectId, 16384) in
 * pg_catalog or information_schema — not an extension someone installed into pg_catalog later.
 */
export const ROUTINES = `
SELECT p.oid::pg_catalog.int8 AS oid,
       n.nspname AS schema,
       p.proname AS name,
       pg_catalog.oidvectortypes(p.proargtypes) AS args,
       p.pronargdefaults AS defaults,
       p.provariadic OPERATOR(pg_catalog.<>) 0 AS variadic,
       p.provolatile::pg_catalog.text AS volatility,
       l.lanname AS language,
       p.prokind::pg_catalog.text AS kind,
       p.proretset AS retset,
       p.prorettype::pg_catalog.int8 AS rettype,
       pg_catalog.array_to_json(p.proargtypes::pg_catalog.oid[]) AS argtypeids,
       (p.oid OPERATOR(pg_catalog.<) 16384 AND n.nspname IN ('pg_catalog', 'information_schema')) AS builtin
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
  JOIN pg_catalog.pg_language l ON l.oid OPERATOR(pg_catalog.=) p.prolang`;

/**
 * Operators someone created, and the functions each runs: its own, and the planner's selectivity
 * estimators (RESTRICT, JOIN), which run when the statement is planned — also for a built-in
 * operator whose estimators were altered (ALTER OPERATOR … SET (RESTRICT = …)).
 */
export const USER_OPERATORS = `
SELECT o.oprname AS name, n.nspname AS schema,
       pg_catalog.json_build_array(o.oprcode::pg_catalog.oid::pg_catalog.int8, o.oprrest::pg_catalog.oid::pg_catalog.int8, o.oprjoin::pg_catalog.oid::pg_catalog.int8) AS functions
  FROM pg_catalog.pg_operator o
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) o.oprnamespace
 WHERE o.oid OPERATOR(pg_catalog.>=) 16384 OR o.oprrest::pg_catalog.oid OPERATOR(pg_catalog.>=) 16384
    OR o.oprjoin::pg_catalog.oid OPERATOR(pg_catalog.>=) 16384`;

/**
 * Per type, the functions someone created that PostgreSQL may run for it with no call written.
 * `conversion`: converting a value to the type — a cast function, the type's input function, a
 * domain CHECK constraint that calls one. `use`: having a value of the type at all — its output,
 * send and receive functions, its subscript handler (`v[1]`) and type modifier functions, the support functions and operators of its default btree and hash
 * operator classes (ORDER BY, DISTINCT, GROUP BY, UNION, window ORDER BY, max/min of arrays and
 * rows sort and hash with them, no operator written), an implicit cast from it (`upper(m)` of an
 * enum with an implicit cast to text calls the cast's function), and a range's canonical and
 * subtype-difference functions. An implicit cast from a built-in type (whose values are everywhere:
 * literals, any column) hangs on its target instead; one between two built-in types hangs on a
 * built-in type, which the resolver checks for every statement.
 * Every type that holds such a type inherits its functions, since converting, comparing or printing
 * it does the same to its parts: a domain over it, an array of it, a range over it, and a composite
 * (a table's, a view's or a CREATE TYPE's row type) with a column of it. `'(x)'::pc`,
 * `json_populate_record(NULL::t, …)` and `jsonb_to_record(…) AS x(d dom)` run the inner domain's CHECK.
 */
export const TYPE_HOOKS = `
WITH RECURSIVE direct(typ, fn, kind) AS (
        SELECT c.casttarget, c.castfunc, 'c' FROM pg_catalog.pg_cast c
         WHERE c.castfunc OPERATOR(pg_catalog.>=) 16384
        UNION ALL
        SELECT ty.oid, ty.typinput::pg_catalog.oid, 'c' FROM pg_catalog.pg_type ty
         WHERE ty.typinput::pg_catalog.oid OPERATOR(pg_catalog.>=) 16384
        UNION ALL
        SELECT k.contypid, d.refobjid, 'c' FROM pg_catalog.pg_constraint k
          JOIN pg_catalog.pg_depend d
            ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_constraint'::pg_catalog.regclass
           AND d.objid OPERATOR(pg_catalog.=) k.oid
           AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
         WHERE k.contypid OPERATOR(pg_catalog.<>) 0 AND d.refobjid OPERATOR(pg_catalog.>=) 16384
        UNION ALL
        SELECT ty.oid, f.fn, 'u' FROM pg_catalog.pg_type ty,
               LATERAL (VALUES (ty.typoutput::pg_catalog.oid), (ty.typsend::pg_catalog.oid), (ty.typreceive::pg_catalog.oid),
                                (ty.typsubscript::pg_catalog.oid), (ty.typmodin::pg_catalog.oid), (ty.typmodout::pg_catalog.oid)) f(fn)
         WHERE f.fn OPERATOR(pg_catalog.>=) 16384
        UNION ALL
        SELECT oc.opcintype, ap.amproc::pg_catalog.oid, 'u' FROM pg_catalog.pg_opclass oc
          JOIN pg_catalog.pg_am am ON am.oid OPERATOR(pg_catalog.=) oc.opcmethod AND am.amname IN ('btree', 'hash')
          JOIN pg_catalog.pg_amproc ap ON ap.amprocfamily OPERATOR(pg_catalog.=) oc.opcfamily
           AND ap.amproclefttype OPERATOR(pg_catalog.=) oc.opcintype AND ap.amprocrighttype OPERATOR(pg_catalog.=) oc.opcintype
         WHERE oc.opcdefault AND ap.amproc::pg_catalog.oid OPERATOR(pg_catalog.>=) 16384
        UNION ALL
        SELECT oc.opcintype, op.oprcode::pg_catalog.oid, 'u' FROM pg_catalog.pg_opclass oc
          JOIN pg_catalog.pg_am am ON am.oid OPERATOR(pg_catalog.=) oc.opcmethod AND am.amname IN ('btree', 'hash')
          JOIN pg_catalog.pg_amop ao ON ao.amopfamily OPERATOR(pg_catalog.=) oc.opcfamily
           AND ao.amoplefttype OPERATOR(pg_catalog.=) oc.opcintype AND ao.amoprighttype OPERATOR(pg_catalog.=) oc.opcintype
          JOIN pg_catalog.pg_operator op ON op.oid OPERATOR(pg_catalog.=) ao.amopopr
         WHERE oc.opcdefault AND op.oprcode::pg_catalog.oid OPERATOR(pg_catalog.>=) 16384
        UNION ALL
        SELECT CASE WHEN c.castsource OPERATOR(pg_catalog.<) 16384 THEN c.casttarget ELSE c.castsource END, c.castfunc, 'u'
          FROM pg_catalog.pg_cast c
         WHERE c.castcontext OPERATOR(pg_catalog.=) 'i' AND c.castfunc OPERATOR(pg_catalog.>=) 16384
        UNION ALL
        SELECT r.rngtypid, f.fn, 'u' FROM pg_catalog.pg_range r,
               LATERAL (VALUES (r.rngcanonical::pg_catalog.oid), (r.rngsubdiff::pg_catalog.oid)) f(fn)
         WHERE f.fn OPERATOR(pg_catalog.>=) 16384),
     -- container: the outer type is a value made of inner values that an untyped literal is read
     -- into as a whole ('{x}' for an array, '(x)' for a composite type, '[a,b)' for a range); a
     -- table's row type is not (its columns are what the statement compares).
     holds(outer_typ, inner_typ, container) AS (
        SELECT t.oid, t.typbasetype, false FROM pg_catalog.pg_type t WHERE t.typbasetype OPERATOR(pg_catalog.<>) 0
        UNION ALL
        SELECT t.oid, t.typelem, true FROM pg_catalog.pg_type t WHERE t.typelem OPERATOR(pg_catalog.<>) 0
        UNION ALL
        SELECT r.rngtypid, r.rngsubtype, true FROM pg_catalog.pg_range r
        UNION ALL
        SELECT r.rngmultitypid, r.rngtypid, true FROM pg_catalog.pg_range r
        UNION ALL
        SELECT t.oid, a.atttypid, c.relkind OPERATOR(pg_catalog.=) 'c' FROM pg_catalog.pg_type t
          JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.typrelid
          JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) t.typrelid
         WHERE t.typrelid OPERATOR(pg_catalog.<>) 0 AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped),
     -- kind k: a conversion hook reached through a container (an array of a domain, a composite
     -- type with a domain field), which an untyped operand of any operator can run ('{x}').
     hooked(typ, fn, kind) AS (
        SELECT typ, fn, kind FROM direct
        UNION
        SELECT h2.outer_typ, h.fn, CASE WHEN h.kind OPERATOR(pg_catalog.=) 'c' AND h2.container THEN 'k' ELSE h.kind END
          FROM hooked h JOIN holds h2 ON h2.inner_typ OPERATOR(pg_catalog.=) h.typ)
SELECT t.oid::pg_catalog.int8 AS oid, t.typname AS name, n.nspname AS schema,
       COALESCE(pg_catalog.json_agg(DISTINCT h.fn::pg_catalog.int8) FILTER (WHERE h.kind IN ('c', 'k')), '[]') AS conversion,
       COALESCE(pg_catalog.json_agg(DISTINCT h.fn::pg_catalog.int8) FILTER (WHERE h.kind OPERATOR(pg_catalog.=) 'k'), '[]') AS container,
       COALESCE(pg_catalog.json_agg(DISTINCT h.fn::pg_catalog.int8) FILTER (WHERE h.kind OPERATOR(pg_catalog.=) 'u'), '[]') AS use
  FROM hooked h
  JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) h.typ
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) t.typnamespace
 GROUP BY t.oid, t.typname, n.nspname`;

const VOLATILITY: Readonly<Record<string, Volatility>> = { i: 'immutable', s: 'stable', v: 'volatile' };
const KIND: Readonly<Record<string, Routine['kind']>> = { f: 'function', a: 'aggregate', w: 'window', p: 'procedure' };

type Query = <R>(text: string) => Promise<R[]>;

export async function loadRoutineCatalog(query: Query, now: number): Promise<RoutineCatalog> {
  // One after another, not in parallel: the catalog pool is small and shared with masking.
  const routines = await query<Record<string, unknown>>(ROUTINES);
  const operators = await query<Record<string, unknown>>(USER_OPERATORS);
  const types = await query<Record<string, unknown>>(TYPE_HOOKS);
  const byName = new Map<string, Routine[]>();
  const byOid = new Map<number, Routine>();
  for (const row of routines) {
    const r = routine(row);
    byOid.set(r.oid, r);
    const same = byName.get(r.name);
    if (same === undefined) byName.set(r.name, [r]);
    else same.push(r);
  }
  const castHooks = new Map<string, Hook[]>();
  const typeHooks = new Map<number, TypeHooks>();
  const everywhere = new Set<number>();
  for (const row of types) {
    const oid = Number(row.oid);
    const conversion = oids(row.conversion);
    const use = oids(row.use);
    const container = oids(row.container);
    typeHooks.set(oid, { conversion, use, ...(container.length > 0 ? { container } : {}) });
    // A written cast converts to the type and then uses the value (prints, sorts, casts it on).
    const hook: Hook = { schema: String(row.schema), functions: [...new Set([...conversion, ...use])] };
    const name = String(row.name);
    const same = castHooks.get(name);
    if (same === undefined) castHooks.set(name, [hook]);
    else same.push(hook);
    // A built-in type's values need no name in the statement (a literal, any column): what using
    // one may run is checked for every statement.
    if (oid < FIRST_NORMAL_OID) for (const fn of use) everywhere.add(fn);
  }
  return { byName, byOid, userOperators: hooks(operators), castHooks, typeHooks, everywhere: [...everywhere], loadedAt: now };
}

function routine(row: Record<string, unknown>): Routine {
  const args = String(row.args ?? '');
  return {
    oid: Number(row.oid),
    schema: String(row.schema),
    name: String(row.name),
    argTypes: args === '' ? [] : args.split(', '),
    defaults: Number(row.defaults ?? 0),
    variadic: row.variadic === true,
    // An unexpected letter is treated as the most dangerous value, not skipped.
    volatility: VOLATILITY[String(row.volatility)] ?? 'volatile',
    language: String(row.language),
    kind: KIND[String(row.kind)] ?? 'procedure',
    builtin: row.builtin === true,
    returnsSet: row.retset !== false,
    returnTypeId: Number(row.rettype ?? 0),
    argTypeIds: oids(row.argtypeids),
  };
}

/** FirstNormalObjectId: objects with a lower OID were created by initdb. */
const FIRST_NORMAL_OID = 16384;

function oids(v: unknown): number[] {
  return Array.isArray(v) ? v.map(Number) : [];
}

function hooks(rows: readonly Record<string, unknown>[]): Map<string, Hook[]> {
  const out = new Map<string, Hook[]>();
  for (const row of rows) {
    const name = String(row.name);
    const hook: Hook = { schema: String(row.schema), functions: Array.isArray(row.functions) ? row.functions.map(Number).filter((fn) => fn !== 0) : [] };
    const same = out.get(name);
    if (same === undefined) out.set(name, [hook]);
    else same.push(hook);
  }
  return out;
}
