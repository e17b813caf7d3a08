// events.jsonl in chunks that hold whole sessions, so a worker checks each session it is given
// from first event to last. A cut goes before a line whose session differs from the line before,
// read off the line's start (`{"sessionId":"…"`, as export writes every line). Where that cannot
// be read (another layout, an escape in the id), the cut goes there anyway: if a session then
// spans two chunks, the merge notices (the same session at the end of one chunk and the start of
// the next) and the export is not proved clean here — the full pass looks at it instead.
import { closeSync, openSync, readSync } from 'node:fs';
import { ChunkPool } from '../chunk-pool.ts';

const PREFIX = Buffer.from('{"sessionId":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LF = 0x0a;

/** The bytes of the session id of the line starting at `at`, or undefined when it cannot be read plainly. */
function sessionIdAt(buf: Buffer, at: number, end: number): Buffer | undefined {
  if (end - at < PREFIX.length || buf.compare(PREFIX, 0, PREFIX.length, at, at + PREFIX.length) !== 0) return undefined;
  const from = at + PREFIX.length;
  for (let i = from; i < end; i++) {
    const b = buf[i];
    if (b === QUOTE) return buf.subarray(from, i);
    if (b === BACKSLASH || b === LF) return undefined;
  }
  return undefined;
}

/**
 * Where to cut `buf` (bytes [0, len), whole lines up to its last line end, more to come): the
 * start of the last complete line's session, or undefined when the whole buffer is one session.
 */
function sessionCut(buf: Buffer, len: number): number | undefined {
  const lastEnd = buf.lastIndexOf(LF, len - 1);
  if (lastEnd < 0) return undefined;
  // The last complete line ends at lastEnd; find its start, then walk back while the session is the same.
  let lineStart = lastEnd === 0 ? 0 : buf.lastIndexOf(LF, lastEnd - 1) + 1;
  const id = sessionIdAt(buf, lineStart, lastEnd);
  if (id === undefined) return lastEnd + 1;
  while (lineStart > 0) {
    const prevStart = lineStart === 1 ? 0 : buf.lastIndexOf(LF, lineStart - 2) + 1;
    const prevId = sessionIdAt(buf, prevStart, lineStart - 1);
    if (prevId === undefined || !prevId.equals(id)) return lineStart;
    lineStart = prevStart;
  }
  return undefined;
}

/**
 * The file in chunks of about `size` bytes (more when one session is larger), each ending with a
 * session's last line, in SharedArrayBuffers: a worker reads them without a copy. Read straight
 * into the chunk's own shared memory; only the unfinished session after the cut is copied, into
 * the next one. The last line of the file gets no line end added (the pass reads "a\nb" and
 * "a\nb\n" alike, as readline does).
 */
export function* sessionChunks(path: string, size = 4 * 1024 * 1024, pool = new ChunkPool()): Generator<Buffer> {
  const fd = openSync(path, 'r');
  try {
    const capacity = Math.max(size + (size >> 2), 64 * 1024);
    const shared = (bytes: number) => pool.take(bytes);
    const grow = (buf: Buffer, len: number) => {
      const bigger = shared(buf.length * 2);
      buf.copy(bigger, 0, 0, len);
      pool.give(buf);
      return bigger;
    };
    let buf = shared(capacity);
    let len = 0;
    let eof = false;
    while (!eof || len > 0) {
      while (!eof && len < size) {
        if (len === buf.length) buf = grow(buf, len);
        const n = readSync(fd, buf, len, Math.min(buf.length - len, size - len), null);
        if (n === 0) eof = true;
        len += n;
      }
      if (len === 0) break;
      let cut: number | undefined = eof ? len : sessionCut(buf, len);
      if (cut === undefined) {
        // One session fills the buffer: read on (the buffer grows) until it ends or the file does.
        if (len === buf.length) buf = grow(buf, len);
        const n = readSync(fd, buf, len, Math.min(buf.length - len, size), null);
        if (n === 0) {
          eof = true;
          cut = len;
        } else {
          len += n;
          continue;
        }
      }
      const next = shared(Math.max(capacity, len - cut));
      buf.copy(next, 0, cut, len);
      yield buf.subarray(0, cut);
      buf = next;
      len -= cut;
    }
  } finally {
    closeSync(fd);
  }
}
