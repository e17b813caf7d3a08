// Which source columns each output column of a statement can carry, from PostgreSQL's own parse
// tree. RowDescription already names the source of plain references (docs/design.md#masking-provenance); this is for the
// rest — expressions, casts, CASE, aggregates, JSON builders, set operations, VALUES — which the
// wire reports as 0/0.
//
// It errs one way only: a source it cannot rule out is a source. Unqualified names depend on every
// relation in scope that could have them, at every query level; a name or node it does not
// understand makes the column `unknown`, which the masker treats as sensitive (fail closed).
//
// What does NOT count as carrying a value: clauses that pick, group or order rows (WHERE, GROUP BY,
// HAVING, ORDER BY, FILTER, PARTITION BY, an aggregate's ORDER BY), `count(…)`, `IS [NOT] NULL` of a
// column as stored (of a computed value it is a condition like any other) and EXISTS. They answer "which rows" and "how many", the same oracle a WHERE clause already is;
// masking cannot close that and does not pretend to. `masking.predicates: deny` refuses them
// (onPredicate), together with everything else a masked value can decide the row count through:
// LIMIT/OFFSET, DISTINCT, set operations other than UNION ALL, functions in FROM, set-returning
// functions in the output list (in attribute notation too), a recursive CTE's CYCLE columns, and the
// statement an EXPLAIN explains. ORDER BY, GROUP BY and DISTINCT ON may name an output column by
// position or name: that column is what they sort or group by. Everything inside an output expression does
// count, conditions included: `CASE WHEN substr(ssn,1,1) = '9' THEN '9' … END` spells the value out.
import { type Fields, isFields, list, relationName, str, stringValue, unwrap } from '../sql/nodes.ts';

/** A source column as written in the SQL: `column` is `*` when it may be any column of the relation. */
export interface SourceRef {
  readonly relation: string;
  readonly column: string;
}

export interface Lineage {
  readonly sources: readonly SourceRef[];
  /** Not a plain copy of one source value: a function, cast, operator, whole row, CASE … */
  readonly derived: boolean;
  /** Which of its sources lands here is not known (a `*` of unknown width, a misaligned UNION). */
  readonly ambiguous: boolean;
  /** Part of the value could not be traced: treat as sensitive. */
  readonly unknown: boolean;
  /** A function whose body may read any table contributes: no source list is complete. */
  readonly opaque: boolean;
}

export interface OutputColumn {
  readonly name: string | undefined;
  readonly lineage: Lineage;
  /** False for a `*` whose width is not known without the catalog. */
  readonly single: boolean;
}

/** 'no-values': the statement's result holds no row values (EXPLAIN, SHOW). */
export type StatementOutputs = readonly OutputColumn[] | 'no-values' | 'unknown';

export interface LineageOptions {
  /** Columns of a relation as written, in order, when exactly one relation has that name. */
  readonly columnsOf?: (relation: string) => readonly string[] | undefined;
  /** True for an unqualified function whose body may read tables the statement does not name. */
  readonly isOpaque?: (name: string, schema: string | undefined) => boolean;
  /** Told every relation a FROM item resolves to (as opposed to a CTE of the same name). */
  readonly onRelation?: (relation: string) => void;
  /**
   * Told the lineage of every expression that picks, groups, orders or counts rows rather than
   * producing a value (WHERE, JOIN … ON, GROUP BY, HAVING, ORDER BY, window clauses, aggregate
   * FILTER/ORDER BY, count(…) and DISTINCT arguments), at every query level — for
   * `masking.predicates: deny`. Without it those clauses are not analysed at all.
   */
  readonly onPredicate?: (lineage: Lineage) => void;
  /**
   * Told the lineage of the inputs of every operation in the statement that can fail depending on
   * the values it is given — function and operator calls, casts (but to text), CASE conditions,
   * comparisons, `(x).f` — for `masking.predicates: deny`: whether `1 / (ascii(ssn) - 57)` fails
   * is one bit of the SSN per request. Passing a value on (a column, a whole row, ROW(), ARRAY[],
   * COALESCE, a CASE result, a subscript, a cast to text) is not an operation on it.
   */
  readonly onComputation?: (lineage: Lineage) => void;
  /**
   * Told, for every column a statement writes — INSERT (and ON CONFLICT DO UPDATE), UPDATE, MERGE,
   * the new table of CREATE TABLE AS and SELECT INTO — the lineage of the values written to it: a
   * masked value copied into a column not masked as strictly is read back unmasked. `column` is
   * `*` when which column is not known.
   */
  readonly onWrite?: (target: SourceRef, lineage: Lineage) => void;
  /**
   * For onPredicate: may a function of this name return a set (pg_proc.proretset)? A set-returning
   * function's arguments decide how many rows come back. Without it, every function may.
   * `attribute`: written in attribute notation, `(x).name`, which is a call only when a function has
   * that name — a name the catalog does not have is a field.
   */
  readonly mayReturnSet?: (name: string, schema: string | undefined, attribute?: boolean) => boolean;
}

// --- mutable lineage while building -------------------------------------------------------------

class Lin {
  readonly src = new Map<string, SourceRef>();
  derived = false;
  ambiguous = false;
  unknown = false;
  opaque = false;

  static source(relation: string, column: string): Lin {
    const l = new Lin();
    l.src.set(`${relation}\u0000${column}`, { relation, column });
    return l;
  }

  static from(l: Lineage): Lin {
    const lin = new Lin();
    for (const r of l.sources) lin.src.set(`${r.relation}\u0000${r.column}`, r);
    lin.derived = l.derived;
    lin.ambiguous = l.ambiguous;
    lin.unknown = l.unknown;
    lin.opaque = l.opaque;
    return lin;
  }

  static unknownLin(): Lin {
    const l = new Lin();
    l.unknown = true;
    return l;
  }

  add(o: Lin | undefined): this {
    if (o === undefined) return this;
    for (const [k, v] of o.src) this.src.set(k, v);
    this.derived ||= o.derived;
    this.ambiguous ||= o.ambiguous;
    this.unknown ||= o.unknown;
    this.opaque ||= o.opaque;
    return this;
  }

  asDerived(): Lin {
    const l = new Lin().add(this);
    l.derived = true;
    return l;
  }

  asAmbiguous(): Lin {
    const l = new Lin().add(this);
    l.ambiguous = true;
    return l;
  }

  freeze(): Lineage {
    return { sources: [...this.src.values()], derived: this.derived, ambiguous: this.ambiguous, unknown: this.unknown, opaque: this.opaque };
  }
}

interface Out {
  readonly name: string | undefined;
  /** PostgreSQL certainly names it so (an alias or a column reference), so lookups can trust it. */
  readonly certain: boolean;
  readonly lin: Lin;
  readonly single: boolean;
  /** For a `*` of unknown width over a base relation: lookups by name go to that relation. */
  readonly starRel?: string;
}

// --- scopes -------------------------------------------------------------------------------------

type Item =
  | { readonly kind: 'rel'; readonly alias: string; readonly aliased: boolean; readonly relation: string; readonly aliasCols: readonly string[] }
  | { readonly kind: 'sub'; readonly alias: string | undefined; readonly outputs: readonly Out[] }
  | { readonly kind: 'fn'; readonly alias: string | undefined; readonly lin: Lin }
  | { readonly kind: 'join'; readonly alias: string; readonly members: readonly Item[]; readonly entry: Entry };

/** The FROM list as a tree, for `*`: join columns come first after USING/NATURAL. */
type Entry =
  | { readonly kind: 'item'; readonly item: Item }
  | { readonly kind: 'join'; readonly left: Entry; readonly right: Entry; readonly using: readonly string[] | 'natural' | undefined };

interface Level {
  readonly items: Item[];
  readonly entries: Entry[];
  readonly parent: Level | undefined;
  /** CTEs visible here, for subqueries inside expressions. */
  readonly ctes: Cte | undefined;
  /** Items inside an aliased join: their columns are the join's, their names are hidden. */
  readonly hidden?: Set<Item>;
}

interface Cte {
  readonly name: string;
  outputs: readonly Out[];
  readonly parent: Cte | undefined;
}

const MAX_RECURSIVE_ROUNDS = 6;

// --- entry points -------------------------------------------------------------------------------

