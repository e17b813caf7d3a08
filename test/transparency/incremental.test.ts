// Incremental signing: the frontier kept with each checkpoint gives the same root and the same
// RFC 6962 consistency proof as recomputing from every leaf, over random append sequences; the
// checkpointer then reads only the new leaves, and falls back to a full read whenever the stored
// frontier is missing, malformed or not the signed tree's — or a full read is due.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { LogLeaf, LogLeafReader } from '../../shared/ports.ts';
import type { Checkpoint } from '../../shared/transparency/checkpoint.ts';
import { folderCheckpointStore, type CheckpointStore } from '../../shared/transparency/checkpoint-store.ts';
import { CheckpointFailure, checkpointOnce } from '../../shared/transparency/checkpointer.ts';
import { consistencyProofFromFrontier, extendFrontier, frontierOf, frontierRoot, frontierSizes, parseFrontier } from '../../shared/transparency/frontier.ts';
import { localSigner } from '../../shared/transparency/local-signer.ts';
import { consistencyProof, leafHash, treeHash, verifyConsistency } from '../../shared/transparency/merkle-tree.ts';
import { verifyCheckpointChain } from '../../shared/transparency/verify-checkpoints.ts';

const digest = (i: number, salt = ''): Buffer => leafHash(createHash('sha256').update(`${salt}${i}`).digest('hex'));

/** A deterministic PRNG so a failure can be replayed from the seed in the message. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

test('frontier sizes are the set bits of n, largest first', (t) => {
  t.deepEqual(frontierSizes(0), []);
  t.deepEqual(frontierSizes(1), [1]);
  t.deepEqual(frontierSizes(6), [4, 2]);
  t.deepEqual(frontierSizes(13), [8, 4, 1]);
  t.deepEqual(frontierSizes(2 ** 20), [2 ** 20]);
});

test('frontier root and consistency proofs equal the full recomputation over random append sequences', (t) => {
  for (let seed = 1; seed <= 40; seed++) {
    const rand = prng(seed);
    const leaves: Buffer[] = [];
    let f = frontierOf([]);
    // Batches of 0..70 leaves (0: a run with nothing new), across power-of-two boundaries.
    for (let batch = 0; batch < 12; batch++) {
      const m = leaves.length;
      const add = Math.floor(rand() * 71) * (rand() < 0.15 ? 0 : 1);
      const fresh = Array.from({ length: add }, (_, i) => digest(m + i, `s${seed}`));
      leaves.push(...fresh);
      const proof = consistencyProofFromFrontier(f, fresh);
      const next = extendFrontier(f, fresh);
      const n = leaves.length;
      t.deepEqual(frontierRoot(next), treeHash(leaves), `seed ${seed}: root at ${n}`);
      t.deepEqual(next.nodes, frontierOf(leaves).nodes, `seed ${seed}: frontier at ${n}`);
      t.deepEqual(proof.map((h) => h.toString('hex')), consistencyProof(leaves, m, n).map((h) => h.toString('hex')), `seed ${seed}: PROOF(${m}, ${n})`);
      t.true(verifyConsistency(m, n, proof, treeHash(leaves, 0, m), treeHash(leaves)), `seed ${seed}: proof ${m}→${n} verifies`);
      f = next;
    }
  }
});

test('every (m, n) up to 70: the proof from the frontier is the RFC proof', (t) => {
  const leaves = Array.from({ length: 70 }, (_, i) => digest(i));
  for (let m = 0; m <= 70; m++) {
    const f = frontierOf(leaves, m);
    for (let n = m; n <= 70; n++) {
      const got = consistencyProofFromFrontier(f, leaves.slice(m, n));
      if (!got.every((h, i) => h.equals(consistencyProof(leaves, m, n)[i]!)) || got.length !== consistencyProof(leaves, m, n).length) {
        t.fail(`PROOF(${m}, ${n}) differs`);
        return;
      }
    }
  }
  t.pass();
});

test('a stored frontier is parsed only when it has one node per set bit of the size', (t) => {
  const leaves = Array.from({ length: 13 }, (_, i) => digest(i));
  const hex = frontierOf(leaves).nodes.map((h) => h.toString('hex'));
  t.truthy(parseFrontier(13, hex));
  t.is(parseFrontier(12, hex), undefined);
  t.is(parseFrontier(13, hex.slice(1)), undefined);
  t.is(parseFrontier(13, [...hex.slice(0, 2), 'zz'.repeat(32)]), undefined);
  t.is(parseFrontier(13, 'abc'), undefined);
});

/** A log in memory, counting the leaves each run reads. */
function memoryLog(): LogLeafReader & { hashes: string[]; read: number; append(n: number): void } {
  const log = {
    hashes: [] as string[],
    read: 0,
    append(n: number) {
      for (let i = 0; i < n; i++) log.hashes.push(randomBytes(32).toString('hex'));
    },
    async treeSize() {
      return log.hashes.length;
    },
    async leaves(start: number, end: number): Promise<LogLeaf[]> {
      const out = log.hashes.slice(start, end).map((hash, i) => ({ index: start + i, sessionId: 's', seq: start + i, hash }));
      log.read += out.length;
      return out;
    },
  };
  return log;
}

