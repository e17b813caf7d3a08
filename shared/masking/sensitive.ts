// The policy's sensitive columns, and what a source (by name as written, or as the catalog knows
// it) maps to among them. Matching is case-insensitive and a relation written without a schema
// matches that table in every schema: both can only add matches (fail closed).
import type { MaskingConfig, MaskStrategy } from '../policy/types.ts';
import type { RelationInfo, ViewColumnLineage } from '../ports.ts';
import type { SourceRef } from './lineage.ts';

export interface SensitiveIndex {
  /** `schema.table.column` → strategy. */
  readonly byColumn: ReadonlyMap<string, MaskStrategy>;
  /** `schema.table` → column → strategy. */
  readonly byTable: ReadonlyMap<string, ReadonlyMap<string, MaskStrategy>>;
  /** `table` → every `schema.table` of that name in the policy. */
  readonly byBareTable: ReadonlyMap<string, readonly string[]>;
  /** Every strategy the policy uses. */
  readonly strategies: ReadonlySet<MaskStrategy>;
}

/**
 * Catalog columns that hold other columns' values. The planner's statistics sample every column
 * (most common values, histogram bounds), whatever the policy masks: read through pg_stats and a
 * cast to text, they are a masked column's values. Which table a row of pg_stats describes is a
 * WHERE clause away, so all of them count as sensitive as soon as the policy masks anything.
 */
export const STATISTICS_VALUE_COLUMNS: readonly string[] = [
  ...[1, 2, 3, 4, 5].map((n) => `pg_catalog.pg_statistic.stavalues${n}`),
  'pg_catalog.pg_stats.most_common_vals', 'pg_catalog.pg_stats.histogram_bounds', 'pg_catalog.pg_stats.most_common_elems',
  'pg_catalog.pg_stats_ext.most_common_vals',
  'pg_catalog.pg_stats_ext_exprs.most_common_vals', 'pg_catalog.pg_stats_ext_exprs.histogram_bounds', 'pg_catalog.pg_stats_ext_exprs.most_common_elems',
  'pg_catalog.pg_statistic_ext_data.stxdmcv', 'pg_catalog.pg_statistic_ext_data.stxdexpr',
];

/** Other sessions' SQL text, with whatever literals they hold: masked under every policy. */
export const ACTIVITY_TEXT_COLUMNS: readonly string[] = [
  'pg_catalog.pg_stat_activity.query', 'public.pg_stat_statements.query',
];

/**
 * Custom settings' values, masked under every policy: deployments keep secrets there (PostgREST's
 * `app.settings.jwt_secret`, row-security tenant keys, set with ALTER DATABASE / ALTER ROLE), and
 * every role can read them back. `pg_catalog.pg_settings.setting` also stands for what
 * current_setting(), SHOW and pg_show_all_settings() return for a name that is not plainly one of
 * PostgreSQL's own (lineage.ts).
 */
export const SETTING_VALUE_COLUMNS: readonly string[] = [
  'pg_catalog.pg_settings.setting', 'pg_catalog.pg_settings.reset_val', 'pg_catalog.pg_settings.boot_val',
  'pg_catalog.pg_db_role_setting.setconfig', 'pg_catalog.pg_roles.rolconfig', 'pg_catalog.pg_user.useconfig',
  'pg_catalog.pg_shadow.useconfig', 'pg_catalog.pg_shadow.passwd', 'pg_catalog.pg_authid.rolpassword',
  'pg_catalog.pg_file_settings.setting',
];

export function indexConfig(config: MaskingConfig): SensitiveIndex {
  const byColumn = new Map<string, MaskStrategy>();
  const byTable = new Map<string, Map<string, MaskStrategy>>();
  const byBareTable = new Map<string, string[]>();
  const builtIn = [...ACTIVITY_TEXT_COLUMNS, ...SETTING_VALUE_COLUMNS, ...(Object.keys(config.columns).length > 0 ? STATISTICS_VALUE_COLUMNS : [])];
  const entries: [string, MaskStrategy][] = [...builtIn.map((c) => [c, 'redact'] as [string, MaskStrategy]), ...Object.entries(config.columns)];
  for (const [key, strategy] of entries) {
    const parts = key.toLowerCase().split('.');
    if (parts.length !== 3) throw new TypeError(`masking column "${key}" must be schema.table.column`);
    const [schema, table, column] = parts as [string, string, string];
    byColumn.set(`${schema}.${table}.${column}`, strategy);
    const qualified = `${schema}.${table}`;
    let columns = byTable.get(qualified);
    if (!columns) byTable.set(qualified, (columns = new Map()));
    columns.set(column, strategy);
    const same = byBareTable.get(table) ?? [];
    if (!same.includes(qualified)) byBareTable.set(table, [...same, qualified]);
  }
  return { byColumn, byTable, byBareTable, strategies: new Set(byColumn.values()) };
}