/** The outputs of one top-level statement (pgType, node from shared/sql/parse.ts). */
export function statementOutputs(pgType: string, node: Fields, options: LineageOptions = {}): StatementOutputs {
  if (pgType === 'ExplainStmt' && options.onPredicate) {
    // EXPLAIN shows no values, but its row counts (estimated from the statistics, or actual with
    // ANALYZE) answer what the explained statement's clauses pick: analyse those as if it ran.
    const inner = unwrap(node.query);
    if (inner !== undefined) statementOutputs(inner[0], inner[1], options);
  }
  if (pgType === 'VariableShowStmt') return showOutputs(str(node.name));
  if (pgType === 'ExplainStmt') return 'no-values';
  try {
    const outs = new Analyzer(options).statement(pgType, node, undefined, undefined);
    return outs?.map((o) => ({ name: o.name, lineage: o.lin.freeze(), single: o.single })) ?? 'unknown';
  } catch (e) {
    // SQL nested deeper than this recursion can follow: nothing is known (fail closed) — about the
    // clauses not reached either, which may pick rows by anything.
    if (e instanceof RangeError) {
      options.onPredicate?.(UNKNOWN);
      return 'unknown';
    }
    throw e;
  }
}

/**
 * One lineage per result column, given how many columns the result has. Items of unknown width
 * (a `*` the catalog could not expand) are placed by aligning the known ones from both ends; the
 * columns in between depend on all the items in between (ambiguous).
 */
export function alignOutputs(outputs: StatementOutputs, count: number): Lineage[] {
  if (outputs === 'no-values') return Array.from({ length: count }, () => EMPTY);
  if (outputs === 'unknown') return Array.from({ length: count }, () => UNKNOWN);
  const result: (Lineage | undefined)[] = new Array(count).fill(undefined);
  let i = 0;
  while (i < outputs.length && i < count && outputs[i]!.single) {
    result[i] = outputs[i]!.lineage;
    i++;
  }
  let j = outputs.length - 1;
  let k = count - 1;
  while (j >= i && k >= i && outputs[j]!.single) {
    result[k] = outputs[j]!.lineage;
    j--;
    k--;
  }
  const singles = outputs.filter((o) => o.single).length;
  if (singles > count || (singles === outputs.length && outputs.length !== count)) {
    // The parse tree and the wire disagree on the shape: nothing can be trusted.
    return Array.from({ length: count }, () => UNKNOWN);
  }
  if (k >= i) {
    const middle = new Lin();
    for (let m = i; m <= j; m++) middle.add(Lin.from(outputs[m]!.lineage));
    const lin = middle.asAmbiguous().freeze();
    for (let m = i; m <= k; m++) result[m] = lin;
  }
  return result.map((l) => l ?? UNKNOWN);
}

const EMPTY: Lineage = Object.freeze({ sources: [], derived: false, ambiguous: false, unknown: false, opaque: false });
const UNKNOWN: Lineage = Object.freeze({ sources: [], derived: true, ambiguous: true, unknown: true, opaque: false });

// --- the analysis -------------------------------------------------------------------------------

class Analyzer {
  /** >0 while a clause that picks rows is analysed: there, `x IS NULL` tells about x too. */
  private inPredicate = 0;

  constructor(private readonly options: LineageOptions) {}

  /** Reports the inputs of an operation that may fail depending on them (for onComputation). */
  private computed(inputs: Lin): void {
    if (this.options.onComputation && (inputs.src.size > 0 || inputs.unknown || inputs.opaque)) this.options.onComputation(inputs.freeze());
  }

  /** The lineage of a clause that picks, counts or orders rows (for onPredicate). */
  private predicateExpr(node: unknown, level: Level): Lin {
    this.inPredicate++;
    try {
      return this.expr(node, level);
    } finally {
      this.inPredicate--;
    }
  }

  /** Outputs of a wrapped statement node; undefined when it is not one that returns rows we understand. */
  statement(type: string, f: Fields, ctes: Cte | undefined, outer: Level | undefined): Out[] | undefined {
    switch (type) {
      case 'SelectStmt':
        return this.select(f, ctes, outer);
      case 'CreateTableAsStmt': {
        // No rows come back; every output becomes a column of a table no policy masks yet.
        if (!this.options.onWrite) return undefined;
        const outs = this.wrapped(f.query, ctes, outer);
        this.intoTable(isFields(f.into) ? f.into : undefined, outs);
        return undefined;
      }
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt':
        return this.returning(type, f, ctes, outer);
      default:
        return undefined;
    }
  }

  private wrapped(v: unknown, ctes: Cte | undefined, outer: Level | undefined): Out[] {
    const node = unwrap(v);
    const outs = node && this.statement(node[0], node[1], ctes, outer);
    return outs ?? [blob(Lin.unknownLin())];
  }

  private select(f: Fields, ctesIn: Cte | undefined, outer: Level | undefined): Out[] {
    const ctes = this.withClause(f.withClause, ctesIn, outer);
    const op = str(f.op);
    if (op !== undefined && op !== 'SETOP_NONE') {
      const left = isFields(f.larg) ? this.select(f.larg, ctes, outer) : [blob(Lin.unknownLin())];
      const right = isFields(f.rarg) ? this.select(f.rarg, ctes, outer) : [blob(Lin.unknownLin())];
      // UNION, INTERSECT and EXCEPT compare every output value to pick rows: whether a guessed value
      // is among the masked ones is the row count. INTERSECT ALL and EXCEPT ALL too (a row is kept or
      // removed per match); only UNION ALL keeps every row of both.
      if (this.options.onPredicate && !(op === 'SETOP_UNION' && f.all === true)) this.options.onPredicate(unionOf(left).add(unionOf(right)).freeze());
      const outs = mergeSetOp(left, right);
      this.limits(f, ctes, outer, outs);
      return outs;
    }
    const values = list(f.valuesLists);
    if (values.length > 0) {
      const outs = this.values(values, ctes, outer);
      this.limits(f, ctes, outer, outs);
      return outs;
    }

    const level = this.from(list(f.fromClause), ctes, outer);
    const outs = this.targets(list(f.targetList), level);
    if (this.options.onPredicate) this.predicates(f, level, outs);
    if (isFields(f.intoClause)) this.intoTable(f.intoClause, outs);
    return outs;
  }

  /** CREATE TABLE AS / SELECT INTO: each output is written to a column of the new table. */
  private intoTable(into: Fields | undefined, outs: readonly Out[]): void {
    if (!this.options.onWrite) return;
    const relation = (into && relationName(into.rel)) ?? '?';
    for (const o of outs) this.options.onWrite({ relation, column: '*' }, o.lin.freeze());
  }

  /**
   * The ORDER BY, LIMIT and OFFSET of a set operation or VALUES, which decide the order and how many
   * rows come back (for onPredicate). ORDER BY names the result's columns, by name or position.
   */
  private limits(f: Fields, ctes: Cte | undefined, outer: Level | undefined, outs: readonly Out[]): void {
    if (!this.options.onPredicate) return;
    const level: Level = { items: [{ kind: 'sub', alias: undefined, outputs: outs }], entries: [], parent: outer, ctes };
    for (const clause of [f.limitCount, f.limitOffset]) {
      if (clause !== undefined && clause !== null) this.options.onPredicate(this.predicateExpr(clause, level).freeze());
    }
    for (const s of list(f.sortClause)) this.options.onPredicate(this.outputKey(unwrap(s)?.[1].node, outs, level, 'output').freeze());
  }

