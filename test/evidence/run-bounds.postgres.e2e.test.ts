// Attack: an export's run of the log moved inward. The run [start, end) of leaves.jsonl is the
// exporter's choice, written in the manifest; the range proof makes any run give the signed root.
// A folder regenerated with the run starting after (or ending before) the leaves of a session that
// started in the range hides that session: no leaf of it is in the run, so nothing says it is
// missing — every other check holds (the signed root, the events, the derived files, the report).
// Verify must hold the run to the signed checkpoints: it starts no later than the last checkpoint
// signed before the range (less the clock margin), and it ends at the covering checkpoint's size.
// Real PostgreSQL, a real local signer, a real export; the folder is then edited the way its
// owner could, with the log in hand (leaf hashes and events are readable with SELECT).
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { cleanPass } from '../../shared/evidence/clean-pass/index.ts';
import { exportEvidence, type ExportSource } from '../../shared/evidence/export.ts';
import type { Manifest } from '../../shared/evidence/manifest.ts';
import { MERKLE_DEFINITION } from '../../shared/evidence/merkle.ts';
import { writeReport } from '../../shared/evidence/report/html.ts';
import { soc2Criteria } from '../../shared/evidence/report/soc2.ts';
import { inThread } from '../../shared/evidence/verify-pool.ts';
import type { VerifyResult } from '../../shared/evidence/verify.ts';
import type { LogLeafReader } from '../../shared/ports.ts';
import { localCheckpointing } from '../../shared/transparency/local.ts';
import { leafHash, rangeProof } from '../../shared/transparency/merkle-tree.ts';
import { copyOf, editJson, tempDir } from './helpers.ts';
import { deniedSession, everyPass, signedLog } from './signed-log.ts';

const session = deniedSession;

const kinds = (r: VerifyResult) => r.problems.map((p) => p.kind);
const readManifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;

