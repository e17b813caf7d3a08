// RFC 6962 leaf hashes and the tree root over the whole log, as export computes them: packed 32
// bytes a leaf in one buffer, each hash one call into OpenSSL over a reused scratch buffer. Same
// definition as shared/transparency/merkle-tree.ts (leafHash, treeHash) — test/evidence/leaf-hashes.test.ts
// holds them equal — without a Hash object per leaf and per node and without the proxy view
// (checkpointer.ts packedDigests) for each of the ~880k reads of a 440k-leaf root: together those
// were a tenth of an export's time.
import { createHash, hash as oneShotHash } from 'node:crypto';

const sha256: (data: Buffer) => Buffer =
  typeof oneShotHash === 'function' ? (data) => oneShotHash('sha256', data, 'buffer') as unknown as Buffer : (data) => createHash('sha256').update(data).digest();

const HEX64 = /^[0-9a-f]{64}$/;
const leafInput = Buffer.alloc(33); // 0x00 || event hash
const nodeInput = Buffer.alloc(65); // 0x01 || left || right
nodeInput[0] = 1;

/** SHA-256(0x00 || the event hash's 32 bytes) written at leaf `i` of `packed`; throws as merkle-tree.ts leafHash does. */
export function leafHashInto(packed: Buffer, i: number, eventHashHex: string): void {
  if (typeof eventHashHex !== 'string' || !HEX64.test(eventHashHex)) throw new TypeError('leafHash: an event hash is 64 lowercase hex digits');
  leafInput.write(eventHashHex, 1, 32, 'hex');
  sha256(leafInput).copy(packed, i * 32);
}

/** MTH over the first n leaf hashes packed in `packed` (merkle-tree.ts treeHash). */
export function packedTreeHash(packed: Buffer, n: number): Buffer {
  if (n <= 0) return createHash('sha256').digest();
  // A binary counter of perfect subtrees: stack[k] has size sizes[k], sizes strictly decreasing.
  const stack: Buffer[] = [];
  const sizes: number[] = [];
  for (let i = 0; i < n; i++) {
    let h = packed.subarray(i * 32, i * 32 + 32);
    let size = 1;
    while (sizes.length && sizes[sizes.length - 1] === size) {
      h = node(stack.pop()!, h);
      sizes.pop();
      size *= 2;
    }
    stack.push(h);
    sizes.push(size);
  }
  // Perfect subtrees of decreasing size, left to right: RFC 6962 joins them from the right.
  let h = stack[stack.length - 1]!;
  for (let i = stack.length - 2; i >= 0; i--) h = node(stack[i]!, h);
  return h;
}

function node(left: Buffer, right: Buffer): Buffer {
  left.copy(nodeInput, 1);
  right.copy(nodeInput, 33);
  return sha256(nodeInput);
}
