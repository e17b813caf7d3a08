// Guards for libpg-query's JSON parse tree. The tree is the parser's output for untrusted SQL, so it
// is read as `unknown` and narrowed here rather than cast to @pgsql/types.
//
// Shape: a node is `{ "TypeName": { ...fields } }`; fields hold primitives, lists of nodes, or (for
// a few struct-typed fields such as `relation`) the struct itself without the type wrapper. The JSON
// omits false, zero and empty fields: `{"boolval": {}}` is false, `{"ival": {}}` is 0.

export type Fields = Readonly<Record<string, unknown>>;

export function isFields(v: unknown): v is Fields {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `[type, fields]` for a wrapped node, undefined for anything else. */
export function unwrap(v: unknown): [string, Fields] | undefined {
  if (!isFields(v)) return undefined;
  let only: string | undefined;
  for (const key in v) {
    if (only !== undefined) return undefined;
    only = key;
  }
  if (only === undefined) return undefined;
  const code = only.charCodeAt(0);
  if (code < 65 || code > 90) return undefined; // node types start upper-case, field names never do
  const inner = v[only];
  return isFields(inner) ? [only, inner] : undefined;
}

export function fieldsOf(v: unknown, type: string): Fields | undefined {
  if (!isFields(v)) return undefined;
  const inner = v[type];
  return isFields(inner) ? inner : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function list(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}

/** The text of a `String` node (identifiers in name lists). */
export function stringValue(v: unknown): string | undefined {
  return str(fieldsOf(v, 'String')?.sval);
}

/** A dotted name from a list of `String` nodes, e.g. funcname or a DROP object. */
export function dottedName(names: unknown): string | undefined {
  const parts: string[] = [];
  for (const n of list(names)) {
    const s = stringValue(n);
    if (s === undefined) return undefined;
    parts.push(s);
  }
  return parts.length > 0 ? parts.join('.') : undefined;
}

/** A RangeVar (wrapped or not) as written: `catalog.schema.name`, `schema.name` or `name`. */
export function relationName(v: unknown): string | undefined {
  const rv = fieldsOf(v, 'RangeVar') ?? (isFields(v) ? v : undefined);
  const rel = str(rv?.relname);
  if (rv === undefined || rel === undefined) return undefined;
  const schema = str(rv.schemaname);
  const catalog = str(rv.catalogname);
  if (schema === undefined) return rel;
  return catalog === undefined ? `${schema}.${rel}` : `${catalog}.${schema}.${rel}`;
}

export function relationNames(v: unknown): string[] {
  const out: string[] = [];
  for (const item of list(v)) {
    const name = relationName(item);
    if (name !== undefined) out.push(name);
  }
  return out;
}
