// rootFromRange of shared/transparency/merkle-tree.ts, with the hashing split across verify's
// workers: every subtree that lies inside the exported run is cut into pieces of at most PIECE
// leaves along the RFC 6962 split (so each piece's MTH is a node of the tree), the pieces are
// hashed in parallel from the shared buffer of event hashes, and the few nodes above them here.
// Same walk, same answer: test/evidence/verify-pool.test.ts compares it with rootFromRange.
import { split } from '../transparency/merkle-tree.ts';
import { nodeOf } from './verify-tasks.ts';
import type { TaskRunner } from './verify-pool.ts';

const PIECE = 8192;

/**
 * The root of the tree of `size` from the run of `n` event hashes (32 raw bytes each in
 * `hashes`, a SharedArrayBuffer, for indices start … start + n − 1) and its range proof;
 * undefined when the proof has the wrong number of hashes.
 */
export async function rootFromRangeParallel(hashes: Uint8Array, n: number, start: number, size: number, proof: readonly Buffer[], runner: TaskRunner): Promise<Buffer | undefined> {
  const end = start + n;
  if (!(Number.isInteger(start) && Number.isInteger(size) && start >= 0 && start < end && end <= size)) return undefined;
  // Pass 1: the pieces, in walk order. Pass 2: the same walk, taking their roots in order.
  const pieces: [number, number][] = [];
  const insideRun = (lo: number, hi: number, take: (lo: number, hi: number) => Buffer): Buffer => {
    if (hi - lo <= PIECE) return take(lo - start, hi - start);
    const k = split(hi - lo);
    return nodeOf(insideRun(lo, lo + k, take), insideRun(lo + k, hi, take));
  };
  let next = 0;
  let short = false;
  const walk = (lo: number, hi: number, take: (lo: number, hi: number) => Buffer): Buffer => {
    if (hi <= start || lo >= end) {
      const p = proof[next++];
      if (!p) {
        short = true;
        return Buffer.alloc(32);
      }
      return p;
    }
    if (lo >= start && hi <= end) return insideRun(lo, hi, take);
    const k = split(hi - lo);
    return nodeOf(walk(lo, lo + k, take), walk(lo + k, hi, take));
  };
  const ZERO = Buffer.alloc(32);
  walk(0, size, (a, b) => {
    pieces.push([a, b]);
    return ZERO;
  });
  if (short || next !== proof.length) return undefined;
  // A few tasks per thread, so a slow worker does not hold up the rest.
  const per = Math.max(1, Math.ceil(pieces.length / Math.max(1, runner.threads * 4)));
  const batches: Promise<Buffer[]>[] = [];
  for (let i = 0; i < pieces.length; i += per) {
    batches.push(runner.run<Uint8Array[]>({ kind: 'subtreeRoots', hashes, ranges: pieces.slice(i, i + per) }).then((roots) => roots.map((r) => Buffer.from(r))));
  }
  const roots = (await Promise.all(batches)).flat();
  let taken = 0;
  next = 0;
  return walk(0, size, () => roots[taken++]!);
}