  /**
   * What an ORDER BY, DISTINCT ON or GROUP BY item sorts or groups by. A number is that output
   * column (`ORDER BY 2`); a bare name may be an output column's (`SELECT ssn AS name … ORDER BY
   * name` sorts by ssn): ORDER BY and DISTINCT ON look among the outputs first, GROUP BY among the
   * FROM items first. Anything else is an expression over the FROM items.
   */
  private outputKey(node: unknown, outs: readonly Out[], level: Level, prefer: 'output' | 'input'): Lin {
    const n = unwrap(node);
    if (n?.[0] === 'A_Const' && isFields(n[1].ival)) {
      const position = typeof n[1].ival.ival === 'number' ? n[1].ival.ival : 0;
      if (position >= 1 && position <= outs.length && outs.slice(0, position).every((o) => o.single)) return new Lin().add(outs[position - 1]!.lin);
      return unionOf(outs).asAmbiguous();
    }
    if (n?.[0] === 'GroupingSet' || (n?.[0] === 'RowExpr' && prefer === 'input')) {
      // GROUPING SETS ((2, 1)), ROLLUP, CUBE: a parenthesised list there is a list of grouping
      // items, positions and output names included (counted so at the top of GROUP BY too).
      const lin = new Lin();
      for (const item of list(n[0] === 'GroupingSet' ? n[1].content : n[1].args)) lin.add(this.outputKey(item, outs, level, prefer));
      return lin;
    }
    const names = n?.[0] === 'ColumnRef' ? columnRefNames(n[1]) : undefined;
    const name = names?.length === 1 && names[0] !== '*' ? names[0] : undefined;
    if (name === undefined) return this.predicateExpr(node, level);
    const named = outs.filter((o) => o.name === name);
    // Outputs whose name is not worked out here (`?column?`, `case`) or not known (a `*`) may be it.
    const unnamed = outs.filter((o) => o.name === undefined || !o.single);
    if (prefer === 'output' && named.length > 0) return unionOf(named);
    const input = this.lookup(name, level);
    if (input === undefined) return named.length + unnamed.length > 0 ? unionOf(named).add(unionOf(unnamed)) : Lin.unknownLin();
    // Found among the FROM items as far as this analysis can tell, which may be more than
    // PostgreSQL finds there: the outputs of that name count too.
    return input.add(unionOf(named)).add(prefer === 'output' ? unionOf(unnamed) : undefined);
  }

  /** The clauses of a SELECT that choose rows (see LineageOptions.onPredicate). */
  private predicates(f: Fields, level: Level, outs: readonly Out[]): void {
    const report = (node: unknown) => {
      if (node !== undefined && node !== null) this.options.onPredicate!(this.predicateExpr(node, level).freeze());
    };
    report(f.whereClause);
    report(f.limitCount);
    report(f.limitOffset);
    // Plain DISTINCT (a list of empty entries) removes duplicates of every output value.
    if (list(f.distinctClause).some((d) => unwrap(d) === undefined)) this.options.onPredicate!(unionOf(outs).freeze());
    report(f.havingClause);
    const key = (node: unknown, prefer: 'output' | 'input') => this.options.onPredicate!(this.inPredicateKey(node, outs, level, prefer).freeze());
    for (const g of list(f.groupClause)) key(g, 'input');
    for (const s of list(f.sortClause)) key(unwrap(s)?.[1].node, 'output');
    for (const w of list(f.windowClause)) {
      const def = unwrap(w)?.[1];
      for (const p of list(def?.partitionClause)) report(p);
      for (const o of list(def?.orderClause)) report(unwrap(o)?.[1].node);
      // Frame offsets (ROWS n PRECEDING): how many rows each window counts.
      report(def?.startOffset);
      report(def?.endOffset);
    }
    // DISTINCT ON (…) reads its items as ORDER BY does.
    for (const distinct of list(f.distinctClause)) if (unwrap(distinct) !== undefined) key(distinct, 'output');
    // Inside the output list: what aggregates count or filter by, and window partitions.
    for (const call of funcCallsIn(f.targetList)) {
      const parts = list(call.funcname).map(stringValue);
      const name = (parts[parts.length - 1] ?? '').toLowerCase();
      // A set-returning function in the output list makes as many rows as its arguments say.
      if (this.options.mayReturnSet?.(name, parts.length > 1 ? parts[parts.length - 2] : undefined) ?? true) for (const a of list(call.args)) report(a);
      if (name === 'count' || call.agg_distinct === true) for (const a of list(call.args)) report(a);
      report(call.agg_filter);
      if (call.agg_within_group !== true) for (const o of list(call.agg_order)) report(unwrap(o)?.[1].node);
      const over = isFields(call.over) ? call.over : undefined;
      for (const p of list(over?.partitionClause)) report(p);
      for (const o of list(over?.orderClause)) report(unwrap(o)?.[1].node);
      report(over?.startOffset);
      report(over?.endOffset);
    }
    // Attribute notation calls a function too: `(array_fill(0, ARRAY[ascii(ssn)])).unnest` makes as
    // many rows as the array is long. A name no function has is a field of a composite value.
    for (const ind of nodesIn(f.targetList, 'A_Indirection')) {
      const calls = list(ind.indirection).some((step) => {
        const name = stringValue(step);
        return name !== undefined && (this.options.mayReturnSet?.(name, undefined, true) ?? true);
      });
      if (calls) report({ A_Indirection: ind });
    }
  }

  /** outputKey, as a clause that picks or orders rows (IS NULL inside it counts). */
  private inPredicateKey(node: unknown, outs: readonly Out[], level: Level, prefer: 'output' | 'input'): Lin {
    this.inPredicate++;
    try {
      return this.outputKey(node, outs, level, prefer);
    } finally {
      this.inPredicate--;
    }
  }

  private values(rows: readonly unknown[], ctes: Cte | undefined, outer: Level | undefined): Out[] {
    const level: Level = { items: [], entries: [], parent: outer, ctes };
    const columns: Lin[] = [];
    for (const row of rows) {
      const items = list(unwrap(row)?.[1].items);
      items.forEach((expr, i) => {
        columns[i] = (columns[i] ?? new Lin()).add(this.expr(expr, level));
      });
    }
    return columns.map((lin, i) => ({ name: `column${i + 1}`, certain: true, lin, single: true }));
  }

  private returning(type: string, f: Fields, ctesIn: Cte | undefined, outer: Level | undefined): Out[] | undefined {
    const ctes = this.withClause(f.withClause, ctesIn, outer);
    const targets = list(isFields(f.returningClause) ? f.returningClause.exprs : f.returningList);
    const analysed = this.options.onPredicate || this.options.onComputation || this.options.onWrite;
    if (targets.length === 0 && !analysed) return [];
    const level: Level = { items: [], entries: [], parent: outer, ctes };
    if (isFields(f.relation)) level.entries.push(this.fromEntry({ RangeVar: f.relation }, level, ctes));
    const more = type === 'UpdateStmt' ? f.fromClause : type === 'DeleteStmt' ? f.usingClause : type === 'MergeStmt' ? [f.sourceRelation] : [];
    for (const node of list(more)) level.entries.push(this.fromEntry(node, level, ctes));
    if (this.options.onPredicate) {
      // WHERE, and MERGE's join and WHEN conditions, pick the rows written: their count is answered.
      for (const clause of [f.whereClause, f.joinCondition, ...list(f.mergeWhenClauses).map((w) => unwrap(w)?.[1].condition)]) {
        if (clause !== undefined && clause !== null) this.options.onPredicate(this.predicateExpr(clause, level).freeze());
      }
    }
    if (analysed) this.written(type, f, level, ctes, outer);
    return targets.length === 0 ? [] : this.targets(targets, level);
  }

  /** What an INSERT, UPDATE or MERGE writes to each column of its target (for onWrite). */
  private written(type: string, f: Fields, level: Level, ctes: Cte | undefined, outer: Level | undefined): void {
    const relation = (isFields(f.relation) && relationName(f.relation)) || '?';
    const report = (column: string | undefined, lin: Lin) => this.options.onWrite?.({ relation, column: column ?? '*' }, lin.freeze());
    const names = (targets: readonly unknown[]) => targets.map((t) => str(unwrap(t)?.[1].name));
    // A column list, or the table's own columns in order; past an output of unknown width, any column.
    const positional = (columns: readonly (string | undefined)[], values: readonly Out[]) => {
      const ordered = columns.length > 0 ? columns : (this.options.columnsOf?.(relation) ?? []);
      let known = true;
      values.forEach((o, i) => {
        known &&= o.single;
        report(known ? ordered[i] : undefined, o.lin);
      });
    };
    const assignments = (targets: readonly unknown[], scope: Level) => {
      for (const t of targets) {
        const rt = unwrap(t)?.[1];
        if (rt === undefined) continue;
        report(str(rt.name), this.assigned(rt.val, scope));
      }
    };
    switch (type) {
      case 'InsertStmt': {
        const values = f.selectStmt === undefined || f.selectStmt === null ? [] : this.wrapped(f.selectStmt, ctes, outer);
        const columns = names(list(f.cols));
        positional(columns, values);
        const conflict = isFields(f.onConflictClause) ? f.onConflictClause : undefined;
        if (conflict) {
          // ON CONFLICT DO UPDATE sees the row it would have inserted as `excluded`.
          const ordered = columns.length > 0 ? columns : (this.options.columnsOf?.(relation) ?? []);
          const excluded: Item = { kind: 'sub', alias: 'excluded', outputs: rename(values, ordered) };
          const scope: Level = { ...level, items: [...level.items, excluded] };
          assignments(list(conflict.targetList), scope);
          if (this.options.onPredicate && conflict.whereClause !== undefined) this.options.onPredicate(this.predicateExpr(conflict.whereClause, scope).freeze());
        }
        return;
      }
      case 'UpdateStmt':
        assignments(list(f.targetList), level);
        return;
      case 'MergeStmt':
        for (const w of list(f.mergeWhenClauses)) {
          const clause = unwrap(w)?.[1];
          if (str(clause?.commandType) === 'CMD_UPDATE') assignments(list(clause!.targetList), level);
          if (str(clause?.commandType) === 'CMD_INSERT') {
            const values = list(clause!.values).map((v) => ({ name: undefined, certain: false, lin: this.expr(v, level), single: true }));
            positional(names(list(clause!.targetList)), values);
          }
        }
        return;
    }
  }

