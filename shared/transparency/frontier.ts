// The tree's right frontier (a "compact range" over [0, n)): the roots of the perfect subtrees
// that n's binary digits cut the first n leaves into, largest first — at most log2(n) + 1 hashes.
// Kept with each checkpoint, it lets the next run read only the leaves appended since: the new
// root and the RFC 6962 consistency proof from the old size need nothing of the old leaves but
// these hashes (every node PROOF(m, D[n]) takes from below m is one of m's frontier nodes; every
// other node lies wholly at or after m). The frontier is unsigned: it is believed only when it
// folds back to the signed root of the checkpoint it came with, which a forged one cannot (a
// second SHA-256 preimage).
import { emptyRoot, nodeHash, split, treeHash, type Digest } from './merkle-tree.ts';

export interface Frontier {
  readonly size: number;
  /** Perfect subtree roots, largest (leftmost) first; one per set bit of size. */
  readonly nodes: readonly Digest[];
}

/** The sizes of size's frontier nodes, largest first (its set bits). */
export function frontierSizes(size: number): number[] {
  const out: number[] = [];
  for (let bit = 2 ** Math.floor(Math.log2(Math.max(size, 1))); bit >= 1; bit /= 2) if (size >= bit && Math.floor(size / bit) % 2 === 1) out.push(bit);
  return out;
}

/** The frontier of the first `end` leaves of `leaves` (a full read). */
export function frontierOf(leaves: readonly Digest[], end = leaves.length): Frontier {
  return extendFrontier({ size: 0, nodes: [] }, leaves, 0, end);
}

/** The frontier after appending leaves[start, end) to `f` (a binary counter, as treeHash does). */
export function extendFrontier(f: Frontier, leaves: readonly Digest[], start = 0, end = leaves.length): Frontier {
  const stack = f.nodes.map((h, i) => ({ h, size: frontierSizes(f.size)[i]! }));
  for (let i = start; i < end; i++) {
    let cur = { h: leaves[i]!, size: 1 };
    while (stack.length && stack[stack.length - 1]!.size === cur.size) {
      const left = stack.pop()!;
      cur = { h: nodeHash(left.h, cur.h), size: cur.size * 2 };
    }
    stack.push(cur);
  }
  return { size: f.size + (end - start), nodes: stack.map((s) => s.h) };
}

/** MTH of the tree the frontier stands for: its nodes joined from the right. */
export function frontierRoot(f: Frontier): Digest {
  if (f.nodes.length === 0) return emptyRoot();
  let h = f.nodes[f.nodes.length - 1]!;
  for (let i = f.nodes.length - 2; i >= 0; i--) h = nodeHash(f.nodes[i]!, h);
  return h;
}

/** A frontier as stored with a checkpoint (hex), or undefined when it is not one for `size`. */
export function parseFrontier(size: number, hex: unknown): Frontier | undefined {
  if (!Array.isArray(hex) || !Number.isSafeInteger(size) || size < 0) return undefined;
  if (hex.length !== frontierSizes(size).length) return undefined;
  if (!hex.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h))) return undefined;
  return { size, nodes: (hex as string[]).map((h) => Buffer.from(h, 'hex')) };
}

export const frontierHex = (f: Frontier): string[] => f.nodes.map((h) => h.toString('hex'));

/**
 * RFC 6962 PROOF(m, D[n]) from m's frontier and the leaves [m, n) alone (`fresh[i]` is leaf m + i).
 * The same recursion as consistencyProof in merkle-tree.ts; a subtree below m is looked up among
 * the frontier nodes (which is where the recursion always finds it), one at or after m is hashed
 * from the fresh leaves.
 */
export function consistencyProofFromFrontier(old: Frontier, fresh: readonly Digest[]): Digest[] {
  const m = old.size;
  const n = m + fresh.length;
  if (m === 0 || m === n) return [];
  const below = new Map<string, Digest>();
  let lo = 0;
  frontierSizes(m).forEach((s, i) => {
    below.set(`${lo}:${lo + s}`, old.nodes[i]!);
    lo += s;
  });
  const mth = (a: number, b: number): Digest => {
    if (a >= m) return treeHash(fresh, a - m, b - m);
    const h = below.get(`${a}:${b}`);
    // Unreachable for a well-formed frontier: said loudly rather than proving something wrong.
    if (!h) throw new Error(`consistency proof: the subtree [${a}, ${b}) is neither a frontier node of ${m} nor after it`);
    return h;
  };
  const out: Digest[] = [];
  const sub = (mm: number, a: number, b: number, whole: boolean): void => {
    const size = b - a;
    if (mm === size) {
      if (!whole) out.push(mth(a, b));
      return;
    }
    const k = split(size);
    if (mm <= k) {
      sub(mm, a, a + k, whole);
      out.push(mth(a + k, b));
    } else {
      sub(mm - k, a + k, b, false);
      out.push(mth(a, a + k));
    }
  };
  sub(m, 0, n, true);
  return out;
}
