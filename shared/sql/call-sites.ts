// Everything in a statement that can make PostgreSQL call a function, as written: calls, attribute
// notation, operators and casts. The analysis collects them while it walks the tree (walk.ts); the
// catalog decides later what each one is (resolve.ts).
//
// Why attribute notation is here: PostgreSQL runs `(x).f` and `alias.f` as `f(x)` when `f` is not a
// column of `x` (docs: "Function call notation … attribute notation"). The parse tree shows a
// ColumnRef or an A_Indirection, not a FuncCall, so a list of calls made from FuncCall nodes alone
// misses `(pid).pg_terminate_backend` entirely.
import { type Fields, isFields, list, relationName, str, stringValue, unwrap } from './nodes.ts';

export interface CallSite {
  /** The function's name as the parser folded it (`lower`, `pg_terminate_backend`). */
  readonly name: string;
  /** The schema when written (`pg_catalog.lower`), else undefined. */
  readonly schema?: string;
  /** Arguments as written; attribute notation is one argument. */
  readonly args: number;
  /** `f(VARIADIC arr)`: matches variadic functions only. */
  readonly variadic: boolean;
  /**
   * `call`: written as a call. `attribute`: `q.name` or `(expr).name`, which is a call only when
   * `name` is not a column (or field) of what `q` denotes. `syntax`: SQL/JSON syntax of PostgreSQL
   * 16/17 (`JSON_ARRAY(…)`, `JSON_VALUE(…)`, `MERGE_ACTION()`) that the gateway's parser reads as an
   * expression node, while an older target parses the same text as an ordinary call of whatever
   * function it has by that name (any number of arguments).
   */
  readonly form: 'call' | 'attribute' | 'syntax';
  /** For `attribute` with a name before it: the parts before `name` (`['c']` for `c.to_jsonb`). */
  readonly qualifier?: readonly string[];
  /**
   * Positions of arguments that are a constant or a parameter written straight into the call: at a
   * polymorphic parameter, PostgreSQL gives such a value the type of its polymorphic partner (-1: a
   * named argument, whose parameter may be any) (`lag(d, 1, 'x')` converts
   * 'x' to d's domain, running the domain's CHECK).
   */
  readonly untyped?: readonly number[];
}

export interface NamedSite {
  readonly name: string;
  readonly schema?: string;
}

export interface CallSites {
  readonly calls: readonly CallSite[];
  /** Operator names (`+`, `~~`, `###`), schema when written as `OPERATOR(s.op)`. */
  readonly operators: readonly NamedSite[];
  /**
   * Types named anywhere (`x::int`, `CAST(x AS t)`, a column definition list's `AS x(d t)`,
   * XMLTABLE's and JSON's column and RETURNING types): converting a value to one runs its input
   * function, cast function or domain CHECK.
   */
  readonly casts: readonly NamedSite[];
  /**
   * Names used as a whole row (`w` alone, or `w.*` / `(…).*` other than as an output-list
   * expansion): passed to json_populate_record and the like, a row is converted to its row type,
   * column by column. `''` when what the row is cannot be named.
   */
  readonly wholeRows: readonly string[];
  /**
   * The statement has a constant or parameter not wrapped in a cast: PostgreSQL gives it the type
   * of what it meets — the other operand where a polymorphic operator fits (`a = '{x}'`), the
   * common type of CASE, COALESCE, GREATEST, NULLIF, VALUES and UNION (`coalesce(a, '{x}')`) —
   * an array of a domain, say, when `a` is one.
   */
  readonly untypedValue: boolean;
  /** The statement builds arrays of its values (`ARRAY[…]`, `ARRAY(SELECT …)`). */
  readonly arrays: boolean;
  /** `TABLESAMPLE m(…)`: the sampling method's handler function `m(internal)`. */
  readonly samplers: readonly NamedSite[];
  /**
   * What each FROM name may denote: an alias or an unaliased relation's name → the relations as
   * written. A name used at several query levels maps to all of them; a subquery, function, join
   * or CTE of that name maps to NOT_A_RELATION, so no column of a same-named table is assumed.
   */
  readonly aliases: ReadonlyMap<string, readonly string[]>;
}

// A_Expr kinds whose `name` is an operator PostgreSQL looks up in pg_operator.
const OPERATOR_KINDS = new Set([
  'AEXPR_OP', 'AEXPR_OP_ANY', 'AEXPR_OP_ALL', 'AEXPR_DISTINCT', 'AEXPR_NOT_DISTINCT', 'AEXPR_NULLIF', 'AEXPR_IN',
  'AEXPR_LIKE', 'AEXPR_ILIKE', 'AEXPR_SIMILAR',
]);

// A_Expr kinds whose `name` is a keyword, not an operator: PostgreSQL rewrites them into
// comparisons it looks up in pg_operator like any written `>=` (`x BETWEEN a AND b` is
// `x >= a AND x <= b`; NOT BETWEEN is `x < a OR x > b`).
const BETWEEN_KINDS = new Set(['AEXPR_BETWEEN', 'AEXPR_NOT_BETWEEN', 'AEXPR_BETWEEN_SYM', 'AEXPR_NOT_BETWEEN_SYM']);
const BETWEEN_OPERATORS = ['>=', '<=', '<', '>'];