  /** The value of `SET col = …`; `SET (a, b) = (SELECT …)` may put any of the subquery's outputs in each. */
  private assigned(val: unknown, level: Level): Lin {
    const n = unwrap(val);
    if (n?.[0] !== 'MultiAssignRef') return this.expr(val, level);
    const source = unwrap(n[1].source);
    if (source?.[0] === 'SubLink') return unionOf(this.wrapped(source[1].subselect, level.ctes, level));
    return this.expr(n[1].source, level);
  }

  private withClause(clause: unknown, ctesIn: Cte | undefined, outer: Level | undefined): Cte | undefined {
    if (!isFields(clause)) return ctesIn;
    const defs: { cte: Fields; entry: Cte }[] = [];
    let ctes = ctesIn;
    for (const c of list(clause.ctes)) {
      const cte = unwrap(c)?.[1];
      const name = str(cte?.ctename);
      if (cte === undefined || name === undefined) continue;
      const entry: Cte = { name, outputs: [blob(Lin.unknownLin())], parent: ctes };
      defs.push({ cte, entry });
      if (clause.recursive !== true) {
        // Without RECURSIVE a CTE sees the ones before it only.
        entry.outputs = this.cteOutputs(cte, this.wrapped(cte.ctequery, ctes, outer), ctes, outer);
      }
      ctes = entry;
    }
    if (clause.recursive === true) {
      // With RECURSIVE every CTE of the list sees every other, later ones included:
      // `WITH RECURSIVE a AS (SELECT x FROM b), b AS (SELECT ssn AS x FROM customers)`. PostgreSQL
      // has no mutual recursion, so in the order of what each names, each CTE's siblings are worked
      // out before it; one that is not (a cycle of names) is still unknown when read (fail closed).
      for (const { cte, entry } of dependencyOrder(defs)) {
        entry.outputs = this.cteOutputs(cte, this.recursiveCte(cte, entry, ctes, outer), ctes, outer);
      }
    }
    return ctes;
  }

  /** A recursive CTE reads itself: from its non-recursive term, repeat to a fixpoint. */
  private recursiveCte(cte: Fields, entry: Cte, visible: Cte | undefined, outer: Level | undefined): Out[] {
    const aliases = list(cte.aliascolnames).map(stringValue);
    // (sources only ever grow, so it settles within a few rounds)
    const query = unwrap(cte.ctequery);
    const seed = query?.[0] === 'SelectStmt' && str(query[1].op) !== 'SETOP_NONE' && isFields(query[1].larg) ? this.select(query[1].larg, visible, outer) : this.wrapped(cte.ctequery, visible, outer);
    entry.outputs = rename(seed, aliases);
    let previous = outsSignature(entry.outputs);
    for (let round = 0; round < MAX_RECURSIVE_ROUNDS; round++) {
      const outputs = this.wrapped(cte.ctequery, visible, outer);
      entry.outputs = rename(outputs, aliases);
      const signature = outsSignature(entry.outputs);
      if (signature === previous) return outputs;
      previous = signature;
    }
    return [blob(Lin.unknownLin())];
  }

  /**
   * A CTE's columns: its query's, renamed by its column list, then the columns SEARCH and CYCLE
   * add — `SEARCH … BY a SET s` (s holds the values of a, row by row), `CYCLE a SET m USING p`
   * (p holds the values of a; m is whether they repeat an earlier row's). CYCLE also decides when
   * the recursion stops, so how many rows there are: a comparison of a, for onPredicate.
   */
  private cteOutputs(cte: Fields, query: readonly Out[], ctes: Cte | undefined, outer: Level | undefined): Out[] {
    const outputs = rename(query, list(cte.aliascolnames).map(stringValue));
    const search = isFields(cte.search_clause) ? cte.search_clause : undefined;
    const cycle = isFields(cte.cycle_clause) ? cte.cycle_clause : undefined;
    if (search === undefined && cycle === undefined) return outputs;
    const columns = (names: unknown): Lin => {
      const lin = new Lin();
      for (const n of list(names)) {
        const name = stringValue(n);
        const exact = outputs.filter((o) => o.certain && o.single && o.name === name);
        lin.add(exact.length > 0 ? unionOf(exact) : unionOf(outputs).asAmbiguous());
      }
      return lin.asDerived();
    };
    const added: Out[] = [];
    if (search !== undefined) added.push({ name: str(search.search_seq_column), certain: true, lin: columns(search.search_col_list), single: true });
    if (cycle !== undefined) {
      const compared = columns(cycle.cycle_col_list);
      this.options.onPredicate?.(compared.freeze());
      const level: Level = { items: [], entries: [], parent: outer, ctes };
      const mark = new Lin().add(compared).add(this.expr(cycle.cycle_mark_value, level)).add(this.expr(cycle.cycle_mark_default, level));
      added.push({ name: str(cycle.cycle_mark_column), certain: true, lin: mark, single: true });
      added.push({ name: str(cycle.cycle_path_column), certain: true, lin: compared, single: true });
    }
    return [...outputs, ...added];
  }

  private from(nodes: readonly unknown[], ctes: Cte | undefined, outer: Level | undefined): Level {
    const level: Level = { items: [], entries: [], parent: outer, ctes };
    for (const node of nodes) level.entries.push(this.fromEntry(node, level, ctes));
    return level;
  }

