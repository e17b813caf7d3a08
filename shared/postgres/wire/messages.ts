// Decoding the small backend messages the engine acts on. Errors become pg-protocol's
// DatabaseError (the class node-postgres re-exports as pg.DatabaseError), so one error mapping
// (postgres-errors.ts) serves the engine and the catalog's node-postgres pools alike.
import { DatabaseError } from 'pg-protocol';

export const MSG = {
  authentication: 0x52, // R
  backendKeyData: 0x4b, // K
  parameterStatus: 0x53, // S
  readyForQuery: 0x5a, // Z
  errorResponse: 0x45, // E
  noticeResponse: 0x4e, // N
  notification: 0x41, // A
  rowDescription: 0x54, // T
  noData: 0x6e, // n
  parseComplete: 0x31, // 1
  bindComplete: 0x32, // 2
  closeComplete: 0x33, // 3
  commandComplete: 0x43, // C
  emptyQuery: 0x49, // I
  portalSuspended: 0x73, // s
  copyIn: 0x47, // G
  copyOut: 0x48, // H
  copyBoth: 0x57, // W
  copyDone: 0x63, // c
  negotiateProtocol: 0x76, // v
} as const;

export interface WireField {
  readonly name: string;
  readonly tableID: number;
  readonly columnID: number;
  readonly dataTypeID: number;
  readonly format: number;
}

/** A NUL-terminated string at `at`; a cut message (no NUL) ends the string at its end. */
function cstring(body: Buffer, at: number): { value: string; next: number } {
  let end = body.indexOf(0, at);
  if (end < 0) end = body.length;
  return { value: body.toString('utf8', at, end), next: end + 1 };
}

export function rowDescription(body: Buffer): WireField[] {
  const count = body.readInt16BE(0);
  const fields: WireField[] = [];
  let at = 2;
  for (let i = 0; i < count; i++) {
    const name = cstring(body, at);
    at = name.next;
    fields.push({
      name: name.value,
      tableID: body.readUInt32BE(at),
      columnID: body.readInt16BE(at + 4),
      dataTypeID: body.readUInt32BE(at + 6),
      format: body.readInt16BE(at + 16),
    });
    at += 18;
  }
  return fields;
}

const ERROR_FIELDS: Readonly<Record<string, keyof DatabaseError>> = {
  S: 'severity',
  C: 'code',
  D: 'detail',
  H: 'hint',
  P: 'position',
  p: 'internalPosition',
  q: 'internalQuery',
  W: 'where',
  s: 'schema',
  t: 'table',
  c: 'column',
  d: 'dataType',
  n: 'constraint',
  F: 'file',
  L: 'line',
  R: 'routine',
};

/** ErrorResponse (or NoticeResponse) → DatabaseError. A cut message keeps what arrived. */
export function databaseError(body: Buffer): DatabaseError {
  const fields: Record<string, string> = {};
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const key = String.fromCharCode(body[at]!);
    const v = cstring(body, at + 1);
    fields[key] = v.value;
    at = v.next;
  }
  const error = new DatabaseError(fields.M ?? 'unknown error', body.length, 'error');
  for (const [key, prop] of Object.entries(ERROR_FIELDS)) {
    if (fields[key] !== undefined) (error as unknown as Record<string, string>)[prop] = fields[key]!;
  }
  return error;
}

export interface CommandTag {
  readonly command: string;
  readonly rowCount: number | null;
}

/** `INSERT 0 5` → INSERT, 5; `SELECT 3` → SELECT, 3; `CREATE TABLE` → CREATE, null. */
export function commandComplete(body: Buffer): CommandTag {
  const text = cstring(body, 0).value;
  // node-postgres's reading, kept exactly: the answer's `command` is the tag's first word.
  const m = /^([A-Za-z]+)(?: (\d+))?(?: (\d+))?/.exec(text);
  if (!m) return { command: text, rowCount: null };
  const last = m[3] ?? m[2];
  return { command: m[1]!, rowCount: last === undefined ? null : Number(last) };
}

/** I (idle), T (in a transaction), E (in a failed transaction). */
export function readyForQuery(body: Buffer): 'I' | 'T' | 'E' {
  const s = String.fromCharCode(body[0] ?? 0);
  if (s === 'I' || s === 'T' || s === 'E') return s;
  return 'E';
}

export function parameterStatus(body: Buffer): { name: string; value: string } {
  const name = cstring(body, 0);
  return { name: name.value, value: cstring(body, name.next).value };
}
