// INSERT, UPDATE, DELETE, MERGE: write or destructive depends on the WHERE clause.

import type { Finding } from './finding.ts';
import { type Fields, fieldsOf, isFields, list, relationName, str, stringValue, unwrap } from './nodes.ts';

export function insertFinding(node: Fields): Finding {
  const target = relationName(node.relation) ?? 'a table';
  const upsert = isFields(node.onConflictClause) && node.onConflictClause.action === 'ONCONFLICT_UPDATE';
  return { class: 'write', reason: `INSERT${upsert ? ' … ON CONFLICT DO UPDATE' : ''} writes ${target}` };
}

export function updateOrDeleteFinding(verb: 'UPDATE' | 'DELETE', node: Fields): Finding {
  const target = relationName(node.relation) ?? 'a table';
  const effect = verb === 'DELETE' ? `removes every row of ${target}` : `changes every row of ${target}`;
  if (node.whereClause === undefined) return { class: 'destructive', reason: `${verb} without WHERE ${effect}` };
  if (alwaysTrue(node.whereClause)) return { class: 'destructive', reason: `${verb} with an always-true WHERE ${effect}` };
  return { class: 'write', reason: `${verb} with WHERE writes ${target}` };
}

export function mergeFinding(node: Fields): Finding {
  return { class: 'write', reason: `MERGE writes ${relationName(node.relation) ?? 'a table'}` };
}

/**
 * A WHERE that keeps every row: `true`, `1 = 1`, `'a' = 'a'`, `x = x`, `NOT false`, and AND/OR of
 * those. A best effort to catch the obvious disguises of "no WHERE", not a proof: anything it does
 * not recognise counts as a real condition (class `write`, still not `read`).
 */
export function alwaysTrue(expr: unknown): boolean {
  const node = unwrap(expr);
  if (node === undefined) return false;
  const [type, f] = node;
  switch (type) {
    case 'A_Const':
      return constantBool(f) === true;
    case 'TypeCast':
      return alwaysTrue(f.arg);
    case 'BoolExpr': {
      const args = list(f.args);
      if (f.boolop === 'OR_EXPR') return args.some(alwaysTrue);
      if (f.boolop === 'AND_EXPR') return args.length > 0 && args.every(alwaysTrue);
      if (f.boolop === 'NOT_EXPR') return args.length === 1 && alwaysFalse(args[0]);
      return false;
    }
    case 'A_Expr':
      return f.kind === 'AEXPR_OP' && isEquals(f.name) && sameOperand(f.lexpr, f.rexpr);
    default:
      return false;
  }
}

function alwaysFalse(expr: unknown): boolean {
  const c = fieldsOf(expr, 'A_Const');
  return c !== undefined && constantBool(c) === false;
}

/** `true`/`false` literals, or the strings PostgreSQL reads as booleans ('t', 'yes', 'on', …). */
function constantBool(c: Fields): boolean | undefined {
  if (isFields(c.boolval)) return c.boolval.boolval === true;
  const s = isFields(c.sval) ? str(c.sval.sval)?.toLowerCase() : undefined;
  if (s === 't' || s === 'true' || s === 'yes' || s === 'on' || s === '1') return true;
  if (s === 'f' || s === 'false' || s === 'no' || s === 'off' || s === '0') return false;
  return undefined;
}

function isEquals(name: unknown): boolean {
  const parts = list(name);
  return parts.length >= 1 && stringValue(parts[parts.length - 1]) === '=';
}

/** Both sides the same constant, or the same column: `1 = 1`, `x = x` (true for every non-null row). */
function sameOperand(l: unknown, r: unknown): boolean {
  const a = unwrap(l);
  const b = unwrap(r);
  if (a === undefined || b === undefined || a[0] !== b[0]) return false;
  if (a[0] === 'A_Const') return constantKey(a[1]) !== undefined && constantKey(a[1]) === constantKey(b[1]);
  if (a[0] === 'ColumnRef') return columnKey(a[1]) !== undefined && columnKey(a[1]) === columnKey(b[1]);
  return false;
}

function constantKey(c: Fields): string | undefined {
  for (const key of ['ival', 'fval', 'sval', 'boolval', 'bsval'] as const) {
    const v = c[key];
    if (isFields(v)) {
      const inner = v[key];
      return `${key}:${inner === undefined ? '' : String(inner)}`;
    }
  }
  return undefined;
}

function columnKey(c: Fields): string | undefined {
  const parts: string[] = [];
  for (const p of list(c.fields)) {
    const s = stringValue(p);
    if (s === undefined) return undefined;
    parts.push(s);
  }
  return parts.join('.');
}
