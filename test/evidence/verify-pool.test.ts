// verify's worker threads change no answer: the parallel Merkle root is rootFromRange's, the
// pieces' MTH is treeHash's, lines are split as readline splits them, chunks cut only after a
// line end, and real worker threads (verify-pool.ts) hash what the calling thread would.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import test from 'ava';
import { chainEvents } from '../../shared/audit/chain.ts';
import { ChunkPool } from '../../shared/evidence/chunk-pool.ts';
import { fileChunks, splitLines } from '../../shared/evidence/lines.ts';
import { rootFromRangeParallel } from '../../shared/evidence/parallel-root.ts';
import { inThread, workerPool } from '../../shared/evidence/verify-pool.ts';
import { eventHashBits, mth } from '../../shared/evidence/verify-tasks.ts';
import { leafHash, rangeProof, rootFromRange, treeHash } from '../../shared/transparency/merkle-tree.ts';
import { tempDir } from './helpers.ts';

function eventHashes(n: number): { packed: Uint8Array; hex: string[] } {
  const packed = new Uint8Array(new SharedArrayBuffer(n * 32));
  const hex: string[] = [];
  for (let i = 0; i < n; i++) {
    const h = createHash('sha256').update(`event ${i}`).digest();
    packed.set(h, i * 32);
    hex.push(h.toString('hex'));
  }
  return { packed, hex };
}

test('mth over raw event hashes is treeHash over their leaf hashes', (t) => {
  const { packed, hex } = eventHashes(300);
  const leaves = hex.map(leafHash);
  for (const [a, b] of [[0, 0], [0, 1], [0, 2], [0, 3], [5, 6], [0, 256], [3, 300], [17, 129]] as const) {
    t.is(mth(packed, a, b).toString('hex'), treeHash(leaves, a, b).toString('hex'), `${a}..${b}`);
  }
});

test('the parallel root is rootFromRange, for runs of every shape, with or without real workers', async (t) => {
  const size = 20_000;
  const { packed, hex } = eventHashes(size);
  const leaves = hex.map(leafHash);
  const pool = workerPool(2);
  t.teardown(() => pool.close());
  t.is(pool.threads, 2);
  // Really in worker threads, not the fallback in this one.
  const ids = await Promise.all([1, 2, 3, 4].map(() => pool.run<number>({ kind: 'threadId' })));
  t.true(ids.every((id) => id > 0), String(ids));
  for (const [start, end, treeSize] of [[0, 20_000, 20_000], [0, 8192, 20_000], [1, 2, 3], [4095, 16_385, 19_999], [12_345, 12_346, 20_000], [0, 1, 1], [100, 20_000, 20_000]] as const) {
    const run = packed.subarray(start * 32, end * 32);
    const proof = rangeProof(leaves, start, end, treeSize);
    const want = rootFromRange(leaves.slice(start, end), start, treeSize, proof)!.toString('hex');
    for (const runner of [inThread(), pool]) {
      const got = await rootFromRangeParallel(run, end - start, start, treeSize, proof, runner);
      t.is(got?.toString('hex'), want, `${start}..${end} of ${treeSize}, ${runner.threads} threads`);
    }
    // A proof one hash short or long gives no root, as rootFromRange.
    t.is(await rootFromRangeParallel(run, end - start, start, treeSize, [...proof, randomBytes(32)], pool), undefined);
    if (proof.length) t.is(await rootFromRangeParallel(run, end - start, start, treeSize, proof.slice(1), pool), undefined);
  }
});

async function readlineLines(path: string): Promise<string[]> {
  const out: string[] = [];
  for await (const l of createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity })) out.push(l);
  return out;
}

test('lines are split as readline splits them, and chunks cut only after a line end', async (t) => {
  const dir = tempDir(t);
  const cases = ['a\nb\n', 'a\nb', 'a\r\nb\r\n', 'a\rb\r', 'a\n\n\nb\n', '\n', '', 'x', '\ufeff{"a":1}\n{"b":2}', 'é€😀\n\u2028x\u2029\n', 'a\r\r\nb', 'a\n\rb'];
  for (const [i, text] of cases.entries()) {
    const path = join(dir, `c${i}.txt`);
    writeFileSync(path, text);
    const want = await readlineLines(path);
    t.deepEqual(splitLines(text), want, JSON.stringify(text));
    // In chunks of 1 byte (rounded up to a line each): the same lines, chunk by chunk.
    const chunks = [...fileChunks(path, 1)];
    t.deepEqual(chunks.flatMap((c) => splitLines(c.toString('utf8'))), want, `chunked ${JSON.stringify(text)}`);
    t.is(Buffer.concat(chunks).toString('utf8'), text);
    for (const c of chunks.slice(0, -1)) t.is(c.at(-1), 10, 'a chunk ends after \\n');
  }
});

test('fileChunks from a pool: each chunk given back once read, the chunks are still the file', (t) => {
  // Memory used again (chunk-pool.ts): a chunk read into a buffer given back must not show the
  // bytes of the one before, however chunk and line sizes fall.
  const dir = tempDir(t);
  const path = join(dir, 'lines.txt');
  const lines = Array.from({ length: 4000 }, (_, i) => `${i}:${'x'.repeat((i * 37) % 300)}`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  const whole = readFileSync(path);
  for (const size of [1, 70_000, 200_000]) {
    const pool = new ChunkPool();
    const copies: Buffer[] = [];
    const buffers = new Set<ArrayBufferLike>();
    for (const chunk of fileChunks(path, size, pool)) {
      copies.push(Buffer.from(chunk));
      buffers.add(chunk.buffer);
      pool.give(chunk);
    }
    t.true(Buffer.concat(copies).equals(whole), `size ${size}`);
    t.true(buffers.size < copies.length, `size ${size}: memory used again (${buffers.size} buffers for ${copies.length} chunks)`);
  }
});

test('eventHashBits: 1 only for events whose hash holds, in a real worker as here', async (t) => {
  const events = chainEvents('s', null, [{ type: 'request', data: { sql: 'SELECT 1' } }, { type: 'decision', data: { action: 'allow' } }], new Date(0));
  const modified = { ...events[1]!, data: { action: 'deny' } };
  const text = [JSON.stringify(events[0]), 'not json', JSON.stringify(modified), '{"sessionId":"s"}', '', JSON.stringify(events[1])].join('\n') + '\n';
  const bytes = Buffer.from(new SharedArrayBuffer(Buffer.byteLength(text)));
  bytes.write(text);
  const want = [1, 0, 0, 0, 0, 1];
  t.deepEqual([...eventHashBits(bytes)], want);
  const pool = workerPool(1);
  t.teardown(() => pool.close());
  t.true((await pool.run<number>({ kind: 'threadId' })) > 0, 'a worker thread, not the fallback');
  t.deepEqual([...(await pool.run<Uint8Array>({ kind: 'eventHashBits', bytes }))], want);
});