/** What a column can carry, accumulated over its sources. */
export class Carried {
  readonly strategies = new Set<MaskStrategy>();
  readonly sources = new Set<string>();
  /** The value is not one source column as stored (see strategies.ts forDerived). */
  derived = false;
  /** Which source column it is is not known: partial strategies are not safe either. */
  ambiguous = false;
  failClosed = false;
  /** May carry anything at all: every strategy of the policy applies. */
  opaque = false;

  addColumn(index: SensitiveIndex, qualified: string): void {
    const key = qualified.toLowerCase();
    const strategy = index.byColumn.get(key);
    if (strategy !== undefined) {
      this.strategies.add(strategy);
      this.sources.add(key);
    }
  }

  /** Every sensitive column of `schema.table`. */
  addTable(index: SensitiveIndex, qualified: string): void {
    const key = qualified.toLowerCase();
    for (const [column, strategy] of index.byTable.get(key) ?? []) {
      this.strategies.add(strategy);
      this.sources.add(`${key}.${column}`);
    }
  }

  addView(index: SensitiveIndex, vc: ViewColumnLineage): void {
    for (const s of vc.sources) this.addColumn(index, s);
    this.derived ||= vc.derived;
    this.failClosed ||= vc.failClosed;
    this.opaque ||= vc.opaque;
  }
}

/** A source as written in the SQL: by name in the policy, and through the catalog's relations of that name. */
export function addSourceRef(index: SensitiveIndex, ref: SourceRef, catalog: ReadonlyMap<string, readonly RelationInfo[]> | undefined, into: Carried): void {
  const parts = ref.relation.toLowerCase().split('.');
  const table = parts[parts.length - 1]!;
  const schema = parts.length >= 2 ? parts[parts.length - 2] : undefined;
  const tables = schema !== undefined ? [`${schema}.${table}`] : (index.byBareTable.get(table) ?? []);
  for (const t of tables) {
    if (ref.column === '*') into.addTable(index, t);
    else into.addColumn(index, `${t}.${ref.column}`);
  }
  if (ref.column === '*') into.ambiguous = true;
  for (const rel of catalog?.get(ref.relation) ?? []) addRelationColumn(index, rel, ref.column, into);
}

/** A column of a relation the catalog described (`*` or attnum 0: any or all of its columns). */
export function addRelationColumn(index: SensitiveIndex, rel: RelationInfo, column: string | number, into: Carried): void {
  // System columns (ctid, xmin, tableoid …) have negative numbers and hold no user data.
  if (typeof column === 'number' && column < 0) return;
  const name = typeof column === 'number' ? (column > 0 ? rel.columns.get(column) : '*') : column;
  if (rel.viewColumns !== undefined) {
    // The view's own column, when the policy (or the built-in list: pg_roles.rolconfig) names it:
    // what the view's definition resolves to may not be masked, or not as strictly.
    if (name === undefined || name === '*') into.addTable(index, `${rel.schema}.${rel.name}`);
    else into.addColumn(index, `${rel.schema}.${rel.name}.${name}`);
    const attnum = typeof column === 'number' && column > 0 ? column : name === '*' ? undefined : [...rel.columns].find(([, n]) => n === name)?.[0];
    const vc = attnum === undefined ? undefined : rel.viewColumns.get(attnum);
    if (vc !== undefined) {
      into.addView(index, vc);
      return;
    }
    for (const v of rel.viewColumns.values()) into.addView(index, v);
    into.ambiguous = true;
    return;
  }
  if (rel.kind === 'view' || rel.kind === 'matview') {
    into.opaque = true; // a view the catalog could not resolve
    return;
  }
  const tables = [`${rel.schema}.${rel.name}`, ...rel.ancestors];
  if (name === undefined || name === '*') {
    into.ambiguous = true;
    for (const t of tables) into.addTable(index, t);
    return;
  }
  for (const t of tables) into.addColumn(index, `${t}.${name}`);
}

/** Every sensitive column a relation can carry (a table's own, a view's through its columns). */
export function addRelation(index: SensitiveIndex, rel: RelationInfo, into: Carried): void {
  addRelationColumn(index, rel, '*', into);
}
