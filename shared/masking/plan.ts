// Deciding each result column, in order of trust:
//   1. provenance — RowDescription's tableID/columnID through the catalog (views to base columns,
//      a whole-row reference to every column of its table);
//   2. lineage — for 0/0 columns, what the parse tree says the expression can carry;
//   3. fail closed — lineage that cannot be worked out, over a statement that reads sensitive data,
//      gets the strictest strategy present.
// Detectors run later, in apply, over whatever is not masked here.
import { GatehouseError } from '../errors.ts';
import type { MaskingConfig, MaskStrategy } from '../policy/types.ts';
import type { CatalogReader, RelationInfo, ResultField } from '../ports.ts';
import type { RoutineCatalogReader } from '../sql/catalog-ports.ts';
import type { RoutineCatalog } from '../sql/routines.ts';
import type { Fields } from '../sql/nodes.ts';
import type { Statement } from '../sql/statement.ts';
import { alignOutputs, statementOutputs, type Lineage, type SourceRef, type StatementOutputs } from './lineage.ts';
import { collectNames } from './names.ts';
import { addRelation, addRelationColumn, addSourceRef, Carried, type SensitiveIndex } from './sensitive.ts';
import { forAmbiguous, forDerived, STRICTNESS, strictest } from './strategies.ts';
import type { ColumnMask, MaskWhy } from './types.ts';

/** Everything about a statement that does not need its result: parse, lineage, catalog lookups. */
export interface PreparedStatement {
  readonly connection: string;
  readonly sql: string;
  readonly outputs: StatementOutputs;
  readonly relations: ReadonlyMap<string, readonly RelationInfo[]>;
  /** Strategies of every sensitive column of every relation the statement names. */
  readonly readsStrategies: ReadonlySet<MaskStrategy>;
  readonly readsSources: ReadonlySet<string>;
  /** Lineage of every clause that picks, groups, orders or counts rows (for `masking.predicates: deny`). */
  readonly predicates: readonly Lineage[];
  /** Lineage of the inputs of every operation that can fail on its values (for `masking.predicates: deny`). */
  readonly computations: readonly Lineage[];
  /** Each column the statement writes, with the lineage of what it writes there. */
  readonly writes: readonly { readonly target: SourceRef; readonly lineage: Lineage }[];
}

/** pg_statistic's sampled values (pg_stats.most_common_vals, histogram_bounds…) are `anyarray`. */
const ANYARRAY = 2277;

/** Takes the Statement step 2 parsed: no second parse (issue 17 item 1). */
export async function prepareStatement(index: SensitiveIndex, catalog: CatalogReader, connection: string, statement: Statement): Promise<PreparedStatement> {
  const { pgType, node, sql } = statement;
  const names = collectNames(node);
  const isBare = (n: string) => !n.includes('.');
  // A bare name that is also a CTE's is usually that CTE; the lineage says when it is not.
  const first = names.relations.filter((n) => !(isBare(n) && names.cteNames.has(n)));
  const [found, userFns, routines] = await Promise.all([
    catalog.lookup(connection, first),
    catalog.userFunctions(connection, names.functions),
    routinesOf(catalog, connection),
  ]);
  const relations = new Map(found);
  // Which functions may return sets (their arguments then decide the row count, for predicates:
  // deny). A name the catalog does not have, or no catalog of functions at all: it may — except a
  // name in attribute notation, `(x).name`, which is a field when no function has it.
  const mayReturnSet = (name: string, schema: string | undefined, attribute = false) => {
    if (routines === undefined) return true;
    const candidates = routines.byName.get(name)?.filter((r) => schema === undefined || r.schema === schema);
    if (candidates === undefined || candidates.length === 0) return !attribute;
    return candidates.some((r) => r.returnsSet !== false);
  };

  let predicates: Lineage[] = [];
  let computations: Lineage[] = [];
  let writes: { target: SourceRef; lineage: Lineage }[] = [];
  const run = () => {
    const seen = new Set<string>();
    predicates = [];
    computations = [];
    writes = [];
    const outputs = statementOutputs(pgType, node, {
      onPredicate: (lin) => predicates.push(lin),
      onComputation: (lin) => computations.push(lin),
      onWrite: (target, lineage) => writes.push({ target, lineage }),
      columnsOf: (rel) => {
        const infos = relations.get(rel);
        return infos !== undefined && infos.length === 1 ? [...infos[0]!.columns.values()] : undefined;
      },
      isOpaque: (name) => userFns.has(name),
      mayReturnSet,
      onRelation: (rel) => seen.add(rel),
    });
    return { outputs, seen };
  };
  let { outputs, seen } = run();
  const more = [...seen].filter((n) => !relations.has(n));
  if (more.length > 0) {
    for (const [n, infos] of await catalog.lookup(connection, more)) relations.set(n, infos);
    ({ outputs } = run());
  }

  const reads = new Carried();
  for (const name of names.relations) {
    addSourceRef(index, { relation: name, column: '*' }, undefined, reads);
    for (const rel of relations.get(name) ?? []) addRelation(index, rel, reads);
  }
  // Sensitive values the lineage reaches without a relation named for them (a custom setting's
  // value through current_setting()) are read too: a failure over them withholds its message.
  const lineages = [...(Array.isArray(outputs) ? outputs.map((o) => o.lineage) : []), ...predicates, ...computations, ...writes.map((w) => w.lineage)];
  for (const lin of lineages) for (const ref of lin.sources) if (ref.column !== '*') addSourceRef(index, ref, relations, reads);
  // A statement whose result we cannot trace at all (EXECUTE, FETCH, CALL …) may read anything.
  // So may one that calls a function whose body may read any table, anywhere in the statement.
  const opaqueOutput = Array.isArray(outputs) && outputs.some((o) => o.lineage.opaque);
  const readsStrategies = reads.opaque || outputs === 'unknown' || opaqueOutput || userFns.size > 0 ? index.strategies : reads.strategies;
  return { connection, sql, outputs, relations, readsStrategies, readsSources: reads.sources, predicates, computations, writes };
}

