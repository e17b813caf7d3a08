// The bot's statement goes through pg-cursor and nothing else. pg-cursor always speaks the
// extended protocol (Parse/Bind/Describe/Execute), even without parameters, and a Parse message
// holds exactly one statement: `SELECT 1; DELETE FROM t` is refused by PostgreSQL itself, whatever
// the parser upstream believed. (client.query without params would use the simple protocol, which
// runs every statement in the string.) The Execute message carries a row limit, so a huge result
// is never fetched: at most maxRows + 1 rows cross the wire, the extra one only proving there are more.
//
// Bytes are bounded too (docs/outcomes.md, "Byte budgets"). Rows are fetched in growing batches,
// and each DataRow is measured as it is parsed: a cell over maxCellBytes is
// replaced by a marker before the row is kept, and once the kept rows reach maxResultBytes the
// rest of the batch is dropped as it arrives and the portal is closed. What this does NOT achieve:
// node-postgres's protocol parser assembles one whole DataRow message before anyone sees it, so a
// single huge cell is in memory once, transiently (one message at a time, never a result of them).
import type { FieldDef, PoolClient } from 'pg';
import Cursor from 'pg-cursor';
import type { Param } from './request.ts';
import { resultTypes } from './values.ts';

export const DEFAULT_MAX_RESULT_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_CELL_BYTES = 1024 * 1024;
// Batches grow 16, 64, 256, then stay at 1024. Memory does not depend on them (rows past the
// budget are dropped as they arrive); they bound how much the server sends after the budget is
// reached, at the price of a round trip per batch.
const FIRST_BATCH = 16;
const MAX_BATCH = 1024;

export interface RowsRead {
  readonly fields: readonly FieldDef[];
  readonly rows: readonly unknown[][];
  readonly truncated: boolean;
  readonly truncatedBy?: 'rows' | 'bytes';
  readonly cellsOmitted: number;
  /** From CommandComplete; null when the portal was suspended (truncated) or the query was empty. */
  readonly command: string | null;
  readonly rowCount: number | null;
}

export interface ByteBudget {
  readonly maxResultBytes: number;
  readonly maxCellBytes: number;
}

/** What an oversized cell becomes: plainly not data, and it says what was left out. */
export function omittedCell(bytes: number, cap: number): string {
  return `[gatehouse: cell omitted, ${bytes} bytes > maxCellBytes ${cap}]`;
}

type RawField = string | Buffer | null;

/** pg-cursor, measuring each DataRow before it is parsed and kept. */
class BudgetCursor extends Cursor<unknown[]> {
  bytes = 0;
  received = 0;
  cellsOmitted = 0;
  overBudget = false;
  constructor(
    sql: string,
    params: unknown[],
    private readonly budget: ByteBudget,
  ) {
    super(sql, params, { rowMode: 'array', types: resultTypes });
  }

  handleDataRow(msg: { fields: RawField[] }): void {
    this.received++;
    if (this.overBudget) return; // dropped as it arrives: the answer is already cut here
    let size = 0;
    const fields = msg.fields.map((f) => {
      if (f === null) return f;
      const n = typeof f === 'string' ? Buffer.byteLength(f, 'utf8') : f.length;
      if (n > this.budget.maxCellBytes) {
        this.cellsOmitted++;
        const marker = omittedCell(n, this.budget.maxCellBytes);
        size += marker.length;
        return marker;
      }
      size += n;
      return f;
    });
    if (this.bytes + size > this.budget.maxResultBytes) {
      this.overBudget = true;
      return;
    }
    this.bytes += size;
    // Parsed with the column's type parser: a marker in a non-text column must not be parsed as
    // that type (an int4 parser would make NaN of it), so those cells bypass the parser.
    const row = (this as unknown as { _result: { parseRow(f: RawField[]): unknown[] } })._result.parseRow(
      fields.map((f, i) => (f !== msg.fields[i] ? null : f)),
    );
    fields.forEach((f, i) => {
      if (f !== msg.fields[i]) row[i] = f;
    });
    (this as unknown as { _rows: unknown[][] })._rows.push(row);
  }
}

export async function readRows(
  client: PoolClient,
  sql: string,
  params: readonly Param[],
  maxRows: number,
  budget: ByteBudget = { maxResultBytes: DEFAULT_MAX_RESULT_BYTES, maxCellBytes: DEFAULT_MAX_CELL_BYTES },
): Promise<RowsRead> {
  const cursor = client.query(new BudgetCursor(sql, [...params], budget));
  const rows: unknown[][] = [];
  let batch = FIRST_BATCH;
  for (;;) {
    const want = Math.min(batch, maxRows + 1 - rows.length);
    const before = cursor.received;
    const { got, result } = await new Promise<{ got: unknown[][]; result: { fields: FieldDef[]; command: string | null; rowCount: number | null } }>(
      (resolve, reject) => {
        // The callback form, unlike the promise form, hands over the result with CommandComplete's tag.
        cursor.read(want, (err, got, result) => (err ? reject(err) : resolve({ got, result })));
      },
    );
    for (const r of got) rows.push(r);
    const done = cursor.received - before < want; // fewer than asked: CommandComplete came
    const base = { fields: result.fields, cellsOmitted: cursor.cellsOmitted };
    if (cursor.overBudget) {
      if (!done) await cursor.close();
      return { ...base, rows: rows.slice(0, maxRows), truncated: true, truncatedBy: 'bytes', command: null, rowCount: null };
    }
    if (rows.length > maxRows) {
      // The portal is suspended, not finished: close it so the transaction can end.
      await cursor.close();
      return { ...base, rows: rows.slice(0, maxRows), truncated: true, truncatedBy: 'rows', command: null, rowCount: null };
    }
    if (done) return { ...base, rows, truncated: false, command: result.command, rowCount: rowCountOf(result, rows.length) };
    batch = Math.min(batch * 4, MAX_BATCH);
  }
}

/**
 * CommandComplete of a row-returning portal read in batches counts only the last batch's rows
 * (`SELECT 3`), so those are counted here. DML with RETURNING runs to completion on the first
 * Execute and its tag carries the total, which is what the bot needs (rows affected).
 */
function rowCountOf(result: { fields: FieldDef[]; command: string | null; rowCount: number | null }, rows: number): number | null {
  if (/^(INSERT|UPDATE|DELETE|MERGE)$/.test(result.command ?? '')) return result.rowCount;
  return result.fields.length > 0 ? rows : result.rowCount;
}
