// A streaming reader of PostgreSQL's backend messages. node-postgres (and pg-protocol's parser)
// assemble each message whole before anyone sees it, so one 64 MB cell is 64 MB in memory even
// when it is then thrown away. This reader hands a DataRow over cell by cell: before a cell's
// bytes arrive the sink is told its length and says whether to keep it, and a cell it does not
// keep is skipped as it streams past — counted, never buffered. Every other message is small and
// kept whole, up to a cap; ErrorResponse and NoticeResponse (which can quote a huge value) are
// cut at the cap instead, and anything else over it is a protocol error.

/** DataRow, CopyData: the two messages whose size the bot's statement decides. */
const DATA_ROW = 0x44; // 'D'
const COPY_DATA = 0x64; // 'd'
const ERROR_RESPONSE = 0x45; // 'E'
const NOTICE_RESPONSE = 0x4e; // 'N'

/** Largest non-row message kept whole (RowDescription of 1,600 columns is ~100 KB). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** ErrorResponse and NoticeResponse are cut here: SQLSTATE and message come first. */
export const MAX_NOTICE_BYTES = 64 * 1024;

export interface MessageSink {
  /** A whole message other than DataRow (and CopyData, which is skipped). */
  message(type: number, body: Buffer): void;
  rowStart(fieldCount: number): void;
  /** A cell of `length` bytes (-1: SQL NULL) is next: keep its bytes, or skip them. */
  keepCell(length: number): boolean;
  /** A kept cell, whole; or, for a skipped one, `null` and its length. */
  cell(value: Buffer | null, length: number): void;
  rowEnd(): void;
}

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

type State =
  | { kind: 'header' }
  | { kind: 'body'; type: number; length: number; parts: Buffer[]; got: number; keep: number }
  | { kind: 'rowCount'; remaining: number }
  | { kind: 'cellLength'; remaining: number; fields: number }
  | { kind: 'cell'; remaining: number; fields: number; length: number; parts: Buffer[] | null; got: number };

/** Incoming bytes → sink calls. `push` is synchronous and never keeps more than one small message. */
export class MessageReader {
  private state: State = { kind: 'header' };
  // Header and length prefixes can straddle chunks; at most 5 bytes wait here.
  private pending: Buffer = Buffer.alloc(0);

  constructor(private sink: MessageSink) {}

  setSink(sink: MessageSink): void {
    this.sink = sink;
  }

  push(chunk: Buffer): void {
    let buf = chunk;
    let at = 0;
    while (at < buf.length) {
      const s = this.state;
      switch (s.kind) {
        case 'header': {
          const need = 5 - this.pending.length;
          if (buf.length - at < need) {
            this.pending = Buffer.concat([this.pending, buf.subarray(at)]);
            return;
          }
          const header = this.pending.length > 0 ? Buffer.concat([this.pending, buf.subarray(at, at + need)]) : buf.subarray(at, at + 5);
          at += need;
          this.pending = Buffer.alloc(0);
          const type = header[0]!;
          const length = header.readInt32BE(1) - 4;
          if (length < 0) throw new ProtocolError(`message ${String.fromCharCode(type)} has a negative length`);
          if (type === DATA_ROW) {
            if (length < 2) throw new ProtocolError('DataRow too short');
            this.state = { kind: 'rowCount', remaining: length };
          } else {
            let keep = length;
            if (type === COPY_DATA) keep = 0;
            else if (length > MAX_MESSAGE_BYTES) {
              if (type === ERROR_RESPONSE || type === NOTICE_RESPONSE) keep = MAX_NOTICE_BYTES;
              else throw new ProtocolError(`message ${String.fromCharCode(type)} of ${length} bytes is over ${MAX_MESSAGE_BYTES}`);
            }
            this.state = { kind: 'body', type, length, parts: [], got: 0, keep };
            if (length === 0) {
              // ParseComplete, BindComplete, PortalSuspended…: delivered now, not with the next chunk.
              this.state = { kind: 'header' };
              if (type !== COPY_DATA) this.sink.message(type, Buffer.alloc(0));
            }
          }
          break;
        }
        case 'body': {
          const take = Math.min(s.length - s.got, buf.length - at);
          if (s.got < s.keep) {
            const kept = Math.min(take, s.keep - s.got);
            s.parts.push(buf.subarray(at, at + kept));
          }
          s.got += take;
          at += take;
          if (s.got === s.length) {
            this.state = { kind: 'header' };
            if (s.type !== COPY_DATA) {
              // A copy: the chunk's memory must not stay pinned by a small slice of it.
              this.sink.message(s.type, Buffer.from(Buffer.concat(s.parts)));
            }
          }
          break;
        }
        case 'rowCount': {
          const need = 2 - this.pending.length;
          if (buf.length - at < need) {
            this.pending = Buffer.concat([this.pending, buf.subarray(at)]);
            return;
          }
          const b = this.pending.length > 0 ? Buffer.concat([this.pending, buf.subarray(at, at + need)]) : buf.subarray(at, at + 2);
          at += need;
          this.pending = Buffer.alloc(0);
          const fields = b.readInt16BE(0);
          this.sink.rowStart(fields);
          this.state = { kind: 'cellLength', remaining: s.remaining - 2, fields };
          if (fields === 0) this.endRow(s.remaining - 2);
          break;
        }
        case 'cellLength': {
          const need = 4 - this.pending.length;
          if (buf.length - at < need) {
            this.pending = Buffer.concat([this.pending, buf.subarray(at)]);
            return;
          }
          const b = this.pending.length > 0 ? Buffer.concat([this.pending, buf.subarray(at, at + need)]) : buf.subarray(at, at + 4);
          at += need;
          this.pending = Buffer.alloc(0);
          const length = b.readInt32BE(0);
          const remaining = s.remaining - 4;
          if (length > remaining) throw new ProtocolError('DataRow cell longer than its message');
          if (length < 0) {
            this.sink.keepCell(-1);
            this.sink.cell(null, -1);
            this.nextCell(remaining, s.fields - 1);
          } else if (length === 0) {
            const keep = this.sink.keepCell(0);
            this.sink.cell(keep ? Buffer.alloc(0) : null, 0);
            this.nextCell(remaining, s.fields - 1);
          } else {
            const keep = this.sink.keepCell(length);
            this.state = { kind: 'cell', remaining: remaining - length, fields: s.fields - 1, length, parts: keep ? [] : null, got: 0 };
          }
          break;
        }
        case 'cell': {
          const take = Math.min(s.length - s.got, buf.length - at);
          if (s.parts !== null && take > 0) s.parts.push(buf.subarray(at, at + take));
          s.got += take;
          at += take;
          if (s.got === s.length) {
            // A copy when kept: a cell must not pin the whole socket chunk it arrived in.
            this.sink.cell(s.parts === null ? null : Buffer.from(s.parts.length === 1 ? s.parts[0]! : Buffer.concat(s.parts)), s.length);
            this.nextCell(s.remaining, s.fields);
          }
          break;
        }
      }
    }
  }

  private nextCell(remaining: number, fieldsLeft: number): void {
    if (fieldsLeft > 0) this.state = { kind: 'cellLength', remaining, fields: fieldsLeft };
    else this.endRow(remaining);
  }

  private endRow(remaining: number): void {
    if (remaining !== 0) throw new ProtocolError('DataRow longer than its cells');
    this.state = { kind: 'header' };
    this.sink.rowEnd();
  }
}
