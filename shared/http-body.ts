// Reading an HTTP response body no further than a bound. res.text() holds whatever the other end
// sends — a 64 MiB key set, an answer without end — before its size can be judged; this stops at
// the declared Content-Length, or at the byte past the bound as the body streams.

/** The body was over `max` bytes; the caller answers with its own error. */
export class BodyTooLarge extends Error {
  constructor(readonly max: number) {
    super(`the body is over ${max} bytes`);
    this.name = 'BodyTooLarge';
  }
}

/** At most `max` bytes of the body; BodyTooLarge past them, the stream's own error if it breaks. */
export async function readBounded(res: Response, max: number): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) {
    await res.body?.cancel().catch(() => {});
    throw new BodyTooLarge(max);
  }
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLarge(max);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}
