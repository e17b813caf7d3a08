// verify with worker threads answers exactly as verify without them — on a clean export and on
// exports tampered with as an attacker would (edited, deleted, duplicated, reordered, re-encoded
// lines, a forged leaf): same problems, same order, same lines. Real export of real sessions.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { verifyEvidence, type VerifyResult } from '../../shared/evidence/verify.ts';
import { batchedHash } from '../../shared/evidence/batched-hash.ts';
import { DESK_PUBLIC_KEY, startEvidenceFixture, type EvidenceFixture } from './fixture.ts';
import { copyOf } from './helpers.ts';
import { EDITS } from './tampers.ts';

let fx: EvidenceFixture;
let root: string;
let clean: string;
test.before(async () => {
  fx = await startEvidenceFixture();
  root = mkdtempSync(join(tmpdir(), 'gatehouse-workers-'));
  clean = join(root, 'export');
  await exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from: fx.from, to: fx.to, out: clean, source: 'test' });
});
test.after.always(async () => {
  await fx?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

const answer = (r: VerifyResult) => ({ ...r, durationMs: 0, eventsPerSecond: 0 });

for (const [name, edit] of Object.entries(EDITS)) {
  test(`workers change no answer: ${name}`, async (t) => {
    const dir = copyOf(t, clean);
    edit(dir);
    const alone = await verifyEvidence(dir, { workers: 0 });
    const pooled = await verifyEvidence(dir, { workers: 2 });
    t.deepEqual(answer(pooled), answer(alone));
    if (name === 'the desk key swapped in the manifest') t.deepEqual(alone.problems.map((p) => p.kind), ['vote_signature_invalid']);
    if (name.includes('does not fit its schema') || name.includes('principal is a string')) t.true(alone.problems.some((p) => p.kind === 'event_schema'), JSON.stringify(alone.problems));
    if (name.includes('never writes')) t.true(alone.problems.some((p) => p.kind === 'event_modified' && /type Gatehouse never writes/.test(p.message)), JSON.stringify(alone.problems));
    if (name === 'clean') t.true(alone.ok, JSON.stringify(alone.problems));
    else t.false(alone.ok);
  });
}

test('batchedHash is sha256 of each piece in turn, lone surrogates at piece ends included', (t) => {
  const pieces = ['a\n', '\ud83d', '\ude00', 'x'.repeat(70_000), '\ud800', 'é\n', '\udc00z', '', '\ud83d\ude00\n', '\ud83d'];
  for (let n = 0; n <= pieces.length; n++) {
    const one = createHash('sha256');
    const batched = batchedHash();
    for (const p of pieces.slice(0, n)) {
      one.update(p, 'utf8');
      batched.update(p);
    }
    t.is(batched.digest(), one.digest('hex'), `first ${n} pieces`);
  }
  // And a naive concatenation would differ (the pair would form): the guard is what makes them equal.
  t.not(createHash('sha256').update('\ud83d\ude00', 'utf8').digest('hex'), createHash('sha256').update('\ud83d', 'utf8').update('\ude00', 'utf8').digest('hex'));
});
