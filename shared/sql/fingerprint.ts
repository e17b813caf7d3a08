// A statement fingerprint computed from the parse tree we already hold: equal for statements that
// differ only in constants, parameter numbers, lengths of constant lists, whitespace, comments or
// keyword case.
//
// Not libpg-query's fingerprintSync, on purpose: its C fingerprinter recurses through one huge
// function, and once V8 has tiered that function up (after a few thousand calls, i.e. in any warm
// gateway) each tree level takes tens of KB of native stack. Measured on Node 20: after one pass
// over the regression corpus, `SELECT c0 || c1 || … || c29 FROM t` (30 terms) and ten nested
// subselects overflow the stack, and every overflow leaks WASM stack until the parser breaks for
// the whole process. This one is iterative and costs about the same (~7 µs median, no second parse).

import { createHash } from 'node:crypto';
import { unwrap } from './nodes.ts';

// Character offsets into the SQL text (every one in PostgreSQL 18's parse nodes).
const POSITION_FIELDS = new Set([
  'location', 'stmt_location', 'stmt_len', 'list_start', 'list_end', 'rexpr_list_start', 'rexpr_list_end', 'name_location',
]);

/** Text to emit as is; never confused with the tree, which holds only JSON values. */
class Emit {
  constructor(readonly text: string) {}
}

/** 16 hex digits (64 bits of SHA-256) over a canonical rendering of the tree without constants. */
export function fingerprintTree(pgType: string, node: unknown): string {
  const parts: string[] = [pgType];
  const stack: unknown[] = [node];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v instanceof Emit) {
      parts.push(v.text);
    } else if (v === null || typeof v !== 'object') {
      parts.push(JSON.stringify(v) ?? 'undefined');
    } else if (Array.isArray(v)) {
      if (v.length > 0 && v.every(isConstant)) {
        parts.push('[?]'); // IN (1, 2, 3) and IN (4, 5) are the same statement
        continue;
      }
      parts.push('[');
      stack.push(CLOSE_LIST);
      for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
    } else {
      const wrapped = unwrap(v);
      if (wrapped !== undefined && isConstantType(wrapped[0])) {
        parts.push('?');
        continue;
      }
      const fields = (wrapped?.[1] ?? v) as Readonly<Record<string, unknown>>;
      parts.push(wrapped === undefined ? '{' : `${wrapped[0]}{`);
      stack.push(CLOSE_NODE);
      const keys = Object.keys(fields);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!;
        if (POSITION_FIELDS.has(key)) continue;
        stack.push(fields[key], new Emit(`${key}:`));
      }
    }
  }
  return createHash('sha256').update(parts.join('\u0001')).digest('hex').slice(0, 16);
}

const CLOSE_LIST = new Emit(']');
const CLOSE_NODE = new Emit('}');

function isConstantType(type: string): boolean {
  return type === 'A_Const' || type === 'ParamRef';
}

function isConstant(v: unknown): boolean {
  const node = unwrap(v);
  return node !== undefined && isConstantType(node[0]);
}
