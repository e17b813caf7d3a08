// The RFC 6962 (Certificate Transparency) Merkle tree over the whole session log: every event is
// one leaf, at its global index. Pure functions over leaf hashes, so the checkpointer, export and
// verify share one definition and it can be checked against the RFC without a store.
//
//   leaf input  the event's own hash (shared/audit/chain.ts), as its 32 raw bytes
//   leaf hash   SHA-256(0x00 || input)
//   node hash   SHA-256(0x01 || left || right)
//   MTH(D[n])   SHA-256() for n = 0; the leaf hash for n = 1; otherwise, with k the largest power
//               of two below n, node(MTH(D[0:k]), MTH(D[k:n]))
// The event hash already commits to session, seq, type, time, data and the previous hash; the
// leaf's position commits to its global index.
import { createHash } from 'node:crypto';

export type Digest = Buffer;

export const TREE_DEFINITION =
  'RFC 6962 Merkle tree over every event of the log in global index order: leaf = SHA-256(0x00 || event hash as 32 raw bytes), ' +
  'node = SHA-256(0x01 || left || right), split at the largest power of two below n; empty tree = SHA-256 of nothing';

const LEAF = Buffer.from([0]);
const NODE = Buffer.from([1]);

export function leafHash(eventHashHex: string): Digest {
  if (!/^[0-9a-f]{64}$/.test(eventHashHex)) throw new TypeError('leafHash: an event hash is 64 lowercase hex digits');
  return createHash('sha256').update(LEAF).update(Buffer.from(eventHashHex, 'hex')).digest();
}

export function nodeHash(left: Digest, right: Digest): Digest {
  return createHash('sha256').update(NODE).update(left).update(right).digest();
}

export function emptyRoot(): Digest {
  return createHash('sha256').digest();
}

/** Largest power of two strictly below n (n ≥ 2). */
export function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * MTH over leaf hashes [start, end), in one pass with a stack of perfect subtrees (a binary
 * counter): O(n) hashes, O(log n) memory beyond the input.
 */
export function treeHash(leaves: readonly Digest[], start = 0, end = leaves.length): Digest {
  if (end <= start) return emptyRoot();
  const stack: { h: Digest; size: number }[] = [];
  for (let i = start; i < end; i++) {
    let cur = { h: leaves[i]!, size: 1 };
    while (stack.length && stack[stack.length - 1]!.size === cur.size) {
      const left = stack.pop()!;
      cur = { h: nodeHash(left.h, cur.h), size: cur.size * 2 };
    }
    stack.push(cur);
  }
  // Perfect subtrees of decreasing size, left to right: RFC 6962 joins them from the right.
  let h = stack[stack.length - 1]!.h;
  for (let i = stack.length - 2; i >= 0; i--) h = nodeHash(stack[i]!.h, h);
  return h;
}

/** RFC 6962 §2.1.1 PATH(m, D[n]): the audit path of leaf m in the tree of the first n leaves. */
export function inclusionProof(leaves: readonly Digest[], m: number, n = leaves.length): Digest[] {
  if (!(Number.isInteger(m) && m >= 0 && m < n && n <= leaves.length)) throw new RangeError('inclusionProof: need 0 ≤ m < n ≤ leaves');
  const path: Digest[] = [];
  const walk = (lo: number, hi: number, target: number): void => {
    if (hi - lo === 1) return;
    const k = split(hi - lo);
    if (target < lo + k) {
      walk(lo, lo + k, target);
      path.push(treeHash(leaves, lo + k, hi));
    } else {
      walk(lo + k, hi, target);
      path.push(treeHash(leaves, lo, lo + k));
    }
  };
  walk(0, n, m);
  return path;
}

