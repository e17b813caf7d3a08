// The Merkle root over an export's chain heads: one value that commits to every session's whole
// history (each head hash commits to its chain). An auditor who keeps the root (in a ticket, a
// signed mail) can later prove that no session of the export was changed, dropped or added.
//
// The tree, exactly (also stated in manifest.json, so it can be recomputed without this code):
//   leaves   in export order — sessions sorted by (startedAt, sessionId) —
//            leaf = SHA-256( 0x00 || UTF-8( sessionId + ":" + headHash ) )
//   nodes    pair neighbours left to right: node = SHA-256( 0x01 || left || right ) over the raw
//            32-byte digests; an odd last node is promoted unchanged to the next level
//   root     the single node left, as lowercase hex; an export with no sessions has root
//            SHA-256 of the empty string
// The 0x00/0x01 prefixes (as in RFC 6962) keep a leaf from ever being read as an inner node.
import { createHash, hash as oneShotHash } from 'node:crypto';

export const MERKLE_DEFINITION =
  'leaves in export order (startedAt, sessionId): SHA-256(0x00 || UTF-8(sessionId + ":" + headHash)); ' +
  'nodes: SHA-256(0x01 || left || right) over raw 32-byte digests, pairing left to right, an odd last node promoted unchanged; ' +
  'root as lowercase hex; no sessions: SHA-256 of the empty string';

// One call into OpenSSL a hash (crypto.hash, Node ≥ 20.12), not a Hash object each: an export
// hashes a leaf and about one node per session.
const sha256: (data: Buffer) => Buffer =
  typeof oneShotHash === 'function' ? (data) => oneShotHash('sha256', data, 'buffer') as unknown as Buffer : (data) => createHash('sha256').update(data).digest();
const LEAF_PREFIX = Buffer.from([0]);
const NODE_PREFIX = Buffer.from([1]);

export function merkleLeaf(sessionId: string, headHash: string): Buffer {
  // U+0000 is the one byte 0x00 in UTF-8: the prefix and the text in one string, one encoding.
  // A lone surrogate is U+FFFD either way (as Buffer.from writes it).
  return typeof oneShotHash === 'function'
    ? (oneShotHash('sha256', `\u0000${sessionId}:${headHash}`, 'buffer') as unknown as Buffer)
    : sha256(Buffer.concat([LEAF_PREFIX, Buffer.from(`${sessionId}:${headHash}`, 'utf8')]));
}

function node(left: Buffer, right: Buffer): Buffer {
  return sha256(Buffer.concat([NODE_PREFIX, left, right]));
}

export function merkleRoot(leaves: readonly Buffer[]): string {
  if (leaves.length === 0) return createHash('sha256').digest('hex');
  let level: readonly Buffer[] = leaves;
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i]!;
      const right = level[i + 1];
      next.push(right ? node(left, right) : left);
    }
    level = next;
  }
  return level[0]!.toString('hex');
}

/**
 * merkleRoot, one leaf at a time, holding O(log n) digests instead of every leaf: pairing left to
 * right with an odd last node promoted is a stack of perfect subtrees joined from the right at the
 * end (test/evidence/units.test.ts compares the two for every size up to a few hundred).
 */
export class MerkleAccumulator {
  readonly #stack: Buffer[] = [];
  readonly #sizes: number[] = [];
  count = 0;

  add(leaf: Buffer): void {
    this.count++;
    let h = leaf;
    let size = 1;
    while (this.#sizes.length && this.#sizes[this.#sizes.length - 1] === size) {
      h = node(this.#stack.pop()!, h);
      this.#sizes.pop();
      size *= 2;
    }
    this.#stack.push(h);
    this.#sizes.push(size);
  }

  root(): string {
    if (this.#stack.length === 0) return createHash('sha256').digest('hex');
    let h = this.#stack[this.#stack.length - 1]!;
    for (let i = this.#stack.length - 2; i >= 0; i--) h = node(this.#stack[i]!, h);
    return h.toString('hex');
  }
}
