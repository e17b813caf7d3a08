// verify with worker threads answers exactly as verify without them — on a clean export and on
// exports tampered with as an attacker would (edited, deleted, duplicated, reordered, re-encoded
// lines, a forged leaf): same problems, same order, same lines. Real export of real sessions.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { verifyEvidence, type VerifyResult } from '../../shared/evidence/verify.ts';
import { batchedHash } from '../../shared/evidence/batched-hash.ts';
import { DESK_PUBLIC_KEY, startEvidenceFixture, type EvidenceFixture } from './fixture.ts';
import { copyOf } from './helpers.ts';
import { hashEvent } from '../../shared/audit/chain.ts';

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

/**
 * The first event of `type` rewritten by `edit` and hashed again (its own hash holds, so only the
 * schema and type checks can tell): the workers' SCHEMA_FITS bit must not vouch for it.
 */
function rehashFirst(d: string, type: string, edit: (e: Record<string, any>) => void): void {
  editLines(join(d, 'events.jsonl'), (l) => {
    let done = false;
    return l.map((x) => {
      const e = JSON.parse(x);
      if (done || e.type !== type) return x;
      done = true;
      edit(e);
      const { hash: _hash, index, ...rest } = e;
      void index;
      return JSON.stringify({ ...e, hash: hashEvent(rest) });
    });
  });
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
  // The workers check each event's schema too: a re-hashed event that does not fit it, or of a type never written.
  'a re-hashed decision that does not fit its schema': (d) => rehashFirst(d, 'decision', (e) => (e.data.approvers = 'group:dba')),
  'a re-hashed request whose principal is a string': (d) => rehashFirst(d, 'request', (e) => (e.data.principal = 'alice')),
  'a re-hashed event of a type Gatehouse never writes': (d) => rehashFirst(d, 'analysis', (e) => (e.type = 'analysis.forged')),
  'a re-hashed decision whose data has an own __proto__ key': (d) => rehashFirst(d, 'decision', (e) => (e.data = JSON.parse('{"__proto__":{"action":"allow"},"approvers":"x"}'))),
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
