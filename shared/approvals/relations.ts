// What the relations an approved statement names resolve to on the target (attack review of
// issues 4 and 14, fourth round). Tables are analysed as written: `DELETE FROM events …` approved
// while the connection's search_path found `archive.events` first ran, on an instance whose
// connections no longer did, against `public.events` — same text, same digest, same analysis. So
// when a statement is held, each unqualified name it reads or writes is resolved as its connection
// resolves it (the role's search_path: current_schemas(true), pg_catalog and pg_temp included) to
// `schema.name#oid` (null when nothing has that name), recorded in `approval.requested`; a
// redemption resolves them again and must find the same relations (logged.ts checkRelationsUnchanged).
// A relation dropped and created again has another OID: also refused — the approvers' table is gone.
import type { Analysis } from '../sql/analysis.ts';

/** Unqualified relation name → `schema.name#oid`, or null when the connection finds none. */
export type BoundRelations = Readonly<Record<string, string | null>>;

/** The unqualified names among the relations a statement reads or writes (a qualified one cannot move). */
export function unqualifiedRelations(analysis: Pick<Analysis, 'tables'>): string[] {
  return [...new Set([...analysis.tables.read, ...analysis.tables.written])].filter((n) => !n.includes('.')).sort();
}

/**
 * One row, one column: a JSON object name → resolution, for the names given as one JSON array ($1).
 * The first schema of current_schemas(true) holding a relation of that exact name — what
 * PostgreSQL's own lookup of an unqualified relation name does. Every operator qualified: the
 * connection's search_path is what is being asked about, not something to trust.
 */
export const RESOLVE_RELATIONS = `
SELECT pg_catalog.json_object_agg(w.name, (
  SELECT s.nsp OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) c.relname OPERATOR(pg_catalog.||) '#' OPERATOR(pg_catalog.||) c.oid::pg_catalog.text
    FROM pg_catalog.unnest(pg_catalog.current_schemas(true)) WITH ORDINALITY AS s(nsp, i)
    JOIN pg_catalog.pg_namespace n ON n.nspname OPERATOR(pg_catalog.=) s.nsp
    JOIN pg_catalog.pg_class c ON c.relnamespace OPERATOR(pg_catalog.=) n.oid AND c.relname OPERATOR(pg_catalog.=) w.name
   ORDER BY s.i LIMIT 1))::pg_catalog.text
  FROM pg_catalog.json_array_elements_text($1::pg_catalog.json) AS w(name)`;

/** The query's one cell, checked: an object of names to strings or null, exactly the names asked. */
export function parseResolved(cell: unknown, names: readonly string[]): BoundRelations {
  const value: unknown = typeof cell === 'string' ? JSON.parse(cell) : cell;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TypeError('relations: not an object');
  const out: Record<string, string | null> = {};
  for (const n of names) {
    const r = (value as Record<string, unknown>)[n];
    if (!(typeof r === 'string' || r === null)) throw new TypeError('relations: a name is missing');
    out[n] = r;
  }
  return out;
}