/** RFC 9162 §2.1.3.2: does `proof` show leaf `leaf` at `index` in the tree of `size` with `root`? */
export function verifyInclusion(leaf: Digest, index: number, size: number, proof: readonly Digest[], root: Digest): boolean {
  if (!(Number.isInteger(index) && Number.isInteger(size) && index >= 0 && index < size)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/** RFC 6962 §2.1.2 PROOF(m, D[n]): that the tree of the first m leaves is a prefix of the tree of n. */
export function consistencyProof(leaves: readonly Digest[], m: number, n = leaves.length): Digest[] {
  if (!(Number.isInteger(m) && m >= 0 && m <= n && n <= leaves.length)) throw new RangeError('consistencyProof: need 0 ≤ m ≤ n ≤ leaves');
  if (m === 0 || m === n) return [];
  const out: Digest[] = [];
  const sub = (mm: number, lo: number, hi: number, b: boolean): void => {
    const size = hi - lo;
    if (mm === size) {
      if (!b) out.push(treeHash(leaves, lo, hi));
      return;
    }
    const k = split(size);
    if (mm <= k) {
      sub(mm, lo, lo + k, b);
      out.push(treeHash(leaves, lo + k, hi));
    } else {
      sub(mm - k, lo + k, hi, false);
      out.push(treeHash(leaves, lo, lo + k));
    }
  };
  sub(m, 0, n, true);
  return out;
}

/** RFC 9162 §2.1.4.2: does `proof` show the tree (size1, root1) is a prefix of (size2, root2)? */
export function verifyConsistency(size1: number, size2: number, proof: readonly Digest[], root1: Digest, root2: Digest): boolean {
  if (!(Number.isInteger(size1) && Number.isInteger(size2) && size1 >= 0 && size1 <= size2)) return false;
  if (size1 === size2) return proof.length === 0 && root1.equals(root2);
  if (size1 === 0) return proof.length === 0; // the empty tree is a prefix of every tree
  if (proof.length === 0) return false;
  let path = [...proof];
  // If size1 is a power of two, root1 itself starts the path.
  if ((size1 & (size1 - 1)) === 0) path = [root1, ...path];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(root1) && sr.equals(root2);
}

/**
 * A proof for a contiguous run of leaves [start, end) in the tree of `size`: the hashes of the
 * largest subtrees lying wholly outside the run, in the order MTH's recursion meets them. With the
 * run's own leaves it gives back the root — one inclusion proof for the whole run, about
 * 2·log2(size) hashes instead of log2(size) per leaf.
 */
export function rangeProof(leaves: readonly Digest[], start: number, end: number, size = leaves.length): Digest[] {
  checkRange(start, end, size);
  if (size > leaves.length) throw new RangeError('rangeProof: size beyond the leaves given');
  const out: Digest[] = [];
  const walk = (lo: number, hi: number): void => {
    if (hi <= start || lo >= end) {
      out.push(treeHash(leaves, lo, hi));
      return;
    }
    if (hi - lo === 1) return;
    const k = split(hi - lo);
    walk(lo, lo + k);
    walk(lo + k, hi);
  };
  walk(0, size);
  return out;
}

/**
 * The root of the tree of `size` from the run of leaf hashes `run` (indices start … start +
 * run.length − 1) and its range proof; undefined when the proof has the wrong number of hashes.
 */
export function rootFromRange(run: readonly Digest[], start: number, size: number, proof: readonly Digest[]): Digest | undefined {
  const end = start + run.length;
  try {
    checkRange(start, end, size);
  } catch {
    return undefined;
  }
  let next = 0;
  let short = false;
  const walk = (lo: number, hi: number): Digest => {
    if (hi <= start || lo >= end) {
      const p = proof[next++];
      if (!p) {
        short = true;
        return emptyRoot();
      }
      return p;
    }
    if (hi - lo === 1) return run[lo - start]!;
    const k = split(hi - lo);
    // Inside the run a subtree is a perfect run of leaves: hash it in one pass.
    if (lo >= start && hi <= end) return treeHash(run, lo - start, hi - start);
    return nodeHash(walk(lo, lo + k), walk(lo + k, hi));
  };
  const root = walk(0, size);
  return short || next !== proof.length ? undefined : root;
}

function checkRange(start: number, end: number, size: number): void {
  if (!(Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(size) && start >= 0 && start < end && end <= size)) {
    throw new RangeError('range proof: need 0 ≤ start < end ≤ size');
  }
}
