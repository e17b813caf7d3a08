// evidence sample: reproducible (same seed, same statements, same pages), seed-dependent, and
// each page readable and safe — the request, identity, approvals before execution, masking and
// the result digest — written from an export of real sessions.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { sampleEvidence } from '../../shared/evidence/sample.ts';
import { verifyEvidence } from '../../shared/evidence/verify.ts';
import { DBA, startEvidenceFixture, type EvidenceFixture, DESK_PUBLIC_KEY } from './fixture.ts';
import { copyOf, runCli, tempDir } from './helpers.ts';

let fx: EvidenceFixture;
test.before(async () => {
  fx = await startEvidenceFixture();
});
test.after.always(async () => {
  await fx?.close();
});

async function freshExport(t: ExecutionContext): Promise<string> {
  const out = join(tempDir(t), 'export');
  await exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from: fx.from, to: fx.to, out, source: 'test' });
  return out;
}

test('the same seed picks the same statements and writes the same pages; another seed picks others', async (t) => {
  const dir = await freshExport(t);
  const a = await sampleEvidence(dir, { n: 5, seed: 'audit-2026-q1', out: join(tempDir(t), 'a') });
  const b = await sampleEvidence(dir, { n: 5, seed: 'audit-2026-q1', out: join(tempDir(t), 'b') });
  t.is(a.picked.length, 5);
  t.is(a.population, fx.made.length);
  t.deepEqual(b.picked, a.picked);
  for (const name of readdirSync(a.out)) {
    if (name === 'sample.json') continue;
    t.is(readFileSync(join(b.out, name), 'utf8'), readFileSync(join(a.out, name), 'utf8'), name);
  }
  const c = await sampleEvidence(dir, { n: 5, seed: 'audit-2026-q2', out: join(tempDir(t), 'c') });
  t.notDeepEqual(c.picked.map((p) => p.sessionId), a.picked.map((p) => p.sessionId));
  // A second export of the same sessions samples the same way: the sample depends on the data.
  const again = await sampleEvidence(await freshExport(t), { n: 5, seed: 'audit-2026-q1', out: join(tempDir(t), 'd') });
  t.deepEqual(again.picked.map((p) => p.sessionId), a.picked.map((p) => p.sessionId));
});

test('each page shows request, identity, approvals before execution, masking and the result digest', async (t) => {
  const dir = await freshExport(t);
  const all = await sampleEvidence(dir, { n: 100, seed: 'everything', out: join(tempDir(t), 'all') });
  t.is(all.picked.length, fx.made.length, 'n above the population takes it all');
  const pageOf = (kind: string) => readFileSync(join(all.out, all.picked.find((p) => p.sessionId === fx.byKind(kind).sessionId)!.page), 'utf8');

  const redeemed = pageOf('redeemed');
  t.true(redeemed.includes(DBA));
  t.true(redeemed.includes('checked the WHERE clause: one row'));
  t.regex(redeemed, /Every granted approval is recorded before execution started/);
  t.regex(redeemed, /This session redeemed approval <code>[0-9a-f-]{36}<\/code>/);

  const read = pageOf('read');
  t.regex(read, /<th>Agent model<\/th><td>gemini-2\.5-pro-002<\/td>/);
  t.regex(read, /<th>Match<\/th><td><span class="ok">yes<\/span>/, 'the stored rows still give the recorded digest');
  t.regex(read, /No approval was required/);

  const masked = pageOf('masked');
  t.regex(masked, /<code>email<\/code> → email \(provenance: public\.customers\.email\)/);

  const hostile = pageOf('hostile');
  t.false(hostile.includes('<script>alert'));
  t.false(hostile.includes('<img'));
  t.true(hostile.includes('&#60;/script&#62;&#60;script&#62;alert(1)&#60;/script&#62;'));
  for (const name of readdirSync(all.out).filter((n) => n.endsWith('.html'))) {
    t.false(readFileSync(join(all.out, name), 'utf8').includes('<script'), `${name} has no script at all`);
  }
  const index = readFileSync(join(all.out, 'index.html'), 'utf8');
  t.regex(index, /mulberry32/);
  t.true(index.includes(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).merkle.root));
});

test('sampling refuses an export whose population.csv is not the one the manifest names', async (t) => {
  const dir = copyOf(t, await freshExport(t));
  const path = join(dir, 'population.csv');
  writeFileSync(path, readFileSync(path, 'utf8').replace(',deny,', ',allow,'));
  await t.throwsAsync(sampleEvidence(dir, { n: 3, seed: 's' }), { message: /population\.csv is not the file the manifest names/ });
});

test('the CLI writes DIR/samples/, and the export still verifies with the samples beside it', async (t) => {
  const dir = await freshExport(t);
  const r = await runCli(['evidence', 'sample', '--n', '3', '--seed', 'cli-seed', dir, '--json']);
  t.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.is(out.picked.length, 3);
  t.is(out.out, join(dir, 'samples'));
  t.deepEqual(readdirSync(join(dir, 'samples')).sort(), [...out.picked.map((p: any) => p.page), 'index.html', 'sample.json'].sort());
  const v = await verifyEvidence(dir);
  t.true(v.ok, JSON.stringify(v.problems));
  t.deepEqual(v.warnings, []);
  const again = await runCli(['evidence', 'sample', '--n', '3', '--seed', 'cli-seed', dir]);
  t.is(again.code, 1, 'an existing sample is never overwritten');
  t.regex(again.stderr, /not empty/);
});