async function routinesOf(catalog: CatalogReader, connection: string): Promise<RoutineCatalog | undefined> {
  const reader = catalog as CatalogReader & Partial<RoutineCatalogReader>;
  if (typeof reader.routines !== 'function') return undefined;
  return reader.routines(connection).catch(() => undefined);
}

/**
 * `masking.predicates: deny`: a masked column (or anything untraceable over sensitive data) in a
 * clause that picks, groups, orders or counts rows refuses the statement before it runs — the
 * counting and ordering oracles (`WHERE ssn LIKE '9%'`, `ORDER BY email`, `count(DISTINCT ssn)`).
 */
export function refusePredicates(index: SensitiveIndex, prepared: PreparedStatement): void {
  const predicates = maskedIn(index, prepared, prepared.predicates);
  if (predicates !== undefined) {
    const columns = predicates.columns;
    throw new GatehouseError(
      'masking_denied',
      `the policy refuses masked columns in clauses that pick, count or order rows — WHERE, JOIN, ORDER BY, GROUP BY, HAVING, DISTINCT, set operations, LIMIT/OFFSET, set-returning function arguments, window and aggregate clauses (masking.predicates: deny): ${columns.length > 0 ? columns.join(', ') : 'a clause that cannot be traced over sensitive data'}`,
      { reason: 'masked_column_in_predicate', columns },
    );
  }
  // Whether an operation fails is answered (its SQLSTATE), so an operation on a masked value is one
  // bit of it per request: `1 / (ascii(ssn) - 57)` fails exactly when the SSN starts with 9. Under
  // deny a masked value may be returned (masked), never operated on.
  const computed = maskedIn(index, prepared, prepared.computations);
  if (computed !== undefined) {
    const columns = computed.columns;
    throw new GatehouseError(
      'masking_denied',
      `the policy refuses functions, operators, comparisons and casts (but to text) over masked columns, since whether they fail would tell about the value (masking.predicates: deny): ${columns.length > 0 ? columns.join(', ') : 'an expression that cannot be traced over sensitive data'}`,
      { reason: 'masked_column_computed', columns },
    );
  }
}

/**
 * A masked value written to a column that is not masked as strictly would be read back unmasked:
 * `INSERT INTO notes(body) SELECT ssn FROM customers`, then `SELECT body FROM notes`. So every
 * value a statement writes is planned as if it were read (a derived value of a partially masked
 * column is `redact`), and the column it lands in must be masked at least that strictly — whatever
 * `predicates` says, since this is the value itself, not an oracle.
 */
