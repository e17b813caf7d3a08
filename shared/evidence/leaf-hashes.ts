// RFC 6962 leaf hashes and the tree root over the whole log, as export computes them: packed 32
// bytes a leaf in one buffer, each hash one call into OpenSSL over a reused scratch buffer. Same
// definition as shared/transparency/merkle-tree.ts (leafHash, treeHash) — test/evidence/leaf-hashes.test.ts
// holds them equal — without a Hash object per leaf and per node and without the proxy view
// (checkpointer.ts packedDigests) for each of the ~880k reads of a 440k-leaf root: together those
// were a tenth of an export's time.
import { createHash, hash as oneShotHash } from 'node:crypto';

const HEX64 = /^[0-9a-f]{64}$/;
const leafInput = Buffer.alloc(33); // 0x00 || event hash
const nodeInput = Buffer.alloc(65); // 0x01 || left || right
nodeInput[0] = 1;

// A digest as a 32-character latin1 ('binary') string: a Buffer result costs twice the hashing
// of these short inputs, and a string is written straight into the next input.
const digest: (data: Buffer) => string =
  typeof oneShotHash === 'function' ? (data) => oneShotHash('sha256', data, 'binary') : (data) => createHash('sha256').update(data).digest('binary');

/** SHA-256(0x00 || the event hash's 32 bytes) written at leaf `i` of `packed`; throws as merkle-tree.ts leafHash does. */
export function leafHashInto(packed: Buffer, i: number, eventHashHex: string): void {
  if (typeof eventHashHex !== 'string' || !HEX64.test(eventHashHex)) throw new TypeError('leafHash: an event hash is 64 lowercase hex digits');
  leafInput.write(eventHashHex, 1, 32, 'hex');
  packed.write(digest(leafInput), i * 32, 32, 'binary');
}

/** MTH over the first n leaf hashes packed in `packed` (merkle-tree.ts treeHash). */
export function packedTreeHash(packed: Buffer, n: number): Buffer {
  return stackRoot(n, (i) => packed.toString('binary', i * 32, i * 32 + 32));
}

/** MTH over the leaves whose event hashes (32 raw bytes each) are at [a, b) of `eventHashes`. */
export function eventHashesTreeHash(eventHashes: Uint8Array, a: number, b: number): Buffer {
  const src = Buffer.from(eventHashes.buffer, eventHashes.byteOffset, eventHashes.byteLength);
  return stackRoot(b - a, (k) => {
    src.copy(leafInput, 1, (a + k) * 32, (a + k) * 32 + 32);
    return digest(leafInput);
  });
}

/**
 * MTH over n leaves, leaf i's hash given by `leaf(i)` (a 32-byte latin1 string), as a binary
 * counter of perfect subtrees held in one buffer: sizes strictly decreasing, joined from the right
 * at the end as RFC 6962 does.
 */
function stackRoot(n: number, leaf: (i: number) => string): Buffer {
  if (n <= 0) return createHash('sha256').digest();
  const stack = Buffer.alloc(64 * 32);
  const sizes: number[] = [];
  const join = (top: number, right: string) => {
    stack.copy(nodeInput, 1, top * 32, top * 32 + 32);
    nodeInput.write(right, 33, 32, 'binary');
    return digest(nodeInput);
  };
  for (let i = 0; i < n; i++) {
    let h = leaf(i);
    let size = 1;
    while (sizes.length && sizes[sizes.length - 1] === size) {
      h = join(sizes.length - 1, h);
      sizes.pop();
      size *= 2;
    }
    stack.write(h, sizes.length * 32, 32, 'binary');
    sizes.push(size);
  }
  let top = sizes.length - 1;
  let h = stack.toString('binary', top * 32, top * 32 + 32);
  for (top--; top >= 0; top--) h = join(top, h);
  return Buffer.from(h, 'binary');
}
