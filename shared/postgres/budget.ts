// Byte budgets (docs/outcomes.md, "Byte budgets"): how much of a result is kept, and what an
// oversized cell becomes. Applied as the bytes arrive by engine/statement-reply.ts.
import { toJsonSafe } from './values.ts';
import type { WireField } from './wire/messages.ts';

export const DEFAULT_MAX_RESULT_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_CELL_BYTES = 1024 * 1024;

/**
 * What a cell and a row cost beyond their bytes on the wire. A NULL or an empty string is 0 bytes
 * there, but a slot in a row array in memory and `null,` in the answer's JSON (and a row `[],`):
 * counted at 0, a statement of 1,600 NULL columns over maxRows rows passed any budget. About what
 * JSON adds around each, so `maxResultBytes` bounds the answer, not only its cell text.
 */
export const CELL_OVERHEAD_BYTES = 4;
export const ROW_OVERHEAD_BYTES = 2;

/**
 * What a cell of a masked column costs, whatever its length (at most maxCellBytes). Counted raw,
 * masked cells decided how many rows fit — an oracle on the length of values that come back
 * masked. 256 holds every email address (254), SSN, phone and card number whole, so their
 * strategies (`email`, `last4`, `hash`) see the value; a longer one is not kept (MASKED_CELL_NOT_KEPT,
 * shared/target-port.ts).
 */
export const MASKED_CELL_BYTES = 256;

export interface ByteBudget {
  readonly maxResultBytes: number;
  readonly maxCellBytes: number;
  /** Per column of the statement's result: masked (see MASKED_CELL_BYTES). */
  readonly maskedColumns?: (fields: readonly WireField[]) => readonly boolean[];
}

/** What an oversized cell becomes: plainly not data, and it says what was left out. */
export function omittedCell(bytes: number, cap: number): string {
  return `[gatehouse: cell omitted, ${bytes} bytes > maxCellBytes ${cap}]`;
}

/**
 * How many bytes more than it was counted at (its wire bytes + CELL_OVERHEAD_BYTES, room for two
 * quotes and a comma) a kept cell takes in the answer's JSON — and in the execution.result event,
 * and in each copy on their way out. Counted at its wire bytes alone, a byte JSON spells in six
 * (`\u0001`), an array of `t` spelled `true`, a `point` spelled `{"x":1,"y":2}` made an answer of
 * maxResultBytes on the wire up to six times as large. Never asked of a masked column: what it
 * holds must not decide how many rows fit (its masked form has a bounded size of its own).
 */
export function answerExtraBytes(value: unknown, wireLength: number): number {
  const bytes = typeof value === 'object' && value !== null && !(value instanceof Date) ? Math.max(jsonBytes(value), heldBytes(value)) : jsonBytes(value);
  return Math.max(0, bytes + 1 - (wireLength + CELL_OVERHEAD_BYTES));
}

// What V8 holds for a parsed value, about (measured on JSON.parse's output, Node 20): an empty
// object 64 bytes, an empty array 40, a slot in an array or a property 8, a string's header 16.
const OBJECT_BYTES = 64;
const ARRAY_BYTES = 40;
const SLOT_BYTES = 8;
const STRING_HEADER_BYTES = 16;

/**
 * A structured value (an array, JSON, a geometric type) as the process holds it once parsed: `{}`
 * is 3 bytes of jsonb text and 64 of heap, an int array's `1,` 2 bytes and an 8-byte slot.
 * Counted as text, a result of maxResultBytes of them held 10–20 times that. Iterative: JSON may
 * nest deeper than the stack.
 */
function heldBytes(value: unknown): number {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    total += SLOT_BYTES;
    if (typeof v === 'string') total += STRING_HEADER_BYTES + Buffer.byteLength(v, 'utf8');
    else if (Array.isArray(v)) {
      total += ARRAY_BYTES;
      for (const e of v) stack.push(e);
    } else if (typeof v === 'object' && v !== null) {
      total += OBJECT_BYTES;
      for (const [k, e] of Object.entries(v)) {
        total += STRING_HEADER_BYTES + Buffer.byteLength(k, 'utf8');
        stack.push(e);
      }
    }
  }
  return total;
}

function jsonBytes(value: unknown): number {
  if (value === null || value === undefined) return 4;
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8') + 2 + escapedExtra(value);
  if (typeof value === 'boolean') return value ? 4 : 5;
  // A number's JSON is never longer than PostgreSQL's text for it (`NaN` gains two quotes, which
  // the cell's overhead holds).
  if (typeof value === 'number') return 0;
  // Arrays, JSON, geometric types, intervals, dates: as the answer will spell them.
  return Buffer.byteLength(JSON.stringify(toJsonSafe(value)) ?? 'null', 'utf8');
}

const NEEDS_ESCAPE = /[\u0000-\u001f"\\]/;

/** What JSON.stringify adds to a string's bytes: `\n` for a newline, `\u0001` for a control character. */
function escapedExtra(text: string): number {
  if (!NEEDS_ESCAPE.test(text)) return 0;
  let extra = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 || c === 0x5c || c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d) extra += 1;
    else if (c < 0x20) extra += 5;
  }
  return extra;
}
