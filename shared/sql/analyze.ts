// Step 2 of the request path: what one statement would do, from PostgreSQL's own parse tree.

import type { Analysis, RiskClass } from './analysis.ts';
import type { CallSites } from './call-sites.ts';
import { type Finding, severityRank } from './finding.ts';
import { fingerprintTree } from './fingerprint.ts';
import { deepFreeze, FrozenMap } from './frozen.ts';
import { parseOne } from './parse.ts';
import type { Statement } from './statement.ts';
import { walk } from './walk.ts';

/**
 * Synchronous, after `loadParser()`. Throws GatehouseError `sql_empty`, `sql_unparsable` or
 * `sql_multiple_statements` for SQL that is not exactly one statement PostgreSQL can parse.
 */
export function analyze(sql: string): Analysis {
  return inspect(sql).analysis;
}

/** The analysis, and what the statement can call for the catalog to resolve (resolve.ts). */
export interface Inspected {
  readonly analysis: Analysis;
  readonly sites: CallSites;
  /** All of it with the parse tree: what the later steps take instead of the SQL (statement.ts). */
  readonly statement: Statement;
}

/** analyze(), keeping the call sites the catalog step needs. Same errors. */
export function inspect(sql: string): Inspected {
  const statement = parseStatement(sql);
  return { analysis: statement.analysis, sites: statement.sites, statement };
}

/** Parses once and derives everything later steps read from the tree; the result is deep-frozen. */
export function parseStatement(sql: string): Statement {
  const { pgType, node } = parseOne(sql);
  const facts = walk(pgType, node);
  const { cls, reasons } = decide([...facts.top.findings, ...facts.findings]);

  // A name a WITH defines is that CTE, not a table, wherever the statement uses it unqualified.
  const read = [...facts.read].filter((name) => !facts.cteNames.has(name));
  const analysis: Analysis = {
    pgType,
    kind: facts.top.kind,
    class: cls,
    reasons,
    tables: { read: sorted(read), written: sorted(facts.written) },
    columns: sorted(facts.columns),
    functions: sorted(facts.functions),
    fingerprint: fingerprintTree(pgType, node),
  };
  const sites: CallSites = { ...facts.sites, aliases: new FrozenMap(facts.sites.aliases) };
  return deepFreeze({ sql, pgType, node, analysis, sites, fingerprint: analysis.fingerprint });
}

/** The most severe finding decides; reasons list every finding, most severe first. */
function decide(findings: readonly Finding[]): { cls: RiskClass; reasons: string[] } {
  const ordered = findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => severityRank(a.f.class) - severityRank(b.f.class) || a.i - b.i)
    .map(({ f }) => f);
  const cls = ordered[0]?.class ?? 'unknown';
  // "SELECT only reads" would contradict a finding that it does more.
  const shown = cls === 'read' ? ordered : ordered.filter((f) => f.class !== 'read');
  return { cls, reasons: [...new Set(shown.map((f) => f.reason))] };
}

function sorted(names: Iterable<string>): string[] {
  return [...new Set(names)].sort();
}