  /**
   * One FROM item; its items are added to `level`. Functions (and XMLTABLE) and LATERAL subqueries
   * see the FROM items before them; a subquery without LATERAL does not — PostgreSQL skips them and
   * resolves `t.v` in an outer query, which a neighbouring `t` must not be taken for.
   */
  private fromEntry(node: unknown, level: Level, ctes: Cte | undefined): Entry {
    const n = unwrap(node);
    if (n === undefined) return this.opaqueEntry(level, undefined, Lin.unknownLin());
    const [type, f] = n;
    const alias = isFields(f.alias) ? str(f.alias.aliasname) : undefined;
    const aliasCols = isFields(f.alias) ? list(f.alias.colnames).map((c) => stringValue(c) ?? '?') : [];
    switch (type) {
      case 'RangeVar': {
        const relation = relationName(f);
        if (relation === undefined) return this.opaqueEntry(level, alias, Lin.unknownLin());
        const cte = str(f.schemaname) === undefined ? findCte(ctes, str(f.relname)!) : undefined;
        if (!cte) this.options.onRelation?.(relation);
        const item: Item = cte
          ? { kind: 'sub', alias: alias ?? cte.name, outputs: rename(cte.outputs, aliasCols) }
          : { kind: 'rel', alias: alias ?? str(f.relname)!, aliased: alias !== undefined, relation, aliasCols };
        level.items.push(item);
        return { kind: 'item', item };
      }
      case 'RangeTableSample':
        // The sampling percentage and the REPEATABLE seed decide which rows come back.
        if (this.options.onPredicate) {
          for (const a of [...list(f.args), f.repeatable]) if (a !== undefined && a !== null) this.options.onPredicate(this.predicateExpr(a, level).freeze());
        }
        return this.fromEntry(f.relation, level, ctes);
      case 'RangeSubselect': {
        const outputs = rename(this.wrapped(f.subquery, ctes, f.lateral === true ? level : level.parent), aliasCols);
        const item: Item = { kind: 'sub', alias, outputs };
        level.items.push(item);
        return { kind: 'item', item };
      }
      case 'RangeFunction': {
        const lin = new Lin();
        for (const fn of list(f.functions)) lin.add(this.expr(list(unwrap(fn)?.[1].items)[0], level));
        // A function in FROM makes as many rows as its arguments say (generate_series(1, ascii(ssn))).
        this.options.onPredicate?.(lin.freeze());
        return this.opaqueEntry(level, alias, lin.asDerived());
      }
      case 'JoinExpr': {
        const before = level.items.length;
        const left = this.fromEntry(f.larg, level, ctes);
        const right = this.fromEntry(f.rarg, level, ctes);
        // ON sees the join's own two sides (and outer queries), not the FROM items beside the join.
        const own: Level = { items: level.items.slice(before), entries: [], parent: level.parent, ctes: level.ctes, hidden: level.hidden };
        if (this.options.onPredicate && f.quals !== undefined) this.options.onPredicate(this.predicateExpr(f.quals, own).freeze());
        const using = f.isNatural === true ? 'natural' : list(f.usingClause).map((u) => stringValue(u) ?? '?');
        if (this.options.onPredicate && (using === 'natural' || using.length > 0)) this.options.onPredicate(this.joinColumns(left, right, using).freeze());
        const entry: Entry = { kind: 'join', left, right, using: using === 'natural' || using.length > 0 ? using : undefined };
        if (alias !== undefined && aliasCols.length > 0) {
          // `(a JOIN b) AS j(x, y)` renames the join's first columns, for j.x and for `*` alike.
          const item: Item = { kind: 'sub', alias, outputs: rename(this.expandEntry(entry), aliasCols) };
          level.items.push(item);
          this.hide(level, before);
          return { kind: 'item', item };
        } else if (alias !== undefined) {
          // `(a JOIN b) AS j`: j.x looks in both.
          level.items.push({ kind: 'join', alias, members: level.items.slice(before), entry });
        }
        if (alias !== undefined) this.hide(level, before);
        return entry;
      }
      default:
        // XMLTABLE, JSON_TABLE, anything newer: columns computed from whatever the node references,
        // and as many rows as that says.
        const lin = this.generic(f, level);
        this.options.onPredicate?.(lin.freeze());
        return this.opaqueEntry(level, alias, lin.asDerived());
    }
  }

  /**
   * An alias on a join hides the names of the items inside it (`t.x` there is an outer query's t,
   * if any); their columns stay visible unqualified, as the join's own. The alias is the last item.
   */
  private hide(level: Level, before: number): void {
    const hidden = ((level as { hidden?: Set<Item> }).hidden ??= new Set());
    for (const item of level.items.slice(before, -1)) hidden.add(item);
  }

  /**
   * What JOIN … USING (c) and NATURAL JOIN compare: the named (or same-named) columns of both
   * sides — every column of both when a side's columns are not all known by name.
   */
  private joinColumns(left: Entry, right: Entry, using: readonly string[] | 'natural'): Lin {
    const l = this.expandEntry(left);
    const r = this.expandEntry(right);
    const lin = new Lin();
    if (![...l, ...r].every((o) => o.single && o.certain)) return lin.add(unionOf(l)).add(unionOf(r));
    const names = using === 'natural' ? l.map((o) => o.name!).filter((n) => r.some((o) => o.name === n)) : using;
    for (const n of names) lin.add(unionOf(l.filter((o) => o.name === n))).add(unionOf(r.filter((o) => o.name === n)));
    return lin;
  }

  private opaqueEntry(level: Level, alias: string | undefined, lin: Lin): Entry {
    const item: Item = { kind: 'fn', alias, lin };
    level.items.push(item);
    return { kind: 'item', item };
  }

  private targets(targets: readonly unknown[], level: Level): Out[] {
    const outs: Out[] = [];
    for (const t of targets) {
      const rt = unwrap(t)?.[1];
      if (rt === undefined) {
        outs.push(blob(Lin.unknownLin()));
        continue;
      }
      const star = starOf(rt.val);
      if (star !== undefined) {
        outs.push(...this.star(star, level));
        continue;
      }
      const val = unwrap(rt.val);
      if (val?.[0] === 'A_Indirection' && list(val[1].indirection).some((step) => unwrap(step)?.[0] === 'A_Star')) {
        // `(c).*`, `(f(x)).*`: as many columns as the value has fields, each any of them.
        outs.push(blob(this.expr(rt.val, level)));
        continue;
      }
      const given = str(rt.name);
      const figured = given === undefined ? figureName(rt.val) : undefined;
      outs.push({ name: given ?? figured?.name, certain: given !== undefined || figured?.certain === true, lin: this.expr(rt.val, level), single: true });
    }
    return outs;
  }

  /** `*` or `q.*` in a target list. */
  private star(qualifier: readonly string[], level: Level): Out[] {
    if (qualifier.length === 0) return level.entries.flatMap((e) => this.expandEntry(e));
    const items = findQualified(level, qualifier);
    if (items === undefined) return [blob(Lin.unknownLin())];
    return items.flatMap((item) => this.expandItem(item));
  }

  private expandEntry(entry: Entry): Out[] {
    if (entry.kind === 'item') return this.expandItem(entry.item);
    const left = this.expandEntry(entry.left);
    const right = this.expandEntry(entry.right);
    if (entry.using === undefined) return [...left, ...right];
    if (!left.every((o) => o.single && o.certain) || !right.every((o) => o.single && o.certain)) {
      return [blob(new Lin().add(unionOf(left)).add(unionOf(right)))];
    }
    const names = entry.using === 'natural' ? left.map((o) => o.name!).filter((n) => right.some((o) => o.name === n)) : entry.using;
    const merged: Out[] = names.map((name) => ({
      name,
      certain: true,
      lin: new Lin().add(unionOf(left.filter((o) => o.name === name))).add(unionOf(right.filter((o) => o.name === name))),
      single: true,
    }));
    const rest = (outs: Out[]) => outs.filter((o) => !names.includes(o.name!));
    return [...merged, ...rest(left), ...rest(right)];
  }

  private expandItem(item: Item): Out[] {
    switch (item.kind) {
      case 'rel': {
        const columns = this.options.columnsOf?.(item.relation);
        if (columns === undefined) {
          return [{ name: undefined, certain: false, lin: Lin.source(item.relation, '*').asAmbiguous(), single: false, starRel: item.relation }];
        }
        return columns.map((column, i) => ({
          name: item.aliasCols[i] ?? column,
          certain: true,
          lin: Lin.source(item.relation, column),
          single: true,
        }));
      }
      case 'sub':
        return [...item.outputs];
      case 'fn':
        return [blob(item.lin)];
      case 'join':
        return this.expandEntry(item.entry);
    }
  }

  // --- expressions ------------------------------------------------------------------------------

  expr(node: unknown, level: Level): Lin {
    const n = unwrap(node);
    if (n === undefined) {
      if (Array.isArray(node)) return this.union(node, level);
      return isFields(node) ? this.generic(node, level) : new Lin();
    }
    const [type, f] = n;
    switch (type) {
      case 'ColumnRef':
        return this.columnRef(f, level);
      case 'A_Const':
      case 'ParamRef':
      case 'SQLValueFunction':
      case 'SetToDefault':
      case 'GroupingFunc':
        return new Lin();
      case 'NullTest': {
        // `col IS NULL` of a value as stored carries only whether it is null, as count(col) does:
        // nothing for an output; in a clause that picks rows, the same oracle count(col) is (refused
        // under predicates: deny). Of anything computed it is a condition like any other:
        // `nullif(substr(ssn, 1, 1), '9') IS NULL` inside CASE or array_position spells the value.
        const arg = this.expr(f.arg, level);
        const stored = !arg.derived && !arg.unknown && !arg.opaque;
        return this.inPredicate > 0 || !stored ? arg.asDerived() : new Lin();
      }
      case 'CollateClause':
        return this.expr(f.arg, level);
      case 'NamedArgExpr':
        return this.expr(f.arg, level);
      case 'FuncCall':
        return this.funcCall(f, level);
      case 'SubLink':
        return this.subLink(f, level);
      case 'A_Indirection':
        return this.indirection(f, level);
      case 'List':
        return this.union(list(f.items), level);
      case 'SelectStmt':
        // A bare subquery where an expression was expected: every output it has.
        return unionOf(this.select(f, level.ctes, level)).asDerived();
      case 'TypeCast':
        return this.typeCast(f, level);
      case 'CaseExpr':
        return this.caseExpr(f, level);
      case 'RowExpr':
      case 'A_ArrayExpr':
      case 'CoalesceExpr':
        // Built from everything inside it, which it passes on without operating on it.
        return this.generic(f, level).asDerived();
      default: {
        // Operators, comparisons, JSON and XML constructors and anything newer: the value is built
        // from everything inside it, and each of those is an input that can make it fail.
        const lin = this.generic(f, level);
        this.computed(lin);
        return lin.asDerived();
      }
    }
  }

