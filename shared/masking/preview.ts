// POST /v1/analyze: what would be masked, from the parse tree and the policy alone — nothing runs
// and no database is asked. At run time the wire's provenance and the catalog decide (views are
// resolved there, a `*` gets its columns); this shows the bot what to expect.
import type { MaskingConfig } from '../policy/types.ts';
import type { Statement } from '../sql/statement.ts';
import type { SourceRef } from './lineage.ts';
import { fromLineage, lineageOnly, type PlannedColumn, type PreparedStatement } from './plan.ts';
import { addSourceRef, Carried, type SensitiveIndex } from './sensitive.ts';
import type { MaskPreview } from './types.ts';

export function previewOf(index: SensitiveIndex, config: MaskingConfig, statement: Statement): MaskPreview[] {
  const { outputs, relations } = lineageOnly(statement);
  if (outputs === 'no-values') return [];
  const reads = new Carried();
  for (const relation of relations) addSourceRef(index, { relation, column: '*' }, undefined, reads);
  const context: Pick<PreparedStatement, 'relations' | 'readsStrategies' | 'readsSources'> = {
    relations: new Map(),
    readsStrategies: outputs === 'unknown' ? index.strategies : reads.strategies,
    readsSources: reads.sources,
  };
  const entry = (index: number | null, column: string, p: PlannedColumn): MaskPreview => ({
    index,
    column,
    strategy: p.strategy,
    why: p.why === 'fail-closed' ? 'fail-closed' : 'lineage',
    ...(p.source !== undefined && p.source.length > 0 ? { source: p.source } : {}),
    ...(config.derived === 'deny' && p.denies && p.strategy !== null ? { denied: true } : {}),
  });

  if (outputs === 'unknown') {
    const p = fromLineage(index, context, { index: 0, name: '*' }, { sources: [], derived: true, ambiguous: true, unknown: true, opaque: false });
    return [entry(null, '*', p)];
  }
  const out: MaskPreview[] = [];
  let position: number | null = 0;
  for (const o of outputs) {
    if (o.single) {
      const name = o.name ?? '?column?';
      out.push(entry(position, name, fromLineage(index, context, { index: position ?? 0, name }, o.lineage)));
      if (position !== null) position++;
      continue;
    }
    // A `*` whose columns only the database knows: each sensitive column of the relations it
    // covers, by name, then whatever else it can carry.
    const stars = o.lineage.sources.filter((r) => r.column === '*');
    for (const star of stars) {
      const c = new Carried();
      addSourceRef(index, star, undefined, c);
      for (const source of [...c.sources].sort()) {
        const column = source.slice(source.lastIndexOf('.') + 1);
        const ref: SourceRef = { relation: star.relation, column };
        out.push(entry(null, column, fromLineage(index, context, { index: 0, name: column }, { ...o.lineage, sources: [ref], ambiguous: false })));
      }
    }
    const rest = o.lineage.sources.filter((r) => r.column !== '*');
    if (rest.length > 0 || o.lineage.unknown || o.lineage.opaque) {
      const p = fromLineage(index, context, { index: 0, name: '*' }, { ...o.lineage, sources: rest });
      if (p.strategy !== null) out.push(entry(null, '*', p));
    }
    position = null;
  }
  return out;
}
