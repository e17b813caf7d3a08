// Reading the statement pipeline's answer in one pass, with the byte budget applied cell by cell
// as the bytes arrive (docs/outcomes.md, "Byte budgets"):
// - a cell longer than maxCellBytes is skipped as it streams past and replaced by a marker;
// - once the kept rows would pass maxResultBytes, that row and every later one is skipped;
// - the (maxRows + 1)th row, which only proves there are more, is skipped too.
// A cell costs its bytes plus CELL_OVERHEAD_BYTES and a row ROW_OVERHEAD_BYTES (budget.ts): a NULL
// is 0 bytes on the wire but not in memory or in the answer. A cell of a column the masker will
// mask costs MASKED_CELL_BYTES whatever its length, NULL included, and a longer one is not kept:
// how many rows fit must not depend on a value that comes back masked.
// Skipped bytes are never buffered: the most this holds is the kept result (≤ maxResultBytes)
// plus one cell under maxCellBytes. The rows past the budget still cross the wire (the server
// sends what Execute asked for, at most maxRows + 1 rows, under statement_timeout); they cost
// time, not memory.
import type { DatabaseError } from 'pg-protocol';
import { GatehouseError } from '../../errors.ts';
import type { Exchange, TransactionState } from '../wire/connection.ts';
import { commandComplete, databaseError, MSG, rowDescription, type CommandTag, type WireField } from '../wire/messages.ts';
import { MASKED_CELL_NOT_KEPT } from '../../target-port.ts';
import { answerExtraBytes, CELL_OVERHEAD_BYTES, MASKED_CELL_BYTES, omittedCell, ROW_OVERHEAD_BYTES, type ByteBudget } from '../budget.ts';
import { resultParser } from '../values.ts';
import { TXID_STEP } from './pipeline.ts';

export interface StatementReply {
  readonly state: TransactionState;
  /** The first error the server reported; the statements after it did not run. */
  readonly error?: DatabaseError | Error;
  readonly fields: readonly WireField[];
  readonly rows: unknown[][];
  /** CommandComplete of the bot's statement; null when suspended (truncated) or empty. */
  readonly tag: CommandTag | null;
  readonly suspended: boolean;
  /** More rows came than maxRows (a write reads to its end; the rest were skipped). */
  readonly overRows: boolean;
  readonly overBudget: boolean;
  readonly cellsOmitted: number;
  readonly txid: string | null;
  /** Whether the bot's statement answered (CommandComplete, PortalSuspended or EmptyQuery). */
  readonly statementAnswered: boolean;
  /** The command tags of our statements after the bot's (a read's probe and COMMIT), in order. */
  readonly trailer: readonly string[];
  /** Which statement of the pipeline the first error belongs to (prelude = the bot's); -1 if none. */
  readonly errorStep: number;
}

type Cell = Buffer | string | null;

export class StatementExchange implements Exchange {
  readonly reply: Promise<StatementReply>;
  private resolve!: (r: StatementReply) => void;
  private reject!: (e: Error) => void;

  /** Which statement of the pipeline the messages belong to. */
  private step = 0;
  private error: DatabaseError | Error | undefined;
  private fields: WireField[] = [];
  private parsers: ((text: string) => unknown)[] = [];
  private readonly rows: unknown[][] = [];
  private tag: CommandTag | null = null;
  private suspended = false;
  private txid: string | null = null;
  private readonly trailer: string[] = [];
  private errorStep = -1;
  private received = 0;
  private bytes = 0;
  private overBudget = false;
  private cellsOmitted = 0;
  // The row being read.
  private row: Cell[] = [];
  /** The kept cells' bytes as counted (a marker's own length): what answerExtraBytes compares with. */
  private lengths: number[] = [];
  private rowBytes = 0;
  private dropRow = false;
  private omittedLength = -1;
  /** The cell being read: its column, and whether it is a masked one not kept. */
  private column = 0;
  private omittedMasked = false;
  /** Per column of the statement's result: masked (ByteBudget.maskedColumns). */
  private masked: readonly boolean[] = [];

  /** What a masked column's cell costs and the longest one kept (MASKED_CELL_BYTES, at most maxCellBytes). */
  private readonly maskedCap: number;

  constructor(
    private readonly prelude: number,
    private readonly maxRows: number,
    private readonly budget: ByteBudget,
  ) {
    this.maskedCap = Math.min(MASKED_CELL_BYTES, budget.maxCellBytes);
    this.reply = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.reply.catch(() => {});
  }

  /** Fails closed: a masker that cannot say counts every column as masked. */
  private maskedColumns(fields: readonly WireField[]): readonly boolean[] {
    if (this.budget.maskedColumns === undefined) return [];
    try {
      const masked = this.budget.maskedColumns(fields);
      return fields.map((_, i) => masked[i] !== false);
    } catch {
      return fields.map(() => true);
    }
  }

  private get atStatement(): boolean {
    return this.step === this.prelude;
  }

