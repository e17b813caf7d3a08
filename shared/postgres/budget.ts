// Byte budgets (docs/outcomes.md, "Byte budgets"): how much of a result is kept, and what an
// oversized cell becomes. Applied as the bytes arrive by engine/statement-reply.ts.
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
