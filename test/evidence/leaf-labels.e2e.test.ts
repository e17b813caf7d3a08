// A leaf's sessionId and seq in leaves.jsonl are labels no hash covers. An exporter (or anyone
// editing the folder) who leaves a session of the range out must not be able to hide its leaves
// by relabelling them as some other session's later events: every leaf of a session the export
// does not hold carries its event, whose hash says whose it is. Both passes of verify must say so.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { exportEvidence, type ExportSource } from '../../shared/evidence/export.ts';
import { verifyEvidence } from '../../shared/evidence/verify.ts';
import type { LogLeafReader } from '../../shared/ports.ts';
import { DESK_PUBLIC_KEY, startEvidenceFixture, type EvidenceFixture } from './fixture.ts';

let fx: EvidenceFixture;
let root: string;
test.before(async () => {
  fx = await startEvidenceFixture();
  root = mkdtempSync(join(tmpdir(), 'gatehouse-leaf-labels-'));
});
test.after.always(async () => {
  await fx?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** The fixture's log, with one session of the range left out of the listing and, optionally, its leaves relabelled. */
async function lyingSource(relabel: boolean): Promise<{ source: ExportSource & LogLeafReader; hidden: string }> {
  const log = fx.log as unknown as ExportSource & LogLeafReader;
  const listed = await log.list({ from: fx.from, to: fx.to, limit: 100 });
  const hidden = listed[2]!.sessionId;
  return {
    hidden,
    source: {
      list: async (q) => (await log.list(q)).filter((s) => s.sessionId !== hidden),
      read: (id) => log.read(id),
      readMany: (ids) => log.readMany!(ids),
      treeSize: () => log.treeSize(),
      leaves: async (a, b) => (await log.leaves(a, b)).map((l) => (relabel && l.sessionId === hidden ? { ...l, sessionId: 'elsewhere', seq: l.seq + 1 } : l)),
    },
  };
}

for (const relabel of [false, true]) {
  test(`a session of the range left out of the export is found through its leaves${relabel ? ', relabelled as another session’s later events' : ''}`, async (t) => {
    const { source, hidden } = await lyingSource(relabel);
    const out = join(root, `export-${relabel}`);
    await exportEvidence(source, { votePublicKeyPem: DESK_PUBLIC_KEY, from: fx.from, to: fx.to, out, source: 'test' });
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { chainHeads: { sessionId: string }[] };
    t.false(manifest.chainHeads.some((h) => h.sessionId === hidden), 'the session is not in the export');
    for (const workers of [0, 2]) {
      const fast = await verifyEvidence(out, { workers });
      const full = await verifyEvidence(out, { workers, fullPass: true });
      t.false(fast.ok);
      t.true(fast.problems.some((p) => p.kind === 'session_missing'), JSON.stringify(fast.problems.slice(0, 3)));
      t.deepEqual({ ...fast, durationMs: 0, eventsPerSecond: 0, pass: undefined }, { ...full, durationMs: 0, eventsPerSecond: 0, pass: undefined });
    }
  });
}

test('relabelling leaves in the folder afterwards (the event dropped, or kept under the new label) is caught', async (t) => {
  const { source, hidden } = await lyingSource(false);
  const out = join(root, 'export-edited');
  await exportEvidence(source, { votePublicKeyPem: DESK_PUBLIC_KEY, from: fx.from, to: fx.to, out, source: 'test' });
  const path = join(out, 'leaves.jsonl');
  const original = readFileSync(path, 'utf8');
  const relabel = (keepEvent: boolean) =>
    original
      .split('\n')
      .map((l) => {
        if (l === '') return l;
        const leaf = JSON.parse(l) as { sessionId: string; seq: number; event?: unknown };
        if (leaf.sessionId !== hidden) return l;
        const { event, ...rest } = leaf;
        return JSON.stringify({ ...rest, sessionId: 'elsewhere', seq: leaf.seq + 1, ...(keepEvent ? { event } : {}) });
      })
      .join('\n');
  t.true(original.includes(`"sessionId":${JSON.stringify(hidden)}`), 'the hidden session has leaves in the run');
  for (const [keepEvent, kind] of [[false, 'session_missing'], [true, 'leaf_inserted']] as const) {
    writeFileSync(path, relabel(keepEvent));
    const r = await verifyEvidence(out, { workers: 0 });
    t.true(r.problems.some((p) => p.kind === kind), `${kind}: ${JSON.stringify(r.problems.slice(0, 3))}`);
  }
  // Only the seq changed, the session's name and its event kept: the event's own seq says otherwise.
  writeFileSync(
    path,
    original
      .split('\n')
      .map((l) => (l !== '' && (JSON.parse(l) as { sessionId: string }).sessionId === hidden ? JSON.stringify({ ...(JSON.parse(l) as object), seq: 7 }) : l))
      .join('\n'),
  );
  for (const workers of [0, 2]) {
    const r = await verifyEvidence(out, { workers });
    t.true(r.problems.some((p) => p.kind === 'leaf_inserted'), `seq relabelled: ${JSON.stringify(r.problems.slice(0, 3))}`);
  }
});
