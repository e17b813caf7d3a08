// CSV for population.csv (RFC 4180: comma, CRLF, quotes doubled) and a streaming reader for it.
// Auditors open this file in spreadsheets, and its cells hold attacker-controlled text (SQL, model
// names): a cell starting with = + - @ (or tab / CR) would be run as a formula (CSV injection,
// OWASP). Such cells get a leading single quote, which spreadsheets show as text.

const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(v: unknown): string {
  let s = v === undefined || v === null ? '' : typeof v === 'string' ? v : String(v);
  if (FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function csvLine(cells: readonly unknown[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/**
 * Records of a CSV text stream, one at a time; quoted fields may span lines. Takes decoded text
 * (a stream opened with `encoding: 'utf8'`), so a character split across chunks stays whole.
 */
export async function* readCsv(chunks: AsyncIterable<string>): AsyncGenerator<string[]> {
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let afterQuote = false;
  let pendingCr = false;
  for await (const s of chunks) {
    for (let i = 0; i < s.length; i++) {
      const c = s[i]!;
      if (quoted) {
        if (c === '"') {
          quoted = false;
          afterQuote = true;
        } else cell += c;
        continue;
      }
      if (pendingCr) {
        pendingCr = false;
        if (c === '\n') continue;
      }
      if (c === '"') {
        // A doubled quote inside a quoted field re-opens it and keeps one quote.
        if (afterQuote) cell += '"';
        quoted = true;
        afterQuote = false;
        continue;
      }
      afterQuote = false;
      if (c === ',') {
        row.push(cell);
        cell = '';
      } else if (c === '\r' || c === '\n') {
        row.push(cell);
        yield row;
        row = [];
        cell = '';
        pendingCr = c === '\r';
      } else cell += c;
    }
  }
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    yield row;
  }
}

/** The value as written, without the formula guard's quote (for programs reading the CSV back). */
export function unguard(cell: string): string {
  return cell.startsWith("'") && FORMULA_START.test(cell.slice(1)) ? cell.slice(1) : cell;
}
