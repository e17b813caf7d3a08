// What the objects an approved statement names are on the target (attack review of issues 4 and
// 14, fourth round). The digest binds the text; the approvers were asked about what the text
// named then:
//
// - tables are analysed as written: `DELETE FROM events …` approved while the connection's
//   search_path found `archive.events` first ran, on an instance whose connections no longer did,
//   against `public.events` — same text, same digest, same analysis;
// - a function is named by its name: `CREATE OR REPLACE FUNCTION` gave `SELECT note_run($1)` a
//   body that deleted another table, and a trigger added to the table an approved INSERT writes
//   ran with it.
//
// So when a statement is held, each relation name it reads or writes is resolved as its connection
// resolves it (an unqualified one through the role's search_path: current_schemas(true),
// pg_catalog and pg_temp included) to `schema.name#oid;` and an md5 of what runs with it (its
// triggers with their functions' source, its rules — a view's definition among them — and its row
// security); each function name it calls, to an md5 of every function of that name (in its schema
// when qualified, in any schema otherwise) with its source and settings. Both are recorded in
// `approval.requested`, with the connection's effective search_path (a function body calling a
// helper by bare name found a deleting one in a schema a new search_path put first); a redemption
// resolves them again and must find the same (logged.ts checkRelationsUnchanged). Not covered: functions reached only through operators, casts, column
// defaults, constraints or other functions' bodies.
import type { Analysis } from '../sql/analysis.ts';

/** Name → resolution, or null when the connection finds nothing of that name. */
export interface BoundRelations {
  readonly relations: Readonly<Record<string, string | null>>;
  readonly routines: Readonly<Record<string, string | null>>;
  /**
   * The connection's effective search_path (current_schemas(true), a backend's own pg_temp_N left
   * out): what a function body, an operator or a cast names by bare name is found through it, and
   * none of those is bound above. Absent on approvals held before it was recorded.
   */
  readonly searchPath?: readonly string[];
}

/** The relation and function names a statement names, as the analysis has them. */
export function namedObjects(analysis: Pick<Analysis, 'tables' | 'functions'>): { relations: string[]; routines: string[] } {
  return {
    relations: [...new Set([...analysis.tables.read, ...analysis.tables.written])].sort(),
    routines: [...new Set(analysis.functions)].sort(),
  };
}

// Every function and operator qualified: the connection's search_path is what is being asked
// about, not something to trust.
const EQ = 'OPERATOR(pg_catalog.=)';
/** What runs with relation c: its triggers (and their functions' source), rules (a view's definition), row security. */
const RELATION = `(
  SELECT pg_catalog.concat(s.nsp, '.', c.relname, '#', c.oid, ';', pg_catalog.md5(pg_catalog.concat_ws('|',
    COALESCE((SELECT pg_catalog.string_agg(pg_catalog.concat_ws(':', t.tgname, t.tgenabled, t.tgtype, t.tgfoid, pg_catalog.md5(COALESCE(p.prosrc, ''))), ',' ORDER BY t.tgname)
       FROM pg_catalog.pg_trigger t LEFT JOIN pg_catalog.pg_proc p ON p.oid ${EQ} t.tgfoid WHERE t.tgrelid ${EQ} c.oid), ''),
    COALESCE((SELECT pg_catalog.string_agg(pg_catalog.concat_ws(':', r.rulename, r.ev_enabled, pg_catalog.md5(pg_catalog.pg_get_ruledef(r.oid))), ',' ORDER BY r.rulename)
       FROM pg_catalog.pg_rewrite r WHERE r.ev_class ${EQ} c.oid), ''),
    COALESCE((SELECT pg_catalog.string_agg(pg_catalog.concat_ws(':', pol.polname, pol.polcmd, pol.polpermissive, pol.polroles::pg_catalog.text,
        pg_catalog.md5(COALESCE(pg_catalog.pg_get_expr(pol.polqual, pol.polrelid), '')),
        pg_catalog.md5(COALESCE(pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid), ''))), ',' ORDER BY pol.polname)
       FROM pg_catalog.pg_policy pol WHERE pol.polrelid ${EQ} c.oid), ''),
    c.relkind, c.relrowsecurity, c.relforcerowsecurity)))
    FROM (SELECT u.nsp, u.i FROM pg_catalog.unnest(pg_catalog.current_schemas(true)) WITH ORDINALITY AS u(nsp, i) WHERE w.sch IS NULL
          UNION ALL SELECT w.sch, 0 WHERE w.sch IS NOT NULL) AS s
    JOIN pg_catalog.pg_namespace n ON n.nspname ${EQ} s.nsp
    JOIN pg_catalog.pg_class c ON c.relnamespace ${EQ} n.oid AND c.relname ${EQ} w.nam
   ORDER BY s.i LIMIT 1)`;