function setup(t: import('ava').ExecutionContext) {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-inc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const signer = localSigner(dir);
  const store = folderCheckpointStore(join(dir, 'checkpoints'));
  let now = Date.parse('2026-01-01T00:00:00Z');
  const clock = () => new Date((now += 1000));
  return { dir, signer, store, clock };
}

test('the checkpointer reads only the new leaves, and signs what a full read would', async (t) => {
  const { signer, store, clock } = setup(t);
  const log = memoryLog();
  const rand = prng(7);
  for (let run = 0; run < 25; run++) {
    log.append(1 + Math.floor(rand() * 40));
    const before = log.hashes.length;
    const previousSize = (await store.list()).checkpoints.at(-1)?.treeSize ?? 0;
    log.read = 0;
    const r = await checkpointOnce({ log, signer, store, clock });
    t.is(r.kind, 'signed');
    // The first run reads everything; every later one only what was appended since.
    t.is(log.read, run === 0 ? before : before - previousSize, `run ${run}`);
    const full = log.hashes.map((h) => leafHash(h));
    t.is(r.checkpoint.rootHash, treeHash(full).toString('hex'));
    if (r.checkpoint.consistency) {
      t.deepEqual(r.checkpoint.consistency.proof, consistencyProof(full, previousSize).map((h) => h.toString('hex')));
    }
  }
  const chain = verifyCheckpointChain((await store.list()).checkpoints, await signer.publicKeyPem());
  t.deepEqual(chain.problems, []);
  t.is(chain.valid.length, 25);
});

/** A store whose newest checkpoint is replaced by `edit` on read (what a tampered journal would hand over). */
function editedLatest(store: CheckpointStore, edit: (c: Checkpoint) => Checkpoint): CheckpointStore {
  return { ...store, latest: async () => (await store.list()).checkpoints.map(edit).at(-1) };
}

test('a missing, malformed or forged frontier falls back to a full read, and the result is still right', async (t) => {
  const { signer, store, clock } = setup(t);
  const log = memoryLog();
  log.append(21);
  await checkpointOnce({ log, signer, store, clock });
  const other = Array.from({ length: 5 }, () => randomBytes(32).toString('hex'));
  const edits: [string, (c: Checkpoint) => Checkpoint][] = [
    ['missing', ({ frontier: _f, ...c }) => c],
    ['malformed', (c) => ({ ...c, frontier: ['nothex'] })],
    ['another tree of the same size', (c) => ({ ...c, frontier: c.frontier!.map((_, i) => other[i]!) })],
    ['dropped node', (c) => ({ ...c, frontier: c.frontier!.slice(1) })],
  ];
  for (const [what, edit] of edits) {
    log.append(3);
    log.read = 0;
    const r = await checkpointOnce({ log, signer, store: editedLatest(store, edit), clock });
    t.is(log.read, log.hashes.length, `${what}: every leaf read`);
    t.is(r.checkpoint.rootHash, treeHash(log.hashes.map((h) => leafHash(h))).toString('hex'), what);
  }
  t.deepEqual(verifyCheckpointChain((await store.list()).checkpoints, await signer.publicKeyPem()).problems, []);
});

