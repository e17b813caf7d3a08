// verify with worker threads answers exactly as verify without them — on a clean export and on
// exports tampered with as an attacker would (edited, deleted, duplicated, reordered, re-encoded
// lines, a forged leaf): same problems, same order, same lines. Real export of real sessions.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { verifyEvidence, type VerifyResult } from '../../shared/evidence/verify.ts';
import { DESK_PUBLIC_KEY, startEvidenceFixture, type EvidenceFixture } from './fixture.ts';
import { copyOf } from './helpers.ts';

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

function editLines(path: string, edit: (lines: string[]) => string[], sep = '\n'): void {
  const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean);
  writeFileSync(path, edit(lines).join(sep) + sep);
}

const EDITS: Record<string, (dir: string) => void> = {
  clean: () => {},
  'an event edited': (d) => editLines(join(d, 'events.jsonl'), (l) => l.map((x, i) => (i === 3 ? x.replace('"seq":', '"extra":1,"seq":') : x))),
  'an event deleted': (d) => editLines(join(d, 'events.jsonl'), (l) => l.filter((_, i) => i !== 5)),
  'an event duplicated': (d) => editLines(join(d, 'events.jsonl'), (l) => [...l.slice(0, 7), l[6]!, ...l.slice(7)]),
  'two events swapped': (d) => editLines(join(d, 'events.jsonl'), (l) => [l[1]!, l[0]!, ...l.slice(2)]),
  'a line that is not an event': (d) => editLines(join(d, 'events.jsonl'), (l) => [...l.slice(0, 2), '{"not":"an event"}', 'garbage', ...l.slice(2)]),
  'CRLF line ends': (d) => editLines(join(d, 'events.jsonl'), (l) => l, '\r\n'),
  'a lone CR inside the file': (d) => editLines(join(d, 'events.jsonl'), (l) => [l.slice(0, 3).join('\r'), ...l.slice(3)]),
  'a leaf forged': (d) => editLines(join(d, 'leaves.jsonl'), (l) => l.map((x, i) => (i === 2 ? x.replace(/"hash":"[0-9a-f]{4}/, '"hash":"0000') : x))),
  'a leaf deleted': (d) => editLines(join(d, 'leaves.jsonl'), (l) => l.filter((_, i) => i !== 4)),
  // The workers verify vote signatures too: with another desk key in the manifest, none holds.
  'the desk key swapped in the manifest': (d) => {
    const m = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8'));
    m.votes.publicKeyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    writeFileSync(join(d, 'manifest.json'), JSON.stringify(m, null, 1));
  },
};

for (const [name, edit] of Object.entries(EDITS)) {
  test(`workers change no answer: ${name}`, async (t) => {
    const dir = copyOf(t, clean);
    edit(dir);
    const alone = await verifyEvidence(dir, { workers: 0 });
    const pooled = await verifyEvidence(dir, { workers: 2 });
    t.deepEqual(answer(pooled), answer(alone));
    if (name === 'the desk key swapped in the manifest') t.deepEqual(alone.problems.map((p) => p.kind), ['vote_signature_invalid']);
    if (name === 'clean') t.true(alone.ok, JSON.stringify(alone.problems));
    else t.false(alone.ok);
  });
}