export function refuseMaskedWrites(index: SensitiveIndex, prepared: PreparedStatement): void {
  const refused: { column: string; source: readonly string[] }[] = [];
  for (const { target, lineage } of prepared.writes) {
    const planned = fromLineage(index, prepared, { index: 0, name: '' }, lineage);
    if (planned.strategy === null) continue;
    const kept = targetStrategy(index, prepared, target);
    if (kept !== null && STRICTNESS.indexOf(kept) <= STRICTNESS.indexOf(planned.strategy)) continue;
    refused.push({ column: `${target.relation}.${target.column}`, source: planned.source ?? [] });
  }
  if (refused.length === 0) return;
  const columns = [...new Set(refused.flatMap((r) => r.source))].sort();
  throw new GatehouseError(
    'masking_denied',
    `the statement writes masked values where they would be read back less masked: ${[...new Set(refused.map((r) => r.column))].join(', ')} (from ${columns.length > 0 ? columns.join(', ') : 'values that cannot be traced over sensitive data'})`,
    { reason: 'masked_value_written', columns, targets: [...new Set(refused.map((r) => r.column))] },
  );
}

/**
 * How strictly a written column is masked when read: null when it is not, or not known (a column
 * not named, a relation the catalog does not have). Of several relations the name may be, the least strict.
 */
function targetStrategy(index: SensitiveIndex, prepared: PreparedStatement, target: SourceRef): MaskStrategy | null {
  if (target.column === '*') return null;
  const candidates = prepared.relations.get(target.relation) ?? [];
  if (candidates.length === 0) {
    const c = new Carried();
    addSourceRef(index, target, undefined, c);
    return c.opaque || c.ambiguous ? null : leastStrict(c.strategies);
  }
  let weakest: MaskStrategy | null | undefined;
  for (const rel of candidates) {
    const c = new Carried();
    addRelationColumn(index, rel, target.column, c);
    const s = c.opaque || c.ambiguous ? null : strictest(c.strategies);
    if (s === null) return null;
    if (weakest === undefined || STRICTNESS.indexOf(s) > STRICTNESS.indexOf(weakest!)) weakest = s;
  }
  return weakest ?? null;
}

function leastStrict(strategies: ReadonlySet<MaskStrategy>): MaskStrategy | null {
  let weakest: MaskStrategy | null = null;
  for (const s of strategies) if (weakest === null || STRICTNESS.indexOf(s) > STRICTNESS.indexOf(weakest)) weakest = s;
  return weakest;
}

/** The masked source columns the lineages carry; undefined when they carry none (nor anything untraceable over sensitive data). */
function maskedIn(index: SensitiveIndex, prepared: PreparedStatement, lineages: readonly Lineage[]): { columns: string[] } | undefined {
  const used = new Set<string>();
  let untraceable = false;
  for (const lin of lineages) {
    const planned = fromLineage(index, prepared, { index: 0, name: '' }, lin);
    if (planned.strategy === null) continue;
    for (const s of planned.source ?? []) used.add(s);
    if ((planned.source ?? []).length === 0) untraceable = true;
  }
  return used.size === 0 && !untraceable ? undefined : { columns: [...used].sort() };
}

export interface PlannedColumn extends ColumnMask {
  /** derived over sensitive data, or unknown: what `derived: deny` refuses. */
  readonly denies: boolean;
}

export async function planColumns(
  config: MaskingConfig,
  index: SensitiveIndex,
  catalog: CatalogReader,
  prepared: PreparedStatement,
  fields: readonly ResultField[],
): Promise<PlannedColumn[]> {
  // RowDescription names relations the statement named (tables, views), which prepare() already
  // described: plan() then asks the catalog nothing, which matters because it runs while the
  // statement still holds its connection (and the embedded PGlite serves one transaction at a time).
  const described = describedBy(prepared);
  const missing = [...new Set(fields.map((f) => f.tableID))].filter((oid) => oid > 0 && !described.has(oid));
  if (missing.length > 0) for (const [oid, info] of await catalog.describe(prepared.connection, missing)) described.set(oid, info);
  const lineages = alignOutputs(prepared.outputs, fields.length);
  const planned = fields.map((field, i) => planColumn(index, prepared, field, i, described.get(field.tableID), lineages[i]!));
  if (config.derived === 'deny') refuseDerived(planned);
  return planned;
}

/**
 * Which result columns the plan will mask, from RowDescription alone and synchronously: the engine
 * asks as the rows start, to count a masked cell at a cost that does not depend on its value
 * (docs/outcomes.md, "Byte budgets"). planColumns' own decision for every relation prepare()
 * described; a relation it did not (planColumns would ask the catalog) counts as masked whenever
 * the policy masks anything.
 */
