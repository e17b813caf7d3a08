// The clean pass (shared/evidence/clean-pass/) may only ever say "clean" where the full pass finds
// nothing: every tamper case runs through both, and the answers must be identical — problems,
// order, counts, outcomes. On a clean export it must be the pass taken, and yield exactly the
// derived files and counts the export wrote, however the file is cut into chunks.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { cleanPass } from '../../shared/evidence/clean-pass/index.ts';
import { sessionChunks } from '../../shared/evidence/clean-pass/chunks.ts';
import { ChunkPool } from '../../shared/evidence/chunk-pool.ts';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { DERIVED_FILES, type Manifest } from '../../shared/evidence/manifest.ts';
import { inThread, workerPool } from '../../shared/evidence/verify-pool.ts';
import { verifyEvidence, type VerifyResult } from '../../shared/evidence/verify.ts';
import { DESK_PUBLIC_KEY, startEvidenceFixture, type EvidenceFixture } from './fixture.ts';
import { copyOf } from './helpers.ts';
import { EDITS, editLines } from './tampers.ts';

let fx: EvidenceFixture;
let root: string;
let clean: string;
test.before(async () => {
  fx = await startEvidenceFixture();
  root = mkdtempSync(join(tmpdir(), 'gatehouse-clean-pass-'));
  clean = join(root, 'export');
  await exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from: fx.from, to: fx.to, out: clean, source: 'test' });
});
test.after.always(async () => {
  await fx?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

const answer = (r: VerifyResult) => ({ ...r, durationMs: 0, eventsPerSecond: 0, pass: undefined });
const readManifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;

/** The manifest's digest of `file` set to what the file now holds: only the deeper checks can tell. */
function fixDigest(dir: string, file: string): void {
  const m = readManifest(dir) as unknown as { files: Record<string, { sha256: string; bytes: number }> };
  const bytes = readFileSync(join(dir, file));
  m.files[file] = { ...m.files[file]!, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m, null, 1));
}

const sessionOf = (line: string) => (JSON.parse(line) as { sessionId: string }).sessionId;

/** Cases aimed at the clean pass itself: what its chunking, its leaf reader and its merge must not miss. */
const CLEAN_PASS_EDITS: Record<string, { edit: (dir: string) => void; ok: boolean; pass: 'clean' | 'full' }> = {
  // Same JSON, another spelling: the leaf reader's fast path does not match, JSON.parse decides — and accepts.
  'leaves.jsonl re-spelled with spaces, its digest fixed': {
    edit: (d) => {
      editLines(join(d, 'leaves.jsonl'), (l) => l.map((x) => JSON.stringify(JSON.parse(x), null, 0).replace(/,"/g, ', "')));
      fixDigest(d, 'leaves.jsonl');
    },
    ok: true,
    pass: 'clean',
  },
  // Two sessions' lines interleaved: each session in two blocks.
  'two sessions interleaved, digest fixed': {
    edit: (d) => {
      editLines(join(d, 'events.jsonl'), (l) => {
        const a = l.filter((x) => sessionOf(x) === sessionOf(l[0]!));
        const rest = l.slice(a.length);
        const b = rest.filter((x) => sessionOf(x) === sessionOf(rest[0]!));
        const mixed = a.flatMap((x, i) => (b[i] ? [x, b[i]!] : [x]));
        return [...mixed, ...b.slice(a.length), ...rest.slice(b.length)];
      });
      fixDigest(d, 'events.jsonl');
    },
    ok: false,
    pass: 'full',
  },
  // Two events trade their places in the log (each re-hash would be needed to hide it: not done).
  'two events trade their global index, digest fixed': {
    edit: (d) => {
      editLines(join(d, 'events.jsonl'), (l) => {
        const a = JSON.parse(l[0]!);
        const b = JSON.parse(l[1]!);
        [a.index, b.index] = [b.index, a.index];
        return [JSON.stringify(a), JSON.stringify(b), ...l.slice(2)];
      });
      fixDigest(d, 'events.jsonl');
    },
    ok: false,
    pass: 'full',
  },
  // A whole session moved to the end: every event holds, but the derived files no longer follow.
  'a whole session moved to the end of the file, digest fixed': {
    edit: (d) => {
      editLines(join(d, 'events.jsonl'), (l) => {
        const first = l.filter((x) => sessionOf(x) === sessionOf(l[0]!));
        return [...l.slice(first.length), ...first];
      });
      fixDigest(d, 'events.jsonl');
    },
    ok: false,
    pass: 'clean',
  },
  // An export by the previous version: data keys in the store's order. Hashes hold (the long way).
  "data keys in the store's order, digest fixed": {
    edit: (d) => {
      editLines(join(d, 'events.jsonl'), (l) => l.map((x) => {
        const e = JSON.parse(x);
        e.data = Object.fromEntries(Object.entries(e.data as object).reverse());
        return JSON.stringify(e);
      }));
      fixDigest(d, 'events.jsonl');
    },
    ok: false, // report.html embeds the events as written: it no longer matches, in both passes
    pass: 'clean',
  },
  'a chain head changed in the manifest': {
    edit: (d) => {
      const m = readManifest(d) as unknown as { chainHeads: { head: string }[] };
      m.chainHeads[1]!.head = 'f'.repeat(64);
      writeFileSync(join(d, 'manifest.json'), JSON.stringify(m, null, 1));
    },
    ok: false,
    pass: 'full',
  },
  'a session left out of the manifest': {
    edit: (d) => {
      const m = readManifest(d) as unknown as { chainHeads: unknown[] };
      m.chainHeads.splice(2, 1);
      writeFileSync(join(d, 'manifest.json'), JSON.stringify(m, null, 1));
    },
    ok: false,
    pass: 'full',
  },
  // JSON, but not an object: the full pass once crashed destructuring it; now it is a leaf_inserted.
  'a leaves.jsonl line that is JSON null, digest fixed': {
    edit: (d) => {
      editLines(join(d, 'leaves.jsonl'), (l) => [...l.slice(0, 3), 'null', ...l.slice(3)]);
      fixDigest(d, 'leaves.jsonl');
    },
    ok: false,
    pass: 'full',
  },
  // A run no leaves.jsonl could hold: refused by its size, before any buffer is sized by it.
  'a run of 10^15 leaves claimed in the manifest': {
    edit: (d) => {
      const m = readManifest(d) as unknown as { log: { end: number; treeSize: number } };
      m.log.end = 1e15;
      m.log.treeSize = 1e15;
      writeFileSync(join(d, 'manifest.json'), JSON.stringify(m, null, 1));
    },
    ok: false,
    pass: 'full',
  },
  'a blank line in events.jsonl, digest fixed': {
    edit: (d) => {
      editLines(join(d, 'events.jsonl'), (l) => [...l.slice(0, 4), '', ...l.slice(4)]);
      fixDigest(d, 'events.jsonl');
    },
    ok: false,
    pass: 'full',
  },
};

for (const [name, edit] of Object.entries(EDITS)) {
  test(`clean pass and full pass answer alike: ${name}`, async (t) => {
    const dir = copyOf(t, clean);
    edit(dir);
    const fast = await verifyEvidence(dir, { workers: 2 });
    const full = await verifyEvidence(dir, { workers: 2, fullPass: true });
    t.deepEqual(answer(fast), answer(full));
    t.is(full.pass, 'full');
    // Only the untouched export is proved clean. A top-level member no hash covers ('an event
    // edited') was ignored by both passes; it is now event_modified (unhashed-members.postgres.e2e.test.ts).
    t.is(fast.pass, name === 'clean' ? 'clean' : 'full');
    t.is(fast.ok, name === 'clean', JSON.stringify(fast.problems.slice(0, 3)));
  });
}

for (const [name, c] of Object.entries(CLEAN_PASS_EDITS)) {
  test(`clean pass and full pass answer alike: ${name}`, async (t) => {
    const dir = copyOf(t, clean);
    c.edit(dir);
    for (const workers of [0, 2]) {
      const fast = await verifyEvidence(dir, { workers });
      const full = await verifyEvidence(dir, { workers, fullPass: true });
      t.deepEqual(answer(fast), answer(full), `workers: ${workers}`);
      t.is(fast.pass, c.pass, `workers: ${workers}`);
      t.is(fast.ok, c.ok, JSON.stringify(fast.problems.slice(0, 3)));
      if (name.includes('JSON null')) t.deepEqual(fast.problems.map((p) => p.kind), ['leaf_inserted']);
      if (name.includes('10^15')) t.true(fast.problems.some((p) => p.kind === 'leaf_missing' && /too small/.test(p.message)), JSON.stringify(fast.problems.slice(0, 4)));
    }
  });
}

test('cut into chunks of a few hundred bytes, the clean pass yields exactly the derived files and counts the export wrote', async (t) => {
  const manifest = readManifest(clean);
  // The fixture holds an approval asked for in one session and redeemed in another: linked across chunks.
  t.true(manifest.counts.changesExecutedWithApproval >= 1);
  for (const [threads, runner] of [[0, inThread()], [2, workerPool(2)]] as const) {
    try {
      for (const chunkBytes of [256, 700, 4096]) {
        const r = await cleanPass({ dir: clean, manifest, runner, section: manifest.log ?? undefined, checkpoints: [], votePublicKeyPem: DESK_PUBLIC_KEY, chunkBytes });
        if (!r) {
          t.fail(`threads ${threads}, chunks of ${chunkBytes}: not proved clean`);
          continue;
        }
        for (const f of DERIVED_FILES) t.is(r.derived.files[f], manifest.files[f]!.sha256, `${f}, threads ${threads}, chunks of ${chunkBytes}`);
        t.deepEqual(r.derived.counts, manifest.counts);
        t.deepEqual(r.derived.policyVersions, manifest.policyVersions);
        t.is(r.sessions, manifest.chainHeads.length);
        t.is(r.events, manifest.counts.events);
        t.is(r.derived.reportSessions.total, manifest.chainHeads.length);
      }
    } finally {
      await runner.close();
    }
  }
});

test('chunk memory used again: the report still holds the last sessions, as they are in the file', async (t) => {
  // The report's window shorter than the export: only the last sessions keep their text once
  // their chunk's memory is handed out again (chunk-pool.ts); the rest must be dropped unread.
  // The window holds all but the first two sessions: most of it was read into memory used again later.
  const manifest = readManifest(clean);
  const keep = manifest.chainHeads.length - 2;
  t.true(keep >= 4);
  const windowed = { ...manifest, report: { ...manifest.report, limits: { ...manifest.report.limits, maxSessions: keep } } } as Manifest;
  const lastIds = manifest.chainHeads.slice(-keep).map((h) => h.sessionId);
  const file = readFileSync(join(clean, 'events.jsonl'), 'utf8').trimEnd().split('\n');
  for (const [threads, runner] of [[0, inThread()], [2, workerPool(2)]] as const) {
    try {
      for (const chunkBytes of [256, 700, undefined]) {
        const r = await cleanPass({ dir: clean, manifest: windowed, runner, section: manifest.log ?? undefined, checkpoints: [], votePublicKeyPem: DESK_PUBLIC_KEY, chunkBytes });
        if (!r) {
          t.fail(`threads ${threads}, chunks of ${chunkBytes}: not proved clean`);
          continue;
        }
        const entries = r.derived.reportSessions.entries().map((e) => JSON.parse(e) as { f: { sessionId: string }; events: { sessionId: string }[] });
        t.deepEqual(entries.map((e) => e.f.sessionId), lastIds, `threads ${threads}, chunks of ${chunkBytes}`);
        for (const e of entries) {
          const lines = file.filter((l) => sessionOf(l) === e.f.sessionId).map((l) => JSON.parse(l) as unknown);
          t.deepEqual(e.events, lines, `threads ${threads}, chunks of ${chunkBytes}: ${e.f.sessionId}`);
        }
      }
    } finally {
      await runner.close();
    }
  }
});

test('sessionChunks from a pool: each chunk given back once read, the chunks are still the file', (t) => {
  const path = join(clean, 'events.jsonl');
  const whole = readFileSync(path);
  for (const size of [1, 300, 2048]) {
    const pool = new ChunkPool();
    const copies: Buffer[] = [];
    const seen = new Set<ArrayBufferLike>();
    for (const chunk of sessionChunks(path, size, pool)) {
      copies.push(Buffer.from(chunk));
      seen.add(chunk.buffer);
      pool.give(chunk);
    }
    t.true(Buffer.concat(copies).equals(whole), `size ${size}`);
    // Memory is used again: far fewer buffers than chunks.
    t.true(seen.size < copies.length / 2, `size ${size}: ${seen.size} buffers for ${copies.length} chunks`);
  }
});

test('sessionChunks: the chunks are the file, each cut between two sessions', (t) => {
  const path = join(clean, 'events.jsonl');
  const whole = readFileSync(path);
  for (const size of [1, 300, 2048, 1 << 22]) {
    const chunks = [...sessionChunks(path, size)];
    t.true(Buffer.concat(chunks).equals(whole), `size ${size}`);
    for (let i = 1; i < chunks.length; i++) {
      const before = chunks[i - 1]!.toString('utf8').trimEnd().split('\n').at(-1)!;
      const after = chunks[i]!.toString('utf8').split('\n')[0]!;
      t.not(sessionOf(before), sessionOf(after), `size ${size}, cut ${i}`);
    }
    if (size === 1) t.true(chunks.length > 3, 'small chunks: one session each');
  }
});
