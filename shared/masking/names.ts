// The relations and functions a statement names anywhere, for the catalog to look up before the
// lineage runs. Iterative: the tree is as deep as the (untrusted) SQL is nested.
import { type Fields, isFields, list, relationName, str, stringValue, unwrap } from '../sql/nodes.ts';

export interface Names {
  /** Every RangeVar as written (`customers`, `public.customers`), CTE references included. */
  readonly relations: readonly string[];
  /** Names of CTEs defined anywhere: a bare relation of that name may be the CTE, not a table. */
  readonly cteNames: ReadonlySet<string>;
  /** Unqualified function names, as the parser folded them. */
  readonly functions: readonly string[];
}

// Struct-typed fields the JSON writes without a type wrapper that can hold a RangeVar.
const RANGE_VAR_FIELDS = new Set(['relation', 'rel', 'view', 'table']);

export function collectNames(root: Fields): Names {
  const relations = new Set<string>();
  const functions = new Set<string>();
  const cteNames = new Set<string>();
  const stack: { value: unknown; field: string }[] = [{ value: root, field: '' }];
  while (stack.length > 0) {
    const { value, field } = stack.pop()!;
    if (Array.isArray(value)) {
      for (const v of value) if (typeof v === 'object' && v !== null) stack.push({ value: v, field });
      continue;
    }
    const node = unwrap(value);
    let fields: Fields | undefined;
    if (node !== undefined) {
      const [type, f] = node;
      fields = f;
      if (type === 'RangeVar') addRelation(relations, f);
      else if (type === 'FuncCall') {
        const parts = list(f.funcname);
        const name = parts.length === 1 ? stringValue(parts[0]) : undefined;
        if (name !== undefined) functions.add(name);
      } else if (type === 'ColumnRef' || type === 'A_Indirection') {
        // `c.f` and `(x).f` are calls of f when f is no column: the catalog is asked about f too.
        const parts = list(type === 'ColumnRef' ? f.fields : f.indirection);
        for (let i = type === 'ColumnRef' ? 1 : 0; i < parts.length; i++) {
          const name = stringValue(parts[i]);
          if (name !== undefined) functions.add(name);
        }
      } else if (type === 'CommonTableExpr') {
        const name = str(f.ctename);
        if (name !== undefined) cteNames.add(name);
      }
    } else if (isFields(value)) {
      fields = value;
      if (RANGE_VAR_FIELDS.has(field) && str(value.relname) !== undefined) addRelation(relations, value);
    }
    if (fields === undefined) continue;
    for (const key in fields) {
      const child = fields[key];
      if (typeof child === 'object' && child !== null) stack.push({ value: child, field: key });
    }
  }
  return { relations: [...relations], cteNames, functions: [...functions] };
}

function addRelation(into: Set<string>, f: Fields): void {
  const name = relationName(f);
  if (name !== undefined) into.add(name);
}