  /** A cast: to text (or varchar) it cannot fail; to anything else the value may not parse (`ssn::int`). */
  private typeCast(f: Fields, level: Level): Lin {
    const arg = this.expr(f.arg, level);
    const type = isFields(f.typeName) ? f.typeName : undefined;
    const names = list(type?.names).map(stringValue);
    const name = names[names.length - 1];
    const schema = names.length > 1 ? names[names.length - 2] : undefined;
    const toText = type !== undefined && list(type.arrayBounds).length === 0 && (name === 'text' || name === 'varchar') && (schema === undefined || schema === 'pg_catalog') && names.length <= 2;
    if (!toText) this.computed(arg);
    return arg.add(type === undefined ? undefined : this.generic(type, level)).asDerived();
  }

  /** CASE: the tested value and the WHEN conditions are operated on; the results are only passed on. */
  private caseExpr(f: Fields, level: Level): Lin {
    const lin = new Lin();
    const inputs = new Lin();
    const tested = this.expr(f.arg, level);
    lin.add(tested);
    inputs.add(tested);
    for (const w of list(f.args)) {
      const when = unwrap(w);
      if (when?.[0] !== 'CaseWhen') {
        const other = this.expr(w, level);
        lin.add(other);
        inputs.add(other);
        continue;
      }
      const condition = this.expr(when[1].expr, level);
      lin.add(condition).add(this.expr(when[1].result, level));
      inputs.add(condition);
    }
    lin.add(this.expr(f.defresult, level));
    this.computed(inputs);
    return lin.asDerived();
  }

  private union(nodes: readonly unknown[], level: Level): Lin {
    const lin = new Lin();
    for (const n of nodes) lin.add(this.expr(n, level));
    return lin;
  }

  /** Every value-bearing thing under a node we do not model one by one. */
  private generic(f: Fields, level: Level): Lin {
    const lin = new Lin();
    for (const key in f) {
      if (key === 'location') continue;
      const child = f[key];
      if (typeof child === 'object' && child !== null) lin.add(this.expr(child, level));
    }
    return lin;
  }

  private funcCall(f: Fields, level: Level): Lin {
    const parts = list(f.funcname).map((p) => stringValue(p) ?? '?');
    const name = parts[parts.length - 1] ?? '?';
    const schema = parts.length > 1 ? parts[parts.length - 2] : undefined;
    const builtin = schema === undefined || schema === 'pg_catalog';
    // A schema other than PostgreSQL's own is user code whatever the catalog says.
    const userSchema = schema !== undefined && schema !== 'pg_catalog' && schema !== 'information_schema';
    if (userSchema || (schema === undefined && this.options.isOpaque?.(name, undefined) === true)) {
      const lin = this.union(list(f.args), level);
      this.computed(lin);
      lin.derived = true;
      lin.unknown = true;
      lin.opaque = true;
      return lin;
    }
    // count(*) and count(x) carry how many, never a value. The FILTER, OVER and ORDER BY of any
    // aggregate choose and order rows, like WHERE (see the header) — except WITHIN GROUP, whose
    // ORDER BY is the aggregated value: percentile_disc(0.5) WITHIN GROUP (ORDER BY email).
    if (builtin && name.toLowerCase() === 'count') return new Lin();
    const lin = this.union(list(f.args), level);
    // A setting's value: secret unless the name is plainly one of PostgreSQL's own (sensitive.ts).
    if (builtin && readsSettings(name.toLowerCase(), list(f.args)[0])) lin.add(Lin.source(SETTINGS.relation, SETTINGS.column));
    if (f.agg_within_group === true) lin.add(this.union(list(f.agg_order), level));
    this.computed(lin);
    return lin.asDerived();
  }

  private subLink(f: Fields, level: Level): Lin {
    const kind = str(f.subLinkType);
    if (kind === 'EXISTS_SUBLINK') {
      // No value comes out; its own WHERE still picks rows (analysed for onPredicate).
      if (this.options.onPredicate) this.wrapped(f.subselect, level.ctes, level);
      return new Lin();
    }
    const outs = this.wrapped(f.subselect, level.ctes, level);
    if (kind === 'EXPR_SUBLINK') {
      // A scalar subquery is its one output column, value for value.
      const first = outs[0];
      return first === undefined ? Lin.unknownLin() : first.single ? new Lin().add(first.lin) : new Lin().add(first.lin).asAmbiguous();
    }
    // ARRAY(…), IN/ANY/ALL, row comparisons: built from the outputs (and the tested expression),
    // which all but ARRAY(…) compare.
    const lin = unionOf(outs).add(this.expr(f.testexpr, level));
    if (kind !== 'ARRAY_SUBLINK') this.computed(lin);
    return lin.asDerived();
  }

  private indirection(f: Fields, level: Level): Lin {
    const base = this.indirectionBase(f, level);
    // `('app.jwt_secret'::text).current_setting` is current_setting(…) in attribute notation.
    if (list(f.indirection).some((p) => readsSettings(stringValue(p)?.toLowerCase() ?? '', undefined))) base.add(Lin.source(SETTINGS.relation, SETTINGS.column)).derived = true;
    // A subscript picks which element comes out, so its value reaches the output:
    // `('{0,…,9}'::text[])[ascii(substr(ssn, 1, 1)) - 47]` spells the SSN one digit at a time.
    const subscripts = list(f.indirection).filter((p) => stringValue(p) === undefined);
    if (subscripts.length === 0) return base;
    return base.add(this.union(subscripts, level)).asDerived();
  }

  private indirectionBase(f: Fields, level: Level): Lin {
    const path = list(f.indirection);
    const field = stringValue(path[0]);
    // `(x).f` where f is a user function: f(x), whose body may read anything.
    const calls = path.some((p) => {
      const name = stringValue(p);
      return name !== undefined && this.options.isOpaque?.(name, undefined) === true;
    });
    if (calls) {
      const lin = this.expr(f.arg, level);
      this.computed(lin);
      lin.derived = true;
      lin.opaque = true;
      lin.unknown = true;
      return lin;
    }
    const ref = unwrap(f.arg);
    const names = ref?.[0] === 'ColumnRef' ? columnRefNames(ref[1]) : undefined;
    if (field !== undefined && names !== undefined && names.length === 1 && names[0] !== '*') {
      // `(c).email`: the column email of the row c — or a field of a composite column named c.
      const lin = this.fieldOf(names[0]!, field, level);
      if (lin !== undefined) {
        // A name after the first is a field of that value or a function of it (`(c).ssn.int4`).
        if (path.slice(1).some((p) => stringValue(p) !== undefined)) this.computed(lin);
        return path.length > 1 ? lin.asDerived() : lin;
      }
    }
    const arg = this.expr(f.arg, level);
    // `(x).f`: a field of a composite value, or f(x) — `(ssn).int4` is a cast that fails on the value.
    if (path.some((p) => stringValue(p) !== undefined)) this.computed(arg);
    return arg.asDerived();
  }

  private fieldOf(name: string, field: string, level: Level): Lin | undefined {
    const lin = new Lin();
    let found = false;
    for (let l: Level | undefined = level; l !== undefined; l = l.parent) {
      for (const item of l.items) {
        if (item.alias === name && !l.hidden?.has(item)) {
          lin.add(this.columnIn(item, field));
          found = true;
        }
        if (item.kind !== 'join' && this.couldHave(item, name)) {
          // `(ssn).length`: a field of a composite column, or a function of the column.
          const column = this.columnIn(item, name);
          this.computed(column);
          lin.add(column.asDerived());
          found = true;
        }
      }
    }
    return found ? lin : undefined;
  }

