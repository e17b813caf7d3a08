// The RFC 6962 tree: known answers from the Certificate Transparency reference vectors, and every
// proof checked against a plain recursive MTH, plus the forgeries a proof must refuse.
import { createHash, randomBytes } from 'node:crypto';
import test from 'ava';
import {
  consistencyProof,
  emptyRoot,
  inclusionProof,
  leafHash,
  nodeHash,
  rangeProof,
  rootFromRange,
  split,
  treeHash,
  verifyConsistency,
  verifyInclusion,
  type Digest,
} from '../../shared/transparency/merkle-tree.ts';

const rawLeaf = (hex: string): Digest => createHash('sha256').update(Buffer.from([0])).update(Buffer.from(hex, 'hex')).digest();

// The leaf inputs and roots of the CT reference test (certificate-transparency-go merkle tests).
const VECTOR_INPUTS = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
const VECTOR_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

function naive(leaves: readonly Digest[]): Digest {
  if (leaves.length === 0) return emptyRoot();
  if (leaves.length === 1) return leaves[0]!;
  const k = split(leaves.length);
  return nodeHash(naive(leaves.slice(0, k)), naive(leaves.slice(k)));
}

const randomLeaves = (n: number) => Array.from({ length: n }, () => leafHash(randomBytes(32).toString('hex')));

test('treeHash gives the RFC 6962 reference roots for 1…8 leaves, and SHA-256() for none', (t) => {
  const leaves = VECTOR_INPUTS.map(rawLeaf);
  VECTOR_ROOTS.forEach((root, i) => t.is(treeHash(leaves.slice(0, i + 1)).toString('hex'), root, `${i + 1} leaves`));
  t.is(treeHash([]).toString('hex'), createHash('sha256').digest('hex'));
});

test('treeHash equals the recursive definition for every size up to 70', (t) => {
  const leaves = randomLeaves(70);
  for (let n = 0; n <= 70; n++) t.true(treeHash(leaves, 0, n).equals(naive(leaves.slice(0, n))), `n=${n}`);
});

test('leafHash takes only a 64-hex event hash', (t) => {
  for (const bad of ['', 'ab', 'A'.repeat(64), 'g'.repeat(64), `${'0'.repeat(64)}\n`]) t.throws(() => leafHash(bad), { instanceOf: TypeError });
});

test('inclusion proofs verify for every leaf of every size up to 33, and refuse every forgery', (t) => {
  const leaves = randomLeaves(33);
  for (let n = 1; n <= 33; n++) {
    const root = treeHash(leaves, 0, n);
    for (let m = 0; m < n; m++) {
      const proof = inclusionProof(leaves, m, n);
      t.true(verifyInclusion(leaves[m]!, m, n, proof, root), `leaf ${m} of ${n}`);
      if (n > 1) {
        t.false(verifyInclusion(leaves[(m + 1) % n]!, m, n, proof, root), 'another leaf at this index');
        t.false(verifyInclusion(leaves[m]!, (m + 1) % n, n, proof, root), 'this leaf at another index');
        t.false(verifyInclusion(leaves[m]!, m, n, proof.slice(1), root), 'a shortened path');
        t.false(verifyInclusion(leaves[m]!, m, n, [...proof, leaves[0]!], root), 'a lengthened path');
      }
      t.false(verifyInclusion(leaves[m]!, m, n, proof, randomLeaves(1)[0]!), 'another root');
    }
  }
});

test('consistency proofs verify for every pair of sizes up to 33, and refuse forks', (t) => {
  const leaves = randomLeaves(33);
  const forked = [...leaves];
  for (let n = 1; n <= 33; n++) {
    for (let m = 1; m <= n; m++) {
      const proof = consistencyProof(leaves, m, n);
      const r1 = treeHash(leaves, 0, m);
      const r2 = treeHash(leaves, 0, n);
      t.true(verifyConsistency(m, n, proof, r1, r2), `${m} → ${n}`);
      if (m < n) {
        // A fork: one of the first m leaves differs in the later tree.
        forked[m - 1] = randomLeaves(1)[0]!;
        t.false(verifyConsistency(m, n, proof, r1, treeHash(forked, 0, n)), `forked ${m} → ${n}`);
        t.false(verifyConsistency(m, n, consistencyProof(forked, m, n), r1, treeHash(forked, 0, n)), `forked with its own proof ${m} → ${n}`);
        forked[m - 1] = leaves[m - 1]!;
        t.false(verifyConsistency(m, n, proof.slice(0, -1), r1, r2), 'a shortened proof');
      }
    }
  }
});

test('range proofs rebuild the root from any run of leaves, and refuse a changed, missing or extra leaf', (t) => {
  const leaves = randomLeaves(41);
  for (const size of [1, 2, 7, 8, 9, 16, 41]) {
    const root = treeHash(leaves, 0, size);
    for (let start = 0; start < size; start++) {
      for (let end = start + 1; end <= size; end += Math.max(1, Math.floor(size / 5))) {
        const run = leaves.slice(start, end);
        const proof = rangeProof(leaves, start, end, size);
        t.true(rootFromRange(run, start, size, proof)?.equals(root), `[${start}, ${end}) of ${size}`);
        const changed = [...run];
        changed[0] = randomLeaves(1)[0]!;
        t.false(rootFromRange(changed, start, size, proof)?.equals(root) ?? false, 'changed leaf');
        if (run.length > 1) t.false(rootFromRange(run.slice(1), start + 1, size, proof)?.equals(root) ?? false, 'a leaf dropped');
        if (end < size) t.false(rootFromRange([...run, leaves[end]!], start, size, proof)?.equals(root) ?? false, 'a leaf added');
      }
    }
  }
  t.is(rootFromRange([], 0, 4, []), undefined, 'an empty run proves nothing');
});
