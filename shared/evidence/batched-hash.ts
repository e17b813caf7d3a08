// Derived files' digests, computed from their lines as verify derives them again.
import { createHash } from 'node:crypto';

/**
 * sha256 over text appended piece by piece, handed to the hash in batches of about 64 KB. The same
 * digest as one update per piece, because UTF-8 encoding of a concatenation is the concatenation
 * of the encodings — except where a piece ends in a lone high surrogate and the next begins with a
 * low one (they would pair). Derived lines end in a line end, but that is not this function's to
 * assume: such a piece is hashed on its own.
 */
export function batchedHash(): { update(text: string): void; digest(): string } {
  const hash = createHash('sha256');
  let pending = '';
  return {
    update(text: string) {
      const last = text.charCodeAt(text.length - 1);
      if (last >= 0xd800 && last <= 0xdbff) {
        hash.update(pending, 'utf8');
        hash.update(text, 'utf8');
        pending = '';
        return;
      }
      // (So `pending` never ends in a high surrogate, and a piece's low one cannot pair with it.)
      pending += text;
      if (pending.length >= 65536) {
        hash.update(pending, 'utf8');
        pending = '';
      }
    },
    digest() {
      hash.update(pending, 'utf8');
      return hash.digest('hex');
    },
  };
}