  private columnRef(f: Fields, level: Level): Lin {
    const names = columnRefNames(f);
    if (names === undefined) return Lin.unknownLin();
    const last = names[names.length - 1];
    if (last === '*') {
      // `c.*` or `*` as a value (row_to_json(c.*)): the whole row.
      const items = names.length === 1 ? level.items : findQualified(level, names.slice(0, -1));
      if (items === undefined) return Lin.unknownLin();
      const lin = new Lin();
      for (const item of items) lin.add(this.wholeRow(item));
      return lin.asDerived();
    }
    if (names.length === 1) return this.unqualified(names[0]!, level);
    const items = findQualified(level, names.slice(0, -1));
    if (items !== undefined) {
      const lin = new Lin();
      for (const item of items) lin.add(this.columnIn(item, last!));
      return lin;
    }
    // `schema.table` as a whole-row value.
    const whole = findQualified(level, names);
    if (whole !== undefined) {
      const lin = new Lin();
      for (const item of whole) lin.add(this.wholeRow(item));
      return lin.asDerived();
    }
    return Lin.unknownLin();
  }

  /** An unqualified name: every item at every level that could have it, and a whole row so named. */
  private unqualified(name: string, level: Level): Lin {
    return this.lookup(name, level) ?? Lin.unknownLin();
  }

  /** unqualified, or undefined when nothing in scope could have the name. */
  private lookup(name: string, level: Level): Lin | undefined {
    const lin = new Lin();
    let found = false;
    for (let l: Level | undefined = level; l !== undefined; l = l.parent) {
      for (const item of l.items) {
        // A join's members are in the level already; only its alias can name a whole row.
        if (item.kind !== 'join' && this.couldHave(item, name)) {
          lin.add(this.columnIn(item, name));
          found = true;
        }
        if (item.alias === name && !l.hidden?.has(item)) {
          lin.add(this.wholeRow(item).asDerived());
          found = true;
        }
      }
    }
    return found ? lin : undefined;
  }

  private couldHave(item: Item, name: string): boolean {
    switch (item.kind) {
      case 'rel': {
        if (item.aliasCols.includes(name)) return true;
        const columns = this.options.columnsOf?.(item.relation);
        return columns === undefined || columns.includes(name);
      }
      case 'sub':
        return item.outputs.some((o) => o.name === name || !o.certain || !o.single);
      case 'fn':
        return true;
      case 'join':
        return item.members.some((m) => this.couldHave(m, name));
    }
  }

  private columnIn(item: Item, name: string): Lin {
    switch (item.kind) {
      case 'rel': {
        // A column renamed by an alias list could be any of the table's columns.
        if (item.aliasCols.includes(name)) return Lin.source(item.relation, '*').asAmbiguous();
        const columns = this.options.columnsOf?.(item.relation);
        // Without the catalog (a preview) a qualified name is taken for the column it looks like.
        if (columns === undefined || columns.includes(name)) return Lin.source(item.relation, name);
        // Not a column: PostgreSQL reads `c.f` as `f(c)`, a function of the whole row —
        // `c.to_jsonb` is every column; a user function's body may read anything besides.
        const call = this.wholeRow(item);
        this.computed(call);
        if (this.options.isOpaque?.(name, undefined) === true) call.opaque = true;
        return call;
      }
      case 'sub': {
        const exact = item.outputs.filter((o) => o.certain && o.single && o.name === name);
        if (exact.length > 0) return unionOf(exact);
        // PostgreSQL names a call after its function (upper(name) is `upper`).
        const figured = item.outputs.filter((o) => o.single && o.name === name);
        if (figured.length > 0) return unionOf(figured);
        const lin = new Lin();
        let unnamed = false;
        for (const o of item.outputs) {
          if (o.single && o.certain) continue;
          if (o.starRel !== undefined && o.single === false) {
            // A table's `*` without the catalog: its column of that name (a preview).
            lin.add(Lin.source(o.starRel, name));
            continue;
          }
          unnamed = true;
          lin.add(o.single ? o.lin : o.lin.asAmbiguous());
        }
        if (unnamed) {
          // An output whose name is not worked out here — or attribute notation, a function of the
          // whole row: `s.to_jsonb` is to_jsonb(s).
          lin.add(this.wholeRow(item));
          if (this.options.isOpaque?.(name, undefined) === true) lin.opaque = true;
        }
        // Every output has a name and none is this one: not something this analysis can place.
        return lin.src.size > 0 || lin.unknown || lin.opaque || unnamed ? lin : Lin.unknownLin();
      }
      case 'fn':
        return new Lin().add(item.lin).asDerived();
      case 'join': {
        const members = item.members.filter((m) => this.couldHave(m, name));
        if (members.length === 0) {
          // Not a column of the join: `j.to_jsonb` is to_jsonb(j), a function of its whole row.
          const call = this.wholeRow(item);
          if (this.options.isOpaque?.(name, undefined) === true) call.opaque = true;
          return call;
        }
        const lin = new Lin();
        for (const m of members) lin.add(this.columnIn(m, name));
        return lin;
      }
    }
  }

  private wholeRow(item: Item): Lin {
    switch (item.kind) {
      case 'rel':
        return Lin.source(item.relation, '*').asDerived();
      case 'sub':
        return unionOf(item.outputs).asDerived();
      case 'fn':
        return new Lin().add(item.lin).asDerived();
      case 'join': {
        const lin = new Lin();
        for (const m of item.members) lin.add(this.wholeRow(m));
        return lin.asDerived();
      }
    }
  }
}

// --- helpers ------------------------------------------------------------------------------------

/** Where a setting's value comes from, as a source the sensitive index masks under every policy. */
const SETTINGS: SourceRef = { relation: 'pg_catalog.pg_settings', column: 'setting' };

/**
 * Does this call return a setting's value that may be a custom one? PostgreSQL's own settings have
 * no dot in their names; a custom one must have one. So current_setting('work_mem') is plain, and
 * current_setting('app.jwt_secret'), current_setting($1) or current_setting(name) are not.
 */
function readsSettings(name: string, first: unknown): boolean {
  if (name === 'pg_show_all_settings') return true;
  if (name !== 'current_setting') return false;
  const c = unwrap(first);
  const value = c?.[0] === 'A_Const' && isFields(c[1].sval) ? str(c[1].sval.sval) : undefined;
  return value === undefined || value.includes('.');
}

/** SHOW: a custom setting's value, or every setting's (SHOW ALL), carries the settings source. */
function showOutputs(name: string | undefined): StatementOutputs {
  const value: Lineage = { sources: [SETTINGS], derived: false, ambiguous: false, unknown: false, opaque: false };
  const plain = { sources: [], derived: false, ambiguous: false, unknown: false, opaque: false };
  if (name === undefined) return [{ name: undefined, lineage: UNKNOWN, single: true }];
  if (name.toLowerCase() === 'all') {
    return [
      { name: 'name', lineage: plain, single: true },
      { name: 'setting', lineage: value, single: true },
      { name: 'description', lineage: plain, single: true },
    ];
  }
  return name.includes('.') ? [{ name, lineage: value, single: true }] : 'no-values';
}

/** FuncCall nodes in an expression tree, not descending into subqueries (they report their own). */
function funcCallsIn(root: unknown): Fields[] {
  return nodesIn(root, 'FuncCall');
}

/** Nodes of a type in an expression tree, not descending into subqueries (they report their own). */
function nodesIn(root: unknown, type: string): Fields[] {
  const out: Fields[] = [];
  eachNode(root, (t, f) => {
    if (t === 'SubLink' || t === 'SelectStmt') return false;
    if (t === type) out.push(f);
    return true;
  });
  return out;
}

/**
 * Every node under `root`, depth first, iteratively (the tree is as deep as untrusted SQL nests):
 * `visit` gets its type (undefined for an unwrapped struct) and fields, and false stops the descent.
 */
function eachNode(root: unknown, visit: (type: string | undefined, fields: Fields) => boolean): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
      continue;
    }
    if (!isFields(v)) continue;
    const node = unwrap(v);
    const fields = node?.[1] ?? v;
    if (!visit(node?.[0], fields)) continue;
    for (const key in fields) {
      const child = fields[key];
      if (typeof child === 'object' && child !== null) stack.push(child);
    }
  }
}

/**
 * The CTEs of a WITH RECURSIVE list, each after the siblings its query names (as far as names
 * written in FROM tell); what a cycle of names leaves comes last, in the order written.
 */