test('a full read is due after fullReadEveryMs, and it catches the history rewritten below the frontier', async (t) => {
  const { signer, store, clock } = setup(t);
  const log = memoryLog();
  log.append(10);
  await checkpointOnce({ log, signer, store, clock, fullReadEveryMs: 60_000 });
  // Rewritten below the frontier: an incremental run cannot see it (it reads no old leaf) …
  log.hashes[3] = randomBytes(32).toString('hex');
  log.append(2);
  log.read = 0;
  const quick = await checkpointOnce({ log, signer, store, clock, fullReadEveryMs: 60_000 });
  t.is(log.read, 2);
  t.is(quick.kind, 'signed');
  // … the next full read does, and refuses to sign.
  log.append(1);
  const e = await t.throwsAsync(checkpointOnce({ log, signer, store, clock: () => new Date(Date.parse('2026-01-01T02:00:00Z')), fullReadEveryMs: 60_000 }));
  t.true(e instanceof CheckpointFailure && e.code === 'log_inconsistent', String(e));
});

test('incremental: leaves deleted below the last checkpoint or a gap in the new ones are refused', async (t) => {
  const { signer, store, clock } = setup(t);
  const log = memoryLog();
  log.append(8);
  await checkpointOnce({ log, signer, store, clock });
  const saved = [...log.hashes];
  log.hashes.length = 6;
  const shrunk = await t.throwsAsync(checkpointOnce({ log, signer, store, clock }));
  t.true(shrunk instanceof CheckpointFailure && shrunk.code === 'log_inconsistent');
  log.hashes = [...saved];
  log.append(4);
  const gappy: LogLeafReader = { treeSize: () => log.treeSize(), leaves: async (s, e) => (await log.leaves(s, e)).filter((l) => l.index !== 9) };
  const gap = await t.throwsAsync(checkpointOnce({ log: gappy, signer, store, clock }));
  t.true(gap instanceof CheckpointFailure && gap.code === 'log_inconsistent' && /leaf 9 is missing/.test(gap.message));
});

test('a last full read dated in the future (a clock that jumped back) is a full read now', async (t) => {
  const { signer, store, clock } = setup(t);
  const log = memoryLog();
  log.append(5);
  await checkpointOnce({ log, signer, store, clock });
  log.append(2);
  log.read = 0;
  const future = (c: Checkpoint): Checkpoint => ({ ...c, fullReadAt: '2099-01-01T00:00:00.000Z' });
  await checkpointOnce({ log, signer, store: editedLatest(store, future), clock });
  t.is(log.read, 7);
});

test('a planted checkpoint (not signed by this signer) is never extended: the signer builds on the last checkpoint it signed itself', async (t) => {
  const { dir, signer, store, clock } = setup(t);
  const log = memoryLog();
  log.append(6);
  await checkpointOnce({ log, signer, store, clock });
  log.append(2);
  // Someone who can write the store plants a newer checkpoint of another history, with a frontier
  // that folds back to its own root, signed with their key (or not at all).
  const fake = Array.from({ length: 8 }, () => leafHash(randomBytes(32).toString('hex')));
  const attacker = localSigner(join(dir, 'attacker'));
  const { signCheckpoint } = await import('../../shared/transparency/checkpoint.ts');
  const planted = { ...(await signCheckpoint(attacker, { treeSize: 8, rootHash: treeHash(fake).toString('hex'), time: new Date('2026-01-01T00:00:00.500Z') }, null)), frontier: frontierOf(fake).nodes.map((h) => h.toString('hex')), fullReadAt: new Date().toISOString() };
  const withPlant: CheckpointStore = { ...store, latest: async () => planted };
  log.append(1);
  const genuine = (await store.list()).checkpoints.at(-1)!;
  // Before, the planted checkpoint became the base: its root was refused here only because it was
  // not the log's — a planted root that *was* the (rewritten) log's got signed
  // (signer-attacks.e2e.test.ts). Now the plant is ignored: neither its root nor its frontier is used.
  const r = await checkpointOnce({ log, signer, store: withPlant, clock });
  t.is(r.kind, 'signed');
  t.is(r.checkpoint.treeSize, 9);
  t.is(r.checkpoint.rootHash, treeHash(log.hashes.map((h) => leafHash(h))).toString('hex'), 'the root of the log as it is, not the planted history');
  t.deepEqual([r.checkpoint.consistency?.fromSize, r.checkpoint.consistency?.fromRoot], [6, genuine.rootHash], 'proved from the genuine checkpoint');
  t.not(r.checkpoint.rootHash, planted.rootHash);
});