export function maskedBeforeRows(index: SensitiveIndex, prepared: PreparedStatement, fields: readonly PlannableField[]): boolean[] {
  const described = describedBy(prepared);
  const lineages = alignOutputs(prepared.outputs, fields.length);
  return fields.map((field, i) => {
    const rel = described.get(field.tableID);
    if (field.tableID > 0 && rel === undefined) return index.strategies.size > 0;
    return planColumn(index, prepared, field, i, rel, lineages[i]!).strategy !== null;
  });
}

/** The relations prepare() described, by OID. */
function describedBy(prepared: PreparedStatement): Map<number, RelationInfo> {
  const described = new Map<number, RelationInfo>();
  for (const infos of prepared.relations.values()) for (const info of infos) described.set(info.oid, info);
  return described;
}

/** What planning reads of a result column: RowDescription's fields, without the type's name. */
type PlannableField = Pick<ResultField, 'name' | 'dataTypeID' | 'tableID' | 'columnID'>;

function planColumn(index: SensitiveIndex, prepared: PreparedStatement, field: PlannableField, i: number, rel: RelationInfo | undefined, lin: Lineage): PlannedColumn {
  const base = { index: i, name: field.name };
  if (field.dataTypeID === ANYARRAY) {
    return { ...base, strategy: 'redact', why: 'fail-closed', denies: false };
  }
  if (field.tableID > 0 && rel !== undefined) {
    const c = new Carried();
    addRelationColumn(index, rel, field.columnID, c);
    if (field.columnID === 0) c.derived = true; // a whole row: every column, as one composite value
    return decide(index, base, c, c.failClosed || c.opaque ? 'fail-closed' : 'provenance');
  }
  // 0/0, or a relation gone from the catalog since the statement ran: the parse tree decides.
  return fromLineage(index, prepared, base, lin);
}

export function fromLineage(index: SensitiveIndex, prepared: Pick<PreparedStatement, 'relations' | 'readsStrategies' | 'readsSources'> | undefined, base: { index: number; name: string }, lin: Lineage): PlannedColumn {
  const c = new Carried();
  for (const ref of lin.sources) addSourceRef(index, ref, prepared?.relations, c);
  c.derived ||= lin.derived;
  c.ambiguous ||= lin.ambiguous;
  c.opaque ||= lin.opaque;
  if (lin.unknown) {
    // Cannot be worked out: sensitive if the statement reads anything sensitive at all.
    c.failClosed = true;
    c.derived = true;
    const reads = prepared?.readsStrategies ?? new Set<MaskStrategy>();
    for (const s of reads) c.strategies.add(s);
    for (const s of prepared?.readsSources ?? []) c.sources.add(s);
  }
  return decide(index, base, c, c.failClosed || c.opaque ? 'fail-closed' : 'lineage');
}

function decide(index: SensitiveIndex, base: { index: number; name: string }, c: Carried, why: MaskWhy): PlannedColumn {
  const strategies = c.opaque ? new Set([...c.strategies, ...index.strategies]) : c.strategies;
  const chosen = strictest(strategies);
  if (chosen === null) return { ...base, strategy: null, denies: false };
  const strategy = c.derived || c.failClosed || c.opaque ? forDerived(chosen) : c.ambiguous ? forAmbiguous(chosen) : chosen;
  return { ...base, strategy, why, source: [...c.sources].sort(), denies: c.derived || c.failClosed || c.opaque };
}

/** `derived: deny`: a derived column over a masked one refuses the whole statement. */
export function refuseDerived(planned: readonly PlannedColumn[]): void {
  const refused = planned.filter((p) => p.denies && p.strategy !== null);
  if (refused.length === 0) return;
  throw new GatehouseError(
    'masking_denied',
    `the policy refuses derived values of masked columns (derived: deny): ${refused.map((p) => p.name).join(', ')}`,
    { columns: refused.map((p) => ({ column: p.name, index: p.index, source: p.source ?? [] })) },
  );
}

/** The parse tree's view alone, for POST /v1/analyze and for an early `derived: deny`. */
export function lineageOnly({ pgType, node }: Pick<Statement, 'pgType' | 'node'>): { outputs: StatementOutputs; node: Fields; relations: readonly string[] } {
  return { outputs: statementOutputs(pgType, node), node, relations: collectNames(node).relations };
}
