// Files of an export: written as a stream (never held whole), hashed while written, and read back
// a line at a time. Lines are gathered and written in large chunks with a synchronous write of
// each chunk: the write returns when the kernel holds the bytes, so a slow disk bounds memory by
// making the export wait, as backpressure would, and an export's hundreds of megabytes cost a
// few thousand system calls instead of a stream's per-chunk queueing and thread-pool round trips.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';

const CHUNK = 64 * 1024;

export class HashedFile {
  #fd: number | undefined;
  readonly #hash: Hash = createHash('sha256');
  #bytes = 0;
  #failed: Error | undefined;
  #closed: Promise<{ sha256: string; bytes: number }> | undefined;
  // Lines are gathered and written in large chunks: one write per line cost more than everything
  // else an export does (measured: writev was a quarter of the CPU time of a 10k-session export).
  #pending: string[] = [];
  #pendingLength = 0;

  constructor(readonly path: string) {
    try {
      // 'wx': never over an existing file (the export folder is its own, fresh).
      this.#fd = openSync(path, 'wx', 0o644);
    } catch (e) {
      // Reported by the first write or close, as a stream would report it.
      this.#failed = e as Error;
    }
  }

  async write(text: string): Promise<void> {
    if (this.#failed) throw this.#failed;
    this.#pending.push(text);
    this.#pendingLength += text.length;
    if (this.#pendingLength >= CHUNK) this.#flush();
  }

  #flush(): void {
    if (this.#failed) throw this.#failed;
    if (this.#pending.length === 0) return;
    const buf = Buffer.from(this.#pending.join(''), 'utf8');
    this.#pending = [];
    this.#pendingLength = 0;
    this.#hash.update(buf);
    this.#bytes += buf.length;
    try {
      for (let off = 0; off < buf.length; ) off += writeSync(this.#fd!, buf, off, buf.length - off);
    } catch (e) {
      this.#failed = e as Error;
      throw e;
    }
  }

  /** Flushes and closes (once; later calls answer the same); the digest and size of what was written. */
  close(): Promise<{ sha256: string; bytes: number }> {
    this.#closed ??= (async () => {
      try {
        this.#flush();
      } finally {
        if (this.#fd !== undefined) {
          const fd = this.#fd;
          this.#fd = undefined;
          closeSync(fd);
        }
      }
      return { sha256: this.#hash.digest('hex'), bytes: this.#bytes };
    })();
    return this.#closed;
  }
}

export async function sha256File(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** sha256File without the event loop: for a worker thread, which blocks only itself. */
export function sha256FileSync(path: string): { sha256: string; bytes: number } {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1024 * 1024);
  const fd = openSync(path, 'r');
  let bytes = 0;
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) {
      hash.update(buf.subarray(0, n));
      bytes += n;
    }
  } finally {
    closeSync(fd);
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Lines of a text file, numbered from 1, without their line ends. */
export async function* readLines(path: string): AsyncGenerator<{ line: number; text: string }> {
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    yield { line, text };
  }
}