/** Every function of that name (in its schema when qualified): source, settings, owner. */
const ROUTINE = `(
  SELECT pg_catalog.md5(pg_catalog.string_agg(pg_catalog.concat_ws(':', p.oid, n.nspname, p.prokind, p.provolatile, p.prosecdef, p.proowner,
      pg_catalog.array_to_string(p.proconfig, ','), p.probin, pg_catalog.md5(COALESCE(p.prosrc, ''))), '|' ORDER BY p.oid))
    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid ${EQ} p.pronamespace
   WHERE p.proname ${EQ} w.nam AND (w.sch IS NULL OR n.nspname ${EQ} w.sch))`;
/** `schema.name` or `name`, from the JSON array under `key` of $1, as w(nm, sch, nam). */
const NAMES = (key: string) => `named, pg_catalog.json_array_elements_text(named.j OPERATOR(pg_catalog.->) '${key}') AS x(nm),
    LATERAL (SELECT pg_catalog.split_part(x.nm, '.', 1) AS a, pg_catalog.split_part(x.nm, '.', 2) AS b) AS y,
    LATERAL (SELECT x.nm, CASE WHEN y.b ${EQ} '' THEN NULL ELSE y.a END AS sch, CASE WHEN y.b ${EQ} '' THEN y.a ELSE y.b END AS nam) AS w`;

/**
 * One row, one column: `{"relations": {...}, "routines": {...}}` for the names given as one JSON
 * object `{"relations": [...], "routines": [...]}` ($1). A relation written `schema.name` is found
 * in that schema only; an unqualified one in the first schema of current_schemas(true) that holds
 * it — what PostgreSQL's own lookup does.
 */
export const RESOLVE_RELATIONS = `
WITH named AS (SELECT $1::pg_catalog.json AS j)
SELECT pg_catalog.json_build_object(
  'relations', (SELECT pg_catalog.json_object_agg(w.nm, ${RELATION}) FROM ${NAMES('relations')}),
  'routines', (SELECT pg_catalog.json_object_agg(w.nm, ${ROUTINE}) FROM ${NAMES('routines')}),
  'searchPath', (SELECT pg_catalog.json_agg(u.nsp ORDER BY u.i) FROM pg_catalog.unnest(pg_catalog.current_schemas(true)) WITH ORDINALITY AS u(nsp, i)
                  WHERE pg_catalog."left"(u.nsp::pg_catalog.text, 8) OPERATOR(pg_catalog.<>) 'pg_temp_')
)::pg_catalog.text`;

/** The query's one cell, checked: exactly the names asked, each a string or null. */
export function parseResolved(cell: unknown, names: { relations: readonly string[]; routines: readonly string[] }): BoundRelations {
  const value: unknown = typeof cell === 'string' ? JSON.parse(cell) : cell;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError('relations: not an object');
  const part = (key: 'relations' | 'routines'): Record<string, string | null> => {
    const got = (value as Record<string, unknown>)[key] ?? {};
    if (typeof got !== 'object' || got === null || Array.isArray(got)) throw new TypeError(`relations: ${key} is not an object`);
    const out: Record<string, string | null> = {};
    for (const n of names[key]) {
      const r = (got as Record<string, unknown>)[n];
      if (!(typeof r === 'string' || r === null)) throw new TypeError(`relations: a name is missing from ${key}`);
      out[n] = r;
    }
    return out;
  };
  const path = (value as Record<string, unknown>).searchPath;
  if (!Array.isArray(path) || !path.every((p) => typeof p === 'string')) throw new TypeError('relations: searchPath is not a list of schema names');
  return { relations: part('relations'), routines: part('routines'), searchPath: path as string[] };
}