/**
 * Expression nodes of the gateway's grammar (PostgreSQL 17, libpg-query) that PostgreSQL 15 and
 * older parse as a plain function call of this name: on such a target `json_array(1, 2)` calls
 * `public.json_array` if someone created one (a compatibility shim), and the tree shows no call.
 */
const SYNTAX_CALLS: ReadonlyMap<string, (f: Fields) => string | undefined> = new Map([
  ['JsonArrayConstructor', () => 'json_array'],
  ['JsonArrayQueryConstructor', () => 'json_array'],
  ['JsonObjectConstructor', () => 'json_object'],
  ['JsonArrayAgg', () => 'json_arrayagg'],
  ['JsonObjectAgg', () => 'json_objectagg'],
  ['JsonScalarExpr', () => 'json_scalar'],
  ['JsonSerializeExpr', () => 'json_serialize'],
  ['JsonParseExpr', () => 'json'],
  ['JsonTable', () => 'json_table'],
  ['MergeSupportFunc', () => 'merge_action'],
  ['JsonFuncExpr', (f: Fields) => ({ JSON_VALUE_OP: 'json_value', JSON_QUERY_OP: 'json_query', JSON_EXISTS_OP: 'json_exists' } as Record<string, string>)[str(f.op) ?? ''] ?? 'json_value'],
]);

/** Node types SYNTAX_CALLS knows. */
export function isSyntaxCall(type: string): boolean {
  return SYNTAX_CALLS.has(type);
}

/** In `aliases`: the name (also) denotes something that is not a catalog relation. */
export const NOT_A_RELATION = '';

export class CallSiteCollector {
  private readonly calls: CallSite[] = [];
  private readonly operators: NamedSite[] = [];
  private readonly casts: NamedSite[] = [];
  private readonly wholeRows: string[] = [];
  private readonly samplers: NamedSite[] = [];
  private untypedValue = false;
  private arrays = false;
  private readonly aliases = new Map<string, string[]>();

  funcCall(f: Fields): void {
    const parts = names(f.funcname);
    if (parts === undefined || parts.length === 0) return;
    const withinGroup = f.agg_within_group === true ? list(f.agg_order).length : 0;
    this.calls.push({
      name: parts[parts.length - 1]!,
      ...(parts.length > 1 ? { schema: parts[parts.length - 2] } : {}),
      args: list(f.args).length + withinGroup,
      variadic: f.func_variadic === true,
      form: 'call',
      ...untypedPositions(list(f.args)),
    });
  }

  /**
   * `a.b.c`: every part after the first may be a function applied to what precedes it. `expands`:
   * the reference is an output-list item, where `q.*` is expanded into columns, not a row.
   */
  columnRef(f: Fields, expands = false): void {
    const parts: string[] = [];
    for (const p of list(f.fields)) {
      const node = unwrap(p);
      if (node?.[0] === 'A_Star') {
        if (!expands) this.wholeRows.push(parts.join('.'));
        return; // `a.*`: no call
      }
      if (node === undefined || node[0] !== 'String') return;
      const s = str(node[1].sval);
      if (s === undefined) return;
      parts.push(s);
    }
    if (parts.length === 1) this.wholeRows.push(parts[0]!); // a FROM item's name alone is its row
    for (let i = 1; i < parts.length; i++) this.attribute(parts[i]!, parts.slice(0, i));
  }

  /** `(expr).f.g[1]`: each field name is a possible call; only the first has a nameable qualifier. */
  indirection(f: Fields, expands = false): void {
    if (!expands && list(f.indirection).some((step) => unwrap(step)?.[0] === 'A_Star')) this.wholeRows.push('');
    const arg = unwrap(f.arg);
    let qualifier: string[] | undefined;
    if (arg?.[0] === 'ColumnRef') {
      const parts = list(arg[1].fields).map(stringValue);
      if (parts.length > 0 && parts.every((p): p is string => p !== undefined)) qualifier = parts;
    }
    for (const step of list(f.indirection)) {
      const name = stringValue(step);
      if (name !== undefined) this.attribute(name, qualifier);
      qualifier = undefined;
    }
  }

  operator(f: Fields): void {
    const kind = str(f.kind) ?? '';
    if (BETWEEN_KINDS.has(kind)) {
      for (const name of BETWEEN_OPERATORS) this.operators.push({ name });
      return;
    }
    if (!OPERATOR_KINDS.has(kind)) return;
    this.operatorNamed(f.name);
  }