  message(type: number, body: Buffer): void {
    switch (type) {
      case MSG.errorResponse:
        if (!this.error) this.errorStep = this.step;
        this.error ??= databaseError(body);
        return;
      case MSG.rowDescription:
        if (this.atStatement) {
          this.fields = rowDescription(body);
          this.parsers = this.fields.map((f) => resultParser(f.dataTypeID));
          this.masked = this.maskedColumns(this.fields);
        }
        return;
      case MSG.commandComplete:
        if (this.atStatement) this.tag = commandComplete(body);
        else if (this.step > this.prelude) this.trailer.push(commandComplete(body).command);
        this.step++;
        return;
      case MSG.portalSuspended:
        if (this.atStatement) this.suspended = true;
        this.step++;
        return;
      case MSG.emptyQuery:
        this.step++;
        return;
      case MSG.copyIn:
      case MSG.copyOut:
      case MSG.copyBoth:
        // Refused upstream; should one get here, it is the statement's failure, not the database's.
        if (!this.error) this.errorStep = this.step;
        this.error ??= new GatehouseError('execution_failed', 'COPY is not supported through Gatehouse');
        return;
      default:
        // ParseComplete, BindComplete, NoData, CopyDone: nothing to keep.
        return;
    }
  }

  rowStart(): void {
    this.row = [];
    this.lengths = [];
    this.rowBytes = 0;
    if (!this.atStatement) {
      this.dropRow = false; // set_config's and txid_current()'s one row each: small, ours
      return;
    }
    this.received++;
    // The (maxRows + 1)th row only proves there are more; rows past the budget are not kept.
    this.dropRow = this.overBudget || this.received > this.maxRows;
    this.rowBytes = ROW_OVERHEAD_BYTES;
    this.column = 0;
  }

  keepCell(length: number): boolean {
    this.omittedLength = -1;
    this.omittedMasked = false;
    const column = this.column++;
    if (this.dropRow) return false;
    if (!this.atStatement) return true;
    if (this.masked[column] === true) {
      // The same cost whatever the value, NULL included (under `null` a NULL and a value come back
      // alike); a longer one streams past, and its masked form is all that leaves.
      if (this.overTheBudget(this.maskedCap + CELL_OVERHEAD_BYTES)) return false;
      this.rowBytes += this.maskedCap + CELL_OVERHEAD_BYTES;
      this.omittedMasked = length > this.maskedCap;
      return !this.omittedMasked;
    }
    let size = Math.max(length, 0) + CELL_OVERHEAD_BYTES;
    let keep = true;
    if (length > this.budget.maxCellBytes) {
      this.omittedLength = length;
      size = omittedCell(length, this.budget.maxCellBytes).length + CELL_OVERHEAD_BYTES;
      keep = false;
    }
    if (this.overTheBudget(size)) return false;
    this.rowBytes += size;
    if (!keep) this.cellsOmitted++;
    return keep;
  }

  /** The answer is cut before this row when `more` of it would pass the budget: the rest streams past. */
  private overTheBudget(more: number): boolean {
    if (this.bytes + this.rowBytes + more <= this.budget.maxResultBytes) return false;
    this.overBudget = true;
    this.dropRow = true;
    return true;
  }

  cell(value: Buffer | null, length: number): void {
    if (this.dropRow) return;
    if (this.omittedMasked) {
      this.row.push(MASKED_CELL_NOT_KEPT);
      this.lengths.push(0);
      return;
    }
    if (this.omittedLength >= 0) {
      const marker = omittedCell(this.omittedLength, this.budget.maxCellBytes);
      this.row.push(marker);
      this.lengths.push(marker.length);
      return;
    }
    this.row.push(length < 0 ? null : value);
    this.lengths.push(Math.max(length, 0));
  }

  rowEnd(): void {
    if (!this.atStatement) {
      if (this.prelude > TXID_STEP && this.step === TXID_STEP) {
        const v = this.row[0];
        this.txid = Buffer.isBuffer(v) ? v.toString('utf8') : null;
      }
      return;
    }
    // A row of no columns never reached keepCell: its own overhead decides.
    if (this.dropRow || (this.row.length === 0 && this.overTheBudget(0))) return;
    // Parsed with the column's type parser; a marker (a string here) bypasses it: an int4 parser
    // would make NaN of it.
    const parsed = this.row.map((c, i) => (Buffer.isBuffer(c) ? this.parsers[i]!(c.toString('utf8')) : c));
    // What the answer's JSON spells larger than the wire did counts too (budget.ts,
    // answerExtraBytes) — for the columns shown as they are, never for a masked one.
    let extra = 0;
    for (let i = 0; i < parsed.length; i++) {
      if (this.masked[i] !== true && parsed[i] !== null) extra += answerExtraBytes(parsed[i], this.lengths[i]!);
    }
    if (extra > 0 && this.overTheBudget(extra)) return;
    this.bytes += this.rowBytes + extra;
    this.rows.push(parsed);
  }

  end(state: TransactionState): void {
    this.resolve({
      state,
      ...(this.error ? { error: this.error } : {}),
      fields: this.fields,
      rows: this.rows,
      tag: this.tag,
      suspended: this.suspended,
      overRows: this.received > this.maxRows,
      overBudget: this.overBudget,
      cellsOmitted: this.cellsOmitted,
      txid: this.txid,
      statementAnswered: this.step > this.prelude,
      trailer: this.trailer,
      errorStep: this.errorStep,
    });
  }

  fail(error: Error): void {
    this.reject(error);
  }
}
