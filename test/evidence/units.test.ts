// The building blocks of evidence, without a database: CSV, the Merkle tree as documented, the
// seeded sampler, escaping for HTML and for JSON inside <script>.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import test from 'ava';
import { csvCell, csvLine, readCsv, unguard } from '../../shared/evidence/csv.ts';
import { escapeHtml, scriptJson } from '../../shared/evidence/escape.ts';
import { merkleLeaf, merkleRoot } from '../../shared/evidence/merkle.ts';
import { mulberry32, pickIndices, seedState } from '../../shared/evidence/prng.ts';
import { ReportCollector } from '../../shared/evidence/report/collector.ts';
import type { Derived } from '../../shared/evidence/derive.ts';
import type { SessionEvent } from '../../shared/audit/events.ts';

test('CSV cells are quoted when they must be, and formula starts are neutralised', (t) => {
  t.is(csvCell('plain'), 'plain');
  t.is(csvCell('a,b'), '"a,b"');
  t.is(csvCell('say "hi"'), '"say ""hi"""');
  t.is(csvCell('two\nlines'), '"two\nlines"');
  t.is(csvCell(' padded'), '" padded"');
  t.is(csvCell(undefined), '');
  t.is(csvCell(42), '42');
  for (const start of ['=', '+', '-', '@', '\t', '\r']) t.true(csvCell(`${start}SUM(A1)`).replace(/^"/, '').startsWith(`'${start}`), JSON.stringify(start));
  t.is(csvCell('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
  t.is(unguard("'=1+1"), '=1+1');
  t.is(unguard("'plain"), "'plain");
});

test('CSV written is CSV read back, across chunk boundaries and quoted newlines', async (t) => {
  const rows = [
    ['time', 'sql'],
    ['2026-01-01', 'SELECT 1'],
    ['x', 'multi\r\nline, with "quotes"'],
    ['', '=1+1'],
  ];
  const text = rows.map(csvLine).join('');
  // One character per chunk: the reader must carry state between chunks.
  const read: string[][] = [];
  for await (const r of readCsv(Readable.from([...text]))) read.push(r);
  t.deepEqual(read.map((r) => r.map(unguard)), rows);
});

test('the Merkle root is the documented tree: prefixed leaves, pairwise, odd node promoted', (t) => {
  const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
  const leaf = (id: string, head: string) => sha(Buffer.from([0]), Buffer.from(`${id}:${head}`, 'utf8'));
  const node = (l: Buffer, r: Buffer) => sha(Buffer.from([1]), l, r);
  const [a, b, c] = [leaf('s1', 'h1'), leaf('s2', 'h2'), leaf('s3', 'h3')];
  t.deepEqual(merkleLeaf('s1', 'h1'), a);
  t.is(merkleRoot([]), createHash('sha256').digest('hex'));
  t.is(merkleRoot([a]), a.toString('hex'));
  t.is(merkleRoot([a, b]), node(a, b).toString('hex'));
  t.is(merkleRoot([a, b, c]), node(node(a, b), c).toString('hex'), 'c is promoted, then paired');
  t.not(merkleRoot([b, a]), merkleRoot([a, b]), 'order matters');
});

test('the sampler is reproducible, distinct, in range, and seed-dependent', (t) => {
  const pick = (seed: string, n: number, N: number) => pickIndices(n, N, mulberry32(seedState(seed)));
  const one = pick('audit-2026-q1', 25, 1000);
  t.deepEqual(pick('audit-2026-q1', 25, 1000), one);
  t.is(new Set(one).size, 25);
  t.true(one.every((i) => i >= 0 && i < 1000));
  t.deepEqual(one, [...one].sort((x, y) => x - y));
  t.notDeepEqual(pick('audit-2026-q2', 25, 1000), one);
  t.deepEqual(pick('x', 10, 4), [0, 1, 2, 3], 'n ≥ N takes everything');
  // Pinned: a change to the algorithm would silently change every auditor's sample.
  t.is(seedState('gatehouse'), createHash('sha256').update('gatehouse-sample/1:gatehouse').digest().readUInt32BE(0));
  // The first outputs of the reference mulberry32 (Tommy Ettinger's, as published by bryc) for state 1.
  const r = mulberry32(1);
  t.deepEqual([r(), r(), r()].map((x) => x.toFixed(10)), ['0.6270739406', '0.0027357212', '0.5274470400']);
});

test('escaping: HTML text, and JSON that cannot close its <script>', (t) => {
  t.is(escapeHtml(`<img src=x onerror="a('b')">&`), '&#60;img src=x onerror=&#34;a(&#39;b&#39;)&#34;&#62;&#38;');
  const hostile = { sql: `</script><script>alert(1)</script><!-- \u2028` };
  const s = scriptJson(hostile);
  t.false(s.includes('<'));
  t.false(s.includes('>'));
  t.deepEqual(JSON.parse(s), hostile);
});

test('the report keeps the most recent sessions within its count and byte budgets', (t) => {
  const derived = (i: number) => ({ facts: { sessionId: `s${i}` }, approvals: [] }) as unknown as Derived;
  const event = (i: number, size: number) => [{ sessionId: `s${i}`, seq: 0, type: 'request', at: '', data: { pad: 'x'.repeat(size) }, prevHash: null, hash: '' }] as unknown as SessionEvent[];
  const byCount = new ReportCollector({ maxSessions: 3, maxBytes: 1e9, maxSessionBytes: 1e9 });
  for (let i = 0; i < 5000; i++) byCount.add(derived(i), event(i, 10), []);
  t.is(byCount.total, 5000);
  t.deepEqual(byCount.entries().map((e) => JSON.parse(e).f.sessionId), ['s4997', 's4998', 's4999']);
  const byBytes = new ReportCollector({ maxSessions: 100, maxBytes: 5000, maxSessionBytes: 1e9 });
  for (let i = 0; i < 50; i++) byBytes.add(derived(i), event(i, 1000), []);
  t.true(byBytes.size >= 3 && byBytes.size <= 5, String(byBytes.size));
  t.is(JSON.parse(byBytes.entries().at(-1)!).f.sessionId, 's49');
  const big = new ReportCollector({ maxSessions: 10, maxBytes: 1e9, maxSessionBytes: 500 });
  big.add(derived(1), event(1, 10_000), []);
  const entry = JSON.parse(big.entries()[0]!);
  t.true(entry.eventsOmitted);
  t.is(entry.events, undefined);
});

test('MerkleAccumulator gives merkleRoot for every size, one leaf at a time', async (t) => {
  const { MerkleAccumulator } = await import('../../shared/evidence/merkle.ts');
  const leaves: Buffer[] = [];
  for (let n = 0; n <= 300; n++) {
    const acc = new MerkleAccumulator();
    for (const l of leaves) acc.add(l);
    t.is(acc.root(), merkleRoot(leaves), `n = ${n}`);
    leaves.push(merkleLeaf(`s${n}`, createHash('sha256').update(String(n)).digest('hex')));
  }
});

test('the streamed manifest is JSON.stringify(manifest, null, 1), byte for byte, for 0, 1 and many chain heads', async (t) => {
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { ChainHeadsSpool, writeManifest } = await import('../../shared/evidence/manifest-writer.ts');
  const { HashedFile } = await import('../../shared/evidence/files.ts');
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-manifest-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const n of [0, 1, 3, 2000]) {
    const heads = Array.from({ length: n }, (_, i) => ({ sessionId: `s-${i}-"é😀\u2028`, startedAt: `2026-01-01T00:00:${String(i % 60).padStart(2, '0')}.000Z`, events: i, head: createHash('sha256').update(String(i)).digest('hex') }));
    const before = { format: 'gatehouse-evidence/1', generatedAt: 'x', counts: { sessions: n, nested: { a: [1, { b: null }] } }, files: {} };
    const after = { log: null, votes: { publicKeyPem: '-----BEGIN PUBLIC KEY-----\nAA\n-----END PUBLIC KEY-----\n', fingerprint: 'f' } };
    const spool = new ChainHeadsSpool(join(dir, `heads-${n}`));
    for (const h of heads) await spool.add(h);
    const file = new HashedFile(join(dir, `manifest-${n}.json`));
    await writeManifest(file, before as never, spool, after as never);
    const { sha256 } = await file.close();
    const want = `${JSON.stringify({ ...before, chainHeads: heads, ...after }, null, 1)}\n`;
    t.is(readFileSync(join(dir, `manifest-${n}.json`), 'utf8'), want, `n = ${n}`);
    t.is(sha256, createHash('sha256').update(want).digest('hex'));
  }
});