  /**
   * Comparisons PostgreSQL makes where no operator is written: `CASE x WHEN y` (x = y), `x IN
   * (SELECT …)` (=), `x < ALL (SELECT …)`, `ORDER BY x USING <`, `JOIN … USING (c)` and NATURAL
   * JOIN (=). Each is looked up in pg_operator by name and argument types, a user's included.
   */
  implicitOperator(type: string, f: Fields): void {
    switch (type) {
      case 'CaseExpr':
        if (f.arg !== undefined && f.arg !== null) this.operators.push({ name: '=' });
        return;
      case 'SubLink': {
        const kind = str(f.subLinkType);
        if (kind !== 'ANY_SUBLINK' && kind !== 'ALL_SUBLINK' && kind !== 'ROWCOMPARE_SUBLINK') return;
        if (list(f.operName).length === 0) this.operators.push({ name: '=' });
        else this.operatorNamed(f.operName);
        return;
      }
      case 'SortBy':
        if (list(f.useOp).length > 0) this.operatorNamed(f.useOp);
        return;
      case 'JoinExpr':
        if (f.isNatural === true || list(f.usingClause).length > 0) this.operators.push({ name: '=' });
        return;
    }
  }

  /** A constant or parameter (A_Const, ParamRef) that is not the argument of a cast. */
  untyped(): void {
    this.untypedValue = true;
  }

  /** `ARRAY[…]`, or a SubLink (`ARRAY(SELECT …)` builds an array; others compare, see implicitOperator). */
  arrayBuilt(): void {
    this.arrays = true;
  }

  /** An SQL/JSON expression node that an older target reads as a call (SYNTAX_CALLS). */
  syntaxCall(type: string, f: Fields): void {
    const name = SYNTAX_CALLS.get(type)?.(f);
    if (name !== undefined) this.calls.push({ name, args: 0, variadic: false, form: 'syntax' });
  }

  private operatorNamed(v: unknown): void {
    const parts = names(v);
    if (parts === undefined || parts.length === 0) return;
    this.operators.push({ name: parts[parts.length - 1]!, ...(parts.length > 1 ? { schema: parts[parts.length - 2] } : {}) });
  }

  /** A TypeName node, wherever it is (casts, column definition lists, RETURNING types). */
  typeName(typeName: Fields): void {
    const parts = names(typeName.names);
    if (parts === undefined || parts.length === 0) return;
    this.casts.push({ name: parts[parts.length - 1]!, ...(parts.length > 1 ? { schema: parts[parts.length - 2] } : {}) });
  }

  /** `FROM t TABLESAMPLE m(…)`: the method is a function in pg_proc (a tsm_handler). */
  tableSample(f: Fields): void {
    const parts = names(f.method);
    if (parts === undefined || parts.length === 0) return;
    this.samplers.push({ name: parts[parts.length - 1]!, ...(parts.length > 1 ? { schema: parts[parts.length - 2] } : {}) });
  }

  rangeVar(f: Fields): void {
    const relation = relationName(f);
    const bare = str(f.relname);
    if (relation === undefined || bare === undefined) return;
    const alias = isFields(f.alias) ? str(f.alias.aliasname) : undefined;
    for (const key of alias !== undefined ? [alias] : [bare, relation]) {
      const known = this.aliases.get(key);
      if (known === undefined) this.aliases.set(key, [relation]);
      else if (!known.includes(relation)) known.push(relation);
    }
  }

  /** `(subquery) q`, `f() q`, `(a JOIN b) q`, `WITH q AS (…)`: q names no catalog relation. */
  otherAlias(f: Fields, nameField: 'alias' | 'ctename'): void {
    const name = nameField === 'ctename' ? str(f.ctename) : isFields(f.alias) ? str(f.alias.aliasname) : undefined;
    if (name === undefined) return;
    const known = this.aliases.get(name);
    if (known === undefined) this.aliases.set(name, [NOT_A_RELATION]);
    else if (!known.includes(NOT_A_RELATION)) known.push(NOT_A_RELATION);
  }

  done(): CallSites {
    return {
      calls: this.calls, operators: this.operators, casts: this.casts, wholeRows: this.wholeRows, samplers: this.samplers,
      untypedValue: this.untypedValue, arrays: this.arrays, aliases: this.aliases,
    };
  }

  private attribute(name: string, qualifier: readonly string[] | undefined): void {
    this.calls.push({ name, args: 1, variadic: false, form: 'attribute', ...(qualifier ? { qualifier } : {}) });
  }
}

function untypedPositions(args: readonly unknown[]): { untyped?: number[] } {
  // A named argument's position is its parameter's, not where it is written: -1, any position.
  const at = args.flatMap((a, i) => (!isUntyped(a) ? [] : unwrap(a)?.[0] === 'NamedArgExpr' ? [-1] : [i]));
  return at.length > 0 ? { untyped: at } : {};
}

/** A literal (NULL and numbers too: over-matching costs nothing) or a parameter, not wrapped in a cast. */
function isUntyped(arg: unknown): boolean {
  let node = unwrap(arg);
  // `name => value`: the value is what is converted
  if (node?.[0] === 'NamedArgExpr') node = unwrap(node[1].arg);
  return node?.[0] === 'A_Const' || node?.[0] === 'ParamRef';
}

function names(v: unknown): string[] | undefined {
  const out: string[] = [];
  for (const n of list(v)) {
    const s = stringValue(n);
    if (s === undefined) return undefined;
    out.push(s);
  }
  return out;
}
