// View column lineage, for the catalog reader (shared/postgres/catalog.ts asks through the
// ViewLineageAnalyzer port): which base table columns each column of a view can carry, worked out
// from the view's definition with the same lineage analysis the masking plan uses. A definition
// that does not parse, a reference that cannot be placed, or a dependency past the depth the
// catalog follows: the column may carry everything its view reads (fail closed).
import type { ParsedView, RelationInfo, ViewColumnLineage, ViewLineageAnalyzer } from '../ports.ts';
import { loadParser } from '../sql/index.ts';
import { parseOne } from '../sql/parse.ts';
import { alignOutputs, statementOutputs, type Lineage } from './lineage.ts';
import { collectNames } from './names.ts';

export function createViewLineageAnalyzer(): ViewLineageAnalyzer {
  return {
    async parse(definition: string): Promise<ParsedView> {
      await loadParser();
      const parsed = parseView(definition);
      return {
        functions: parsed === undefined ? [] : [...collectNames(parsed.node).functions],
        columns: (attnums, deps, userFunctions) => viewColumns(attnums, parsed, deps, userFunctions),
      };
    },
  };
}

function parseView(definition: string): { pgType: string; node: Record<string, unknown> } | undefined {
  try {
    return parseOne(definition);
  } catch {
    return undefined;
  }
}

/** `schema.table.column` for a base table column, and the same column under each ancestor. */
function columnNames(rel: RelationInfo, column: string): string[] {
  return [`${rel.schema}.${rel.name}.${column}`, ...rel.ancestors.map((a) => `${a}.${column}`)];
}

interface Carried {
  sources: Set<string>;
  derived: boolean;
  failClosed: boolean;
  opaque: boolean;
}

/** Everything a relation can carry, for a `*` or a column we cannot place. */
function everything(rel: RelationInfo | undefined, into: Carried): void {
  if (rel === undefined) {
    into.opaque = true; // a dependency past MAX_VIEW_DEPTH: it may carry anything
    return;
  }
  if (rel.viewColumns === undefined) {
    if (rel.kind === 'view' || rel.kind === 'matview') into.opaque = true;
    for (const c of rel.columns.values()) for (const n of columnNames(rel, c)) into.sources.add(n);
    return;
  }
  for (const vc of rel.viewColumns.values()) merge(into, vc);
}

function merge(into: Carried, vc: ViewColumnLineage): void {
  for (const s of vc.sources) into.sources.add(s);
  into.derived ||= vc.derived;
  into.failClosed ||= vc.failClosed;
  into.opaque ||= vc.opaque;
}

function viewColumns(
  attnums: readonly number[],
  parsed: { pgType: string; node: Record<string, unknown> } | undefined,
  deps: readonly (RelationInfo | undefined)[],
  userFns: ReadonlySet<string>,
): Map<number, ViewColumnLineage> {
  const failClosed = (opaque = false): ViewColumnLineage => {
    const c: Carried = { sources: new Set(), derived: true, failClosed: true, opaque };
    for (const d of deps) everything(d, c);
    return freeze(c);
  };
  const known = deps.filter((d): d is RelationInfo => d !== undefined);
  const matching = (written: string): RelationInfo[] => {
    const parts = written.split('.');
    const name = parts[parts.length - 1]!;
    const schema = parts.length >= 2 ? parts[parts.length - 2] : undefined;
    return known.filter((d) => d.name === name && (schema === undefined || d.schema === schema));
  };

  let lineages: Lineage[];
  try {
    if (parsed === undefined) throw new Error('view definition did not parse');
    const outputs = statementOutputs(parsed.pgType, parsed.node, {
      columnsOf: (rel) => {
        const m = matching(rel);
        return m.length === 1 ? [...m[0]!.columns.values()] : undefined;
      },
      isOpaque: (name) => userFns.has(name),
    });
    lineages = alignOutputs(outputs, attnums.length);
  } catch {
    return new Map(attnums.map((a) => [a, failClosed(true)]));
  }

  const out = new Map<number, ViewColumnLineage>();
  attnums.forEach((attnum, i) => {
    const lin = lineages[i]!;
    if (lin.unknown) {
      out.set(attnum, failClosed(lin.opaque));
      return;
    }
    const c: Carried = { sources: new Set(), derived: lin.derived || lin.ambiguous, failClosed: false, opaque: lin.opaque };
    for (const ref of lin.sources) {
      const rels = matching(ref.relation);
      if (rels.length === 0) {
        out.set(attnum, failClosed(lin.opaque));
        return;
      }
      for (const rel of rels) {
        if (ref.column === '*') {
          c.derived = true;
          everything(rel, c);
        } else if (rel.viewColumns !== undefined) {
          const sub = [...rel.columns].find(([, name]) => name === ref.column);
          const vc = sub && rel.viewColumns.get(sub[0]);
          if (vc === undefined) everything(rel, c);
          else merge(c, vc);
        } else if (rel.kind === 'view' || rel.kind === 'matview') {
          everything(rel, c);
        } else {
          for (const n of columnNames(rel, ref.column)) c.sources.add(n);
        }
      }
    }
    out.set(attnum, freeze(c));
  });
  return out;
}

function freeze(c: Carried): ViewColumnLineage {
  return { sources: [...c.sources].sort(), derived: c.derived, failClosed: c.failClosed, opaque: c.opaque };
}