function dependencyOrder<T extends { cte: Fields; entry: Cte }>(defs: readonly T[]): T[] {
  const names = new Set(defs.map((d) => d.entry.name));
  const needs = new Map(defs.map((d) => [d, [...relationNamesIn(d.cte.ctequery)].filter((n) => names.has(n) && n !== d.entry.name)]));
  const done = new Set<string>();
  const order: T[] = [];
  let progress = true;
  while (progress) {
    progress = false;
    for (const d of defs) {
      if (done.has(d.entry.name) || !needs.get(d)!.every((n) => done.has(n))) continue;
      order.push(d);
      done.add(d.entry.name);
      progress = true;
    }
  }
  return [...order, ...defs.filter((d) => !order.includes(d))];
}

/** Unqualified relation names in FROM anywhere under a node. */
function relationNamesIn(root: unknown): Set<string> {
  const out = new Set<string>();
  eachNode(root, (type, f) => {
    const name = type === 'RangeVar' && str(f.schemaname) === undefined ? str(f.relname) : undefined;
    if (name !== undefined) out.add(name);
    return true;
  });
  return out;
}

function blob(lin: Lin): Out {
  return { name: undefined, certain: false, lin: lin.asAmbiguous(), single: false };
}

function unionOf(outs: readonly Out[]): Lin {
  const lin = new Lin();
  for (const o of outs) lin.add(o.lin);
  return lin;
}

/** UNION/INTERSECT/EXCEPT: column i of the result is column i of either arm. */
function mergeSetOp(left: readonly Out[], right: readonly Out[]): Out[] {
  const out: Out[] = [];
  let i = 0;
  while (i < left.length && i < right.length && left[i]!.single && right[i]!.single) {
    const l = left[i]!;
    out.push({ name: l.name, certain: l.certain, lin: new Lin().add(l.lin).add(right[i]!.lin), single: true });
    i++;
  }
  if (i < left.length || i < right.length) {
    const rest = new Lin().add(unionOf(left.slice(i))).add(unionOf(right.slice(i)));
    // Equal lengths of single columns end above; anything else is a `*` or a shape we cannot place.
    if (left.slice(i).every((o) => o.single) && right.slice(i).every((o) => o.single)) rest.unknown = true;
    out.push(blob(rest));
  }
  return out;
}

function rename(outs: readonly Out[], names: readonly (string | undefined)[]): Out[] {
  if (names.length === 0) return [...outs];
  const known = outs.slice(0, names.length).every((o) => o.single);
  // After a `*` of unknown width, which column each name lands on is not known: no name is kept.
  return outs.map((o, i) => {
    if (!known) return { ...o, name: undefined, certain: false };
    return i >= names.length ? o : { ...o, name: names[i], certain: names[i] !== undefined };
  });
}

function findCte(ctes: Cte | undefined, name: string): Cte | undefined {
  for (let c = ctes; c !== undefined; c = c.parent) if (c.name === name) return c;
  return undefined;
}

/** The items a qualifier (`c`, `customers`, `public.customers`) names, at the nearest level that has any. */
function findQualified(level: Level, qualifier: readonly string[]): Item[] | undefined {
  const last = qualifier[qualifier.length - 1]!;
  const schema = qualifier.length >= 2 ? qualifier[qualifier.length - 2] : undefined;
  for (let l: Level | undefined = level; l !== undefined; l = l.parent) {
    const found = l.items.filter((item) => {
      if (item.alias !== last || l.hidden?.has(item)) return false;
      if (schema === undefined) return true;
      // `public.customers.email`: only an unaliased relation can be named with its schema; one
      // written without a schema may be that one too.
      return item.kind === 'rel' && !item.aliased && (item.relation === `${schema}.${last}` || !item.relation.includes('.') || item.relation.endsWith(`.${schema}.${last}`));
    });
    if (found.length > 0) return found;
  }
  return undefined;
}

function columnRefNames(f: Fields): string[] | undefined {
  const names: string[] = [];
  for (const p of list(f.fields)) {
    const part = unwrap(p);
    if (part === undefined) return undefined;
    if (part[0] === 'A_Star') names.push('*');
    else {
      const s = str(part[1].sval);
      if (s === undefined) return undefined;
      names.push(s);
    }
  }
  return names.length > 0 ? names : undefined;
}

/** `*` → [], `c.*` → ['c'], anything else → undefined. */
function starOf(val: unknown): string[] | undefined {
  const n = unwrap(val);
  if (n === undefined || n[0] !== 'ColumnRef') return undefined;
  const names = columnRefNames(n[1]);
  if (names === undefined || names[names.length - 1] !== '*') return undefined;
  return names.slice(0, -1);
}

/** PostgreSQL's own naming of an unaliased output (FigureColname), as far as lookups need it. */
function figureName(val: unknown): { name: string; certain: boolean } | undefined {
  const f = figured(val);
  return f === undefined ? undefined : { name: f.name, certain: f.certain };
}

/**
 * FigureColnameInternal: the name and its strength (2 from a reference or a call, 1 from a keyword,
 * 0 for `?column?`, which a cast replaces with its type's name). Certain only for references;
 * undefined where it is not worked out here (a scalar subquery, XML, SQL value functions …).
 */
function figured(val: unknown): { name: string; certain: boolean; strength: number } | undefined {
  const n = unwrap(val);
  if (n === undefined) return undefined;
  const [type, f] = n;
  const weak = (name: string, strength: number) => ({ name, certain: false, strength });
  switch (type) {
    case 'ColumnRef': {
      const names = columnRefNames(f);
      const last = names?.[names.length - 1];
      return last === undefined || last === '*' ? undefined : { name: last, certain: true, strength: 2 };
    }
    case 'A_Indirection': {
      const path = list(f.indirection);
      for (let i = path.length - 1; i >= 0; i--) {
        const s = stringValue(path[i]);
        if (s !== undefined) return { name: s, certain: true, strength: 2 };
      }
      return figured(f.arg);
    }
    case 'TypeCast': {
      const inner = figured(f.arg);
      if (inner === undefined || inner.strength > 1) return inner;
      const names = isFields(f.typeName) ? list(f.typeName.names) : [];
      const typeName = stringValue(names[names.length - 1]);
      return typeName === undefined ? undefined : weak(typeName, 1);
    }
    case 'CollateClause':
      return figured(f.arg);
    case 'FuncCall': {
      const parts = list(f.funcname);
      const name = stringValue(parts[parts.length - 1]);
      return name === undefined ? undefined : weak(name, 2);
    }
    case 'A_Expr':
      return str(f.kind) === 'AEXPR_NULLIF' ? weak('nullif', 2) : weak('?column?', 0);
    case 'A_Const':
    case 'BoolExpr':
    case 'NullTest':
    case 'BooleanTest':
    case 'ParamRef':
      return weak('?column?', 0);
    case 'CaseExpr': {
      // Named after its ELSE result when that has a name of strength 2: CASE … ELSE name END is `name`.
      if (f.defresult === undefined || f.defresult === null) return weak('case', 1);
      const inner = figured(f.defresult);
      if (inner === undefined) return undefined;
      return inner.strength > 1 ? weak(inner.name, inner.strength) : weak('case', 1);
    }
    case 'A_ArrayExpr':
      return weak('array', 2);
    case 'RowExpr':
      return weak('row', 2);
    case 'CoalesceExpr':
      return weak('coalesce', 2);
    case 'MinMaxExpr':
      return str(f.op) === 'IS_GREATEST' ? weak('greatest', 2) : str(f.op) === 'IS_LEAST' ? weak('least', 2) : undefined;
    case 'GroupingFunc':
      return weak('grouping', 2);
    case 'SubLink': {
      const kind = str(f.subLinkType);
      if (kind === 'EXISTS_SUBLINK') return weak('exists', 2);
      if (kind === 'ARRAY_SUBLINK') return weak('array', 2);
      return kind === 'EXPR_SUBLINK' ? undefined : weak('?column?', 0);
    }
    default:
      return undefined;
  }
}

function outsSignature(outs: readonly Out[]): string {
  return JSON.stringify(
    outs.map((o) => [o.name, o.single, o.lin.derived, o.lin.ambiguous, o.lin.unknown, o.lin.opaque, [...o.lin.src.keys()].sort()]),
  );
}