function fixDigest(dir: string, file: string): void {
  editJson(join(dir, 'manifest.json'), (m) => {
    const bytes = readFileSync(join(dir, file));
    m.files[file] = { ...m.files[file], sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
  });
}

/** report.html written again from the folder as it is (what verify derives it from), digest fixed. */
async function rewriteReport(dir: string): Promise<void> {
  const manifest = readManifest(dir);
  const r = await cleanPass({ dir, manifest, runner: inThread(), section: manifest.log ?? undefined, checkpoints: [], votePublicKeyPem: manifest.votes?.publicKeyPem });
  if (!r) throw new Error('rewriteReport: the folder is not clean enough to derive a report from');
  const verification = JSON.parse(readFileSync(join(dir, 'verification.json'), 'utf8'));
  let html = '';
  await writeReport(
    { write: async (text: string) => void (html += text) },
    {
      generatedAt: manifest.generatedAt,
      source: manifest.source,
      range: manifest.range,
      merkleRoot: manifest.merkle.root,
      merkleDefinition: MERKLE_DEFINITION,
      counts: r.derived.counts,
      policyVersions: r.derived.policyVersions,
      verification,
      soc2: soc2Criteria(r.derived.counts, r.derived.policyVersions, verification.ok === true),
      report: { sessionsEmbedded: manifest.report.sessionsEmbedded, sessionsTotal: manifest.report.sessionsTotal, note: manifest.report.note },
    } as Parameters<typeof writeReport>[1],
    r.derived.reportSessions.entries(),
  );
  writeFileSync(join(dir, 'report.html'), html);
  fixDigest(dir, 'report.html');
}

interface World {
  readonly log: ExportSource & LogLeafReader;
  readonly state: string;
  readonly from: Date;
  readonly to: Date;
  /** Sessions in log order; the first and the last are the ones an attacker hides. */
  readonly ids: readonly string[];
  readonly now: number;
}

async function world(t: ExecutionContext, opts: { signedBefore?: boolean } = {}): Promise<World> {
  const MIN = 60_000;
  // Times the test sets (the log's clock and the signer's), in a future no other test uses.
  const { T, log, state, setNow, sign } = await signedLog(t, Date.UTC(2100, 1, 1), 'gatehouse-run-bounds-state-');
  const ids: string[] = [];
  // Optionally a session an hour before the range, signed then: the run must start at that checkpoint.
  if (opts.signedBefore) {
    setNow(T - 60 * MIN);
    await log.append(`yesterday-${T}`, session('SELECT 0'));
    await sign(T - 55 * MIN);
  }
  for (const [i, name] of ['first-of-the-day', 'a', 'b', 'last-of-the-day'].entries()) {
    setNow(T + i * 1000);
    const id = `${name}-${T}`;
    await log.append(id, session(`SELECT '${name}'`));
    ids.push(id);
  }
  // The covering checkpoint, signed after the range ended (plus the margin).
  await sign(T + 10 * MIN);
  return { log: log as unknown as ExportSource & LogLeafReader, state, from: new Date(T - 10 * MIN), to: new Date(T + MIN), ids, now: T };
}

/**
 * The folder an owner would make to hide `hidden`: exported from a listing that leaves it out (the
 * export then names it session_missing), then the run narrowed to [start, end) so none of its
 * leaves is in it, the range proof recomputed from the log, verification.json made to say "ok",
 * the report written again, every digest fixed.
 */
async function hidingExport(t: ExecutionContext, w: World, hidden: string, run: (leaves: { index: number; sessionId: string }[]) => { start: number; end: number }): Promise<string> {
  const lying: ExportSource & LogLeafReader = {
    list: async (q) => (await w.log.list(q)).filter((s) => s.sessionId !== hidden),
    read: (id) => w.log.read(id),
    ...(w.log.readMany ? { readMany: (ids: readonly string[]) => w.log.readMany!(ids) } : {}),
    treeSize: () => w.log.treeSize(),
    leaves: (a, b) => w.log.leaves(a, b),
  };
  const checkpoints = (await localCheckpointing(w.state).store.list()).checkpoints;
  const made = join(tempDir(t), 'export');
  await exportEvidence(lying, { from: w.from, to: w.to, out: made, source: 'test', checkpoints, clock: () => new Date(w.now + 20 * 60_000) });
  const dir = copyOf(t, made);
  const m = readManifest(dir);
  const all = await w.log.leaves(0, m.log!.treeSize);
  const { start, end } = run(all);
  const lines = readFileSync(join(dir, 'leaves.jsonl'), 'utf8').split('\n').filter(Boolean);
  writeFileSync(join(dir, 'leaves.jsonl'), lines.filter((l) => { const i = JSON.parse(l).index as number; return i >= start && i < end; }).map((l) => `${l}\n`).join(''));
  const proof = rangeProof(all.map((l) => leafHash(l.hash)), start, end, m.log!.treeSize).map((h) => h.toString('hex'));
  editJson(join(dir, 'manifest.json'), (v) => Object.assign(v.log, { start, end, proof }));
  editJson(join(dir, 'verification.json'), (v) => Object.assign(v, { ok: true, chainsBroken: 0, logProblems: [] }));
  fixDigest(dir, 'leaves.jsonl');
  fixDigest(dir, 'verification.json');
  await rewriteReport(dir);
  return dir;
}


test('the honest export of the range verifies against the checkpoints (the attacks below start from it)', async (t) => {
  for (const signedBefore of [false, true]) {
    const w = await world(t, { signedBefore });
    const out = join(tempDir(t), 'export');
    const checkpoints = (await localCheckpointing(w.state).store.list()).checkpoints;
    await exportEvidence(w.log, { from: w.from, to: w.to, out, source: 'test', checkpoints, clock: () => new Date(w.now + 20 * 60_000) });
    const r = await everyPass(t, out, w.state);
    t.true(r.ok, JSON.stringify(r.problems));
    t.is(r.checked.sessions, 4);
    t.truthy(r.logRoot?.checkpoint);
  }
});

for (const signedBefore of [false, true]) {
  const label = signedBefore ? ' (a checkpoint signed before the range)' : ' (no checkpoint before the range)';
  test(`the first session of the range hidden by starting the run after its leaves: leaf_missing${label}`, async (t) => {
    const w = await world(t, { signedBefore });
    const hidden = w.ids[0]!;
    const dir = await hidingExport(t, w, hidden, (leaves) => ({ start: leaves.find((l) => l.sessionId === w.ids[1])!.index, end: leaves.length }));
    t.false(readManifest(dir).chainHeads.some((h) => h.sessionId === hidden), 'the session is not in the folder');
    const r = await everyPass(t, dir, w.state);
    t.false(r.ok, 'a session that started in the range is missing from the export');
    t.true(r.problems.some((p) => p.kind === 'leaf_missing' && p.field === 'log.start'), JSON.stringify(kinds(r)));
  });
}

test('the last session of the range hidden by ending the run before its leaves: leaf_missing', async (t) => {
  const w = await world(t);
  const hidden = w.ids.at(-1)!;
  const dir = await hidingExport(t, w, hidden, (leaves) => ({ start: 0, end: leaves.find((l) => l.sessionId === hidden)!.index }));
  t.false(readManifest(dir).chainHeads.some((h) => h.sessionId === hidden), 'the session is not in the folder');
  const r = await everyPass(t, dir, w.state);
  t.false(r.ok, 'a session that started in the range is missing from the export');
  t.true(r.problems.some((p) => p.kind === 'leaf_missing' && p.field === 'log.end'), JSON.stringify(kinds(r)));
});

// The covering checkpoint must be signed at least the clock margin after the range ends, as export
// picks it: a session dated up to the margin before a checkpoint may be appended after it
// (leaf_backdated allows that much), so a checkpoint signed within the margin after `to` does not
// show every session of the range. A folder proved against one left such a session out.
test('an export proved against a checkpoint signed within the clock margin after the range ends: not_covered', async (t) => {
  const MIN = 60_000;
  const { T, log, state, setNow, sign, checkpoints: signed } = await signedLog(t, Date.UTC(2100, 2, 1), 'gatehouse-run-bounds-state-');
  const from = new Date(T - 10 * MIN);
  const to = new Date(T + 10 * MIN);
  await log.append(`early-${T}`, session('SELECT 1'));
  // Signed 30 s after the range ended; then a session dated 1 s before the end is appended (a
  // gateway clock a little behind the signer's, or a slow group commit).
  await sign(to.getTime() + 30_000);
  const small = (await signed()).at(-1)!;
  setNow(to.getTime() - 1000);
  const late = `late-${T}`;
  await log.append(late, session('DELETE FROM orders'));
  await sign(to.getTime() + 20 * MIN);
  const checkpoints = await signed();
  // The honest export holds the late session (proved against the checkpoint signed 20 minutes after).
  const honest = join(tempDir(t), 'export');
  await exportEvidence(log as never, { from, to, out: honest, source: 'test', checkpoints, clock: () => new Date(T + 60 * MIN) });
  const ok = await everyPass(t, honest, state);
  t.true(ok.ok, JSON.stringify(ok.problems));
  t.is(ok.checked.sessions, 2);
  // The folder its owner makes instead: the log as of the small checkpoint, which has no leaf of the late session.
  const asOfSmall: ExportSource & LogLeafReader = {
    list: (q) => log.list(q),
    read: (id) => log.read(id),
    treeSize: async () => small.treeSize,
    leaves: (a, b) => log.leaves(a, Math.min(b, small.treeSize)),
  };
  const dir = join(tempDir(t), 'export');
  await exportEvidence(asOfSmall, { from, to, out: dir, source: 'test', checkpoints: [small], clock: () => new Date(T + 60 * MIN) });
  t.false(readManifest(dir).chainHeads.some((h) => h.sessionId === late), 'the late session is not in the folder');
  const r = await everyPass(t, dir, state);
  t.false(r.ok, 'a session dated inside the range is missing, and nothing signed after the margin shows the range complete');
  t.true(r.problems.some((p) => p.kind === 'not_covered' && p.field === 'log.checkpoint'), JSON.stringify(kinds(r)));
});
