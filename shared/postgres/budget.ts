// Byte budgets (docs/outcomes.md, "Byte budgets"): how much of a result is kept, and what an
// oversized cell becomes. Applied as the bytes arrive by engine/statement-reply.ts.

export const DEFAULT_MAX_RESULT_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_CELL_BYTES = 1024 * 1024;

export interface ByteBudget {
  readonly maxResultBytes: number;
  readonly maxCellBytes: number;
}

/** What an oversized cell becomes: plainly not data, and it says what was left out. */
export function omittedCell(bytes: number, cap: number): string {
  return `[gatehouse: cell omitted, ${bytes} bytes > maxCellBytes ${cap}]`;
}
