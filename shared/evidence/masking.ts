// What masking did to a result, read from `execution.completed`. The masking step (issue 3)
// records one decision per column — column, strategy, and why (provenance | lineage | detector |
// fail-closed) — and marks masked columns in `columns[]`. Read defensively: older sessions have
// neither, and the exact field names are the masking step's to choose.
import { bool, count, field, firstText, list, record, text } from './guards.ts';

export interface MaskFact {
  readonly column: string;
  /** The column's position in the result, when the decision records it. */
  readonly index?: number;
  readonly strategy?: string;
  readonly reason?: string;
  /** Where the sensitivity came from, e.g. `public.customers.email` or a detector name. */
  readonly source?: string;
}

export interface ColumnFact {
  readonly name: string;
  readonly type?: string;
  readonly masked: boolean;
  readonly mask?: string;
  readonly why?: string;
}

export function maskingDecisions(completed: unknown, columnNames: readonly string[]): MaskFact[] {
  const raw = field(completed, 'masking');
  // Either a list of decisions or an object holding one (`{decisions: [...]}`).
  const decisions = Array.isArray(raw) ? raw : list(field(raw, 'decisions') ?? field(raw, 'columns'));
  const out: MaskFact[] = [];
  for (const d of decisions) {
    const r = record(d);
    if (!r) continue;
    const index = count(field(r, 'index'));
    const column = firstText(r, 'column', 'name', 'field') ?? (index !== undefined ? columnNames[index] : undefined);
    if (column === undefined) continue;
    // A decision that says "not masked" is not a masking; skip it so counts stay honest.
    if (bool(field(r, 'masked')) === false) continue;
    const strategy = firstText(r, 'strategy', 'mask', 'action');
    if (strategy === 'none' || strategy === 'pass') continue;
    const source = field(r, 'source');
    out.push({
      column,
      index,
      strategy,
      reason: firstText(r, 'why', 'reason', 'basis', 'kind'),
      source: text(source) ?? sourceList(source) ?? firstText(r, 'detector', 'provenance') ?? sourceList(field(r, 'sources')),
    });
  }
  return out;
}

/** The result's columns with what masking says about each (from `columns[]` and the decisions). */
export function columnFacts(completed: unknown): ColumnFact[] {
  const cols = list(field(completed, 'columns')).map((c) => record(c));
  const names = cols.map((c, i) => text(field(c, 'name')) ?? `column ${i + 1}`);
  const decisions = maskingDecisions(completed, names);
  return cols.map((c, i) => {
    const name = names[i]!;
    // By position when the decision has one (two columns may share a name), else by name.
    const mine = decisions.filter((x) => (x.index !== undefined ? x.index === i : x.column === name));
    const flagged = bool(field(c, 'masked')) === true;
    const mask = firstText(c, 'mask', 'strategy') ?? mine.find((d) => d.strategy)?.strategy;
    const why = mine.map((d) => [d.reason, d.source].filter(Boolean).join(': ')).filter(Boolean);
    return {
      name,
      type: text(field(c, 'type')),
      masked: flagged || mine.length > 0,
      ...(flagged || mine.length ? { mask } : {}),
      ...(why.length ? { why: [...new Set(why)].join('; ') } : {}),
    };
  });
}

function sourceList(v: unknown): string | undefined {
  const items = list(v).filter((s): s is string => typeof s === 'string');
  return items.length ? items.join(', ') : undefined;
}
