// Shared memory for the chunks verify's clean pass hands its worker threads (clean-pass/chunks.ts,
// lines.ts fileChunks), used again once a chunk's answer is in: the memory verify holds is the
// window of chunks in flight, not every chunk of the file until the collector gets to them —
// shared buffers weigh little in V8's heuristics, so they are freed late (at 100k sessions verify
// held over 300 MB of them at its peak). A chunk given back must no longer be read by anyone.

const MB = 1024 * 1024;

export class ChunkPool {
  readonly #free: SharedArrayBuffer[] = [];

  /** A buffer of exactly `bytes` bytes, in shared memory of at least that size (rounded up, so chunks of about one size share it). */
  take(bytes: number): Buffer {
    const i = this.#free.findIndex((b) => b.byteLength >= bytes);
    const sab = i >= 0 ? this.#free.splice(i, 1)[0]! : new SharedArrayBuffer(Math.max(MB, Math.ceil(bytes / MB) * MB));
    return Buffer.from(sab, 0, bytes);
  }

  /** Done with this chunk (any view of its memory): the next take may hand its memory out again. */
  give(chunk: Uint8Array): void {
    const sab = chunk.buffer;
    if (sab instanceof SharedArrayBuffer && this.#free.length < MAX_FREE && !this.#free.includes(sab)) this.#free.push(sab);
  }
}

const MAX_FREE = 16;
