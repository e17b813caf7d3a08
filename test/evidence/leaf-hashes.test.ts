// Export's packed leaf hashes and root (shared/evidence/leaf-hashes.ts) against the reference
// definition (shared/transparency/merkle-tree.ts) on every tree shape up to 70 leaves and a few larger.
import test from 'ava';
import { createHash } from 'node:crypto';
import { leafHash, treeHash } from '../../shared/transparency/merkle-tree.ts';
import { leafHashInto, packedTreeHash } from '../../shared/evidence/leaf-hashes.ts';

const eventHash = (i: number) => createHash('sha256').update(`event ${i}`).digest('hex');

test('leaf hashes and roots equal merkle-tree.ts on every size', (t) => {
  for (const n of [...Array.from({ length: 71 }, (_, i) => i), 127, 128, 129, 1000, 1024, 1025]) {
    const packed = Buffer.alloc(n * 32);
    const reference: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      leafHashInto(packed, i, eventHash(i));
      reference.push(leafHash(eventHash(i)));
      if (n === 70) t.deepEqual(packed.subarray(i * 32, i * 32 + 32), reference[i]);
    }
    t.is(packedTreeHash(packed, n).toString('hex'), treeHash(reference).toString('hex'), `n = ${n}`);
  }
});

test('a leaf that is not an event hash is refused as leafHash refuses it', (t) => {
  const packed = Buffer.alloc(32);
  for (const bad of ['A'.repeat(64), 'f'.repeat(63), 'f'.repeat(65), `${'f'.repeat(62)}zz`, '', 5 as unknown as string]) {
    const want = t.throws(() => leafHash(bad as string));
    t.throws(() => leafHashInto(packed, 0, bad), { instanceOf: TypeError, message: want!.message });
  }
  t.true(packed.equals(Buffer.alloc(32)), 'nothing written');
});

test('HashesByIndex.holds answers exactly get(index) === hash, for hashes an attacker could store', async (t) => {
  const { HashesByIndex } = await import('../../shared/evidence/log-coverage.ts');
  const h = new HashesByIndex();
  const good = eventHash(1);
  h.set(5, good);
  h.set(2048, eventHash(2));
  h.set(7, 'zz'.repeat(32)); // a stored hash that is not hex: set keeps what decodes, as before
  const candidates = [good, good.toUpperCase(), good.slice(0, 63), `${good}0`, eventHash(2), '', 'zz'.repeat(32), 5 as unknown as string, `${good.slice(0, 62)}zz`];
  for (const index of [5, 6, 7, 2048, 4096, 0]) {
    for (const c of candidates) t.is(h.holds(index, c), h.get(index) === c, `${index} ${String(c)}`);
  }
});
