// events.jsonl read in chunks of whole lines, split exactly as node:readline splits them (LF,
// CRLF or a lone CR ends a line; a last line without an end still counts), so line numbers in
// problems stay what they were, and a chunk handed to a worker is split the same way there.
import { openSync, readSync, closeSync } from 'node:fs';
import type { ChunkPool } from './chunk-pool.ts';

const LINE_END = /\r\n|\n|\r/;

/** The lines of a chunk that ends with a line end (or ends the file). */
export function splitLines(text: string): string[] {
  const lines = text.split(LINE_END);
  // "a\nb\n" splits into a, b and an empty piece after the last line end: not a line.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * The file in chunks of about `size` bytes of whole lines, each cut after a `\n` (never inside a
 * CRLF or a UTF-8 sequence), in SharedArrayBuffers: a worker reads them without a copy.
 */
export function* fileChunks(path: string, size = 4 * 1024 * 1024, pool?: ChunkPool): Generator<Buffer> {
  const fd = openSync(path, 'r');
  try {
    let carry = Buffer.alloc(0);
    let eof = false;
    while (!eof || carry.length > 0) {
      let buf = carry;
      // Read until the buffer holds a line end past `size`, or the file ends.
      while (!eof && (buf.length < size || buf.lastIndexOf(10) < 0)) {
        const more = Buffer.allocUnsafe(Math.max(size, 64 * 1024));
        const n = readSync(fd, more, 0, more.length, null);
        if (n === 0) eof = true;
        else buf = buf.length ? Buffer.concat([buf, more.subarray(0, n)]) : more.subarray(0, n);
      }
      if (buf.length === 0) break;
      const cut = eof ? buf.length : buf.lastIndexOf(10) + 1;
      const shared = pool ? pool.take(cut) : Buffer.from(new SharedArrayBuffer(cut));
      buf.copy(shared, 0, 0, cut);
      carry = Buffer.from(buf.subarray(cut));
      yield shared;
    }
  } finally {
    closeSync(fd);
  }
}
