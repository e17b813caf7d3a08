// Reproducible sampling: the same export, size and seed always pick the same statements, on any
// machine, so an auditor can re-derive a sample and a reviewer can check it was not cherry-picked.
//   state  = first 4 bytes (big-endian) of SHA-256("gatehouse-sample/1:" + seed)
//   random = mulberry32(state): a 32-bit generator, uniform in [0, 1)
//   pick   = Floyd's algorithm choosing n distinct rows of N: for j = N−n … N−1, t = ⌊random·(j+1)⌋,
//            take t unless already taken, else take j; rows are then listed in population order
// Not for secrets: it only has to be reproducible and unbiased, and it is written down here.
import { createHash } from 'node:crypto';

export const SAMPLING_DEFINITION =
  'state = first 4 bytes (big-endian) of SHA-256("gatehouse-sample/1:" + seed); random = mulberry32(state); ' +
  "Floyd's algorithm picks n of N population rows: for j = N-n .. N-1, t = floor(random() * (j + 1)), take t unless taken, else j; listed in population order";

export function seedState(seed: string): number {
  return createHash('sha256').update(`gatehouse-sample/1:${seed}`, 'utf8').digest().readUInt32BE(0);
}

export function mulberry32(state: number): () => number {
  let a = state >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n distinct indices of 0…N−1, ascending (all of them when n ≥ N). */
export function pickIndices(n: number, N: number, random: () => number): number[] {
  if (n >= N) return Array.from({ length: N }, (_, i) => i);
  const taken = new Set<number>();
  for (let j = N - n; j < N; j++) {
    const t = Math.floor(random() * (j + 1));
    taken.add(taken.has(t) ? j : t);
  }
  return [...taken].sort((a, b) => a - b);
}
