// The export's file plumbing: HashedFile (synchronous chunked writes, failures reported, never a
// silent partial file) and RecentSessions (the report's last sessions read back from
// events.jsonl by byte offsets, multibyte text included).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { HashedFile } from '../../shared/evidence/files.ts';
import { RecentSessions } from '../../shared/evidence/recent-sessions.ts';

function dir(t: import('ava').ExecutionContext): string {
  const d = mkdtempSync(join(tmpdir(), 'gatehouse-files-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('HashedFile writes every byte in order, across chunk boundaries, and digests exactly them', async (t) => {
  const path = join(dir(t), 'f.jsonl');
  const f = new HashedFile(path);
  let want = '';
  for (let i = 0; i < 5000; i++) {
    const line = `${JSON.stringify({ i, s: 'é😀\u2028'.repeat(i % 40), pad: 'x'.repeat(i % 300) })}\n`;
    want += line;
    await f.write(line);
  }
  const { sha256, bytes } = await f.close();
  t.is(readFileSync(path, 'utf8'), want);
  t.is(bytes, Buffer.byteLength(want));
  t.is(sha256, createHash('sha256').update(want).digest('hex'));
  t.is((await f.close()).sha256, sha256, 'close answers the same again');
});

test('HashedFile never writes over an existing file, and reports a path it cannot create', async (t) => {
  const d = dir(t);
  writeFileSync(join(d, 'taken'), 'evidence');
  const taken = new HashedFile(join(d, 'taken'));
  await t.throwsAsync(taken.write('x'), { code: 'EEXIST' });
  await t.throwsAsync(taken.close(), { code: 'EEXIST' });
  t.is(readFileSync(join(d, 'taken'), 'utf8'), 'evidence');
  const nowhere = new HashedFile(join(d, 'no-such-dir', 'f'));
  await t.throwsAsync(nowhere.close(), { code: 'ENOENT' });
});

test('RecentSessions reads back exactly the last sessions written, oldest first', async (t) => {
  const d = dir(t);
  for (const [max, n] of [[3, 10], [5, 5], [5, 2], [1, 1], [0, 4], [4, 0]] as const) {
    const path = join(d, `events-${max}-${n}.jsonl`);
    const f = new HashedFile(path);
    const recent = new RecentSessions(max);
    const written: string[] = [];
    for (let i = 0; i < n; i++) {
      const lines = `${JSON.stringify({ session: i, text: 'ü😀'.repeat(i * 7), sep: '\u2028' })}\n`.repeat(1 + (i % 3));
      written.push(lines);
      await f.write(lines);
      recent.add(lines, [], i % 2 ? [{ kind: 'hash_mismatch', seq: i }] : []);
    }
    await f.close();
    const back = [...recent.read(path)];
    const want = written.slice(Math.max(0, n - max));
    t.deepEqual(back.map((s) => s.eventLines), max > 0 ? want : [], `max ${max}, n ${n}`);
    t.deepEqual(back.map((s) => s.problems.length), max > 0 ? want.map((_, k) => ((n - want.length + k) % 2 ? 1 : 0)) : []);
  }
});

test('RecentSessions refuses an events.jsonl shorter than what was written to it', async (t) => {
  const path = join(dir(t), 'events.jsonl');
  const f = new HashedFile(path);
  const recent = new RecentSessions(2);
  for (const lines of ['{"a":1}\n', '{"b":2}\n']) {
    await f.write(lines);
    recent.add(lines, [], []);
  }
  await f.close();
  truncateSync(path, 10);
  t.throws(() => [...recent.read(path)], { message: /ends before/ });
});
