// A clone is the whole project: nothing tracked may read, cite or need a folder beside the clone
// (the `shared/` that once sat next to it, with the design and the corpus). `../shared/…` is also a
// legitimate path *inside* the repository (bin/ → shared/), so each relative path is resolved from
// the file that contains it, and only paths that land outside the repository fail.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' })
  .split('\0')
  .filter((f) => f !== '' && existsSync(join(root, f)));
// This file names what it looks for, so it is the one file not scanned.
const SELF = 'test/repo/self-contained.test.ts';
const texts = tracked
  .filter((f) => !/\.(gz|png|jpg|ico|tar)$/.test(f) && f !== SELF)
  .map((f) => ({ file: f, text: readFileSync(join(root, f), 'utf8') }));

/** Relative paths (`../x`, `../../x`, `./x/..`) that climb to a folder named shared, anywhere in a file. */
const CLIMB_TO_SHARED = /(?:\.\.?\/)*\.\.\/shared\b/g;

/** Where a reference found in `file` points; README-style docs are read from the repository root too. */
function outside(file: string, ref: string): boolean {
  const bases = [dirname(join(root, file))];
  // Markdown links resolve from the file; commands in a README's code blocks run from the root.
  if (/\.md$/.test(file)) bases.push(root);
  // new URL('../x', import.meta.url) resolves from the file's folder, like a relative import.
  return bases.every((b) => {
    const target = resolve(b, ref);
    return relative(root, target).startsWith('..') || !(target === root || target.startsWith(root + sep));
  });
}

test('the repository has files to check (git ls-files works here)', (t) => {
  t.true(tracked.includes('package.json'));
  t.true(texts.length > 100);
});

test('no tracked file references a shared/ folder outside the repository', (t) => {
  const offenders: string[] = [];
  for (const { file, text } of texts) {
    for (const m of text.matchAll(CLIMB_TO_SHARED)) {
      if (outside(file, m[0])) offenders.push(`${file}: ${text.slice(Math.max(0, m.index! - 40), m.index! + 60).replace(/\n/g, ' ')}`);
    }
  }
  t.deepEqual(offenders, []);
});

test('nothing names the old design document or absolute paths of the machine it lived on', (t) => {
  const offenders = texts
    .filter(({ text }) => /DESIGN §|DESIGN\.md|\/work\/shared|shared\/corpus/.test(text))
    .map(({ file }) => file);
  t.deepEqual(offenders, []);
});

test('the checker itself finds what it must: a climb out of the repository, from any depth', (t) => {
  t.true(outside('test/sql/corpus.test.ts', '../../../shared'));
  t.true(outside('README.md', '../shared'));
  t.true(outside('bench/analyze.ts', '../../shared'));
  t.false(outside('bin/gatehouse.ts', '../shared'));
  t.false(outside('test/policy/decide.test.ts', '../../shared'));
  t.deepEqual([...'see ../shared/DESIGN.md and ../../shared/corpus/'.matchAll(CLIMB_TO_SHARED)].map((m) => m[0]), ['../shared', '../../shared']);
});

test('the design, the policy example and the corpus are inside the repository, and tracked', (t) => {
  for (const f of ['docs/design.md', 'docs/policy.example.yaml', 'test/fixtures/pg-regress-statements.jsonl.gz', 'test/fixtures/README.md']) {
    t.true(tracked.includes(f), `${f} is not tracked`);
  }
  t.regex(readFileSync(join(root, 'test/fixtures/README.md'), 'utf8'), /PostgreSQL License[\s\S]*Permission to use, copy, modify, and distribute/);
});

test('every docs/design.md#anchor cited in the code is a heading of docs/design.md', (t) => {
  const design = readFileSync(join(root, 'docs/design.md'), 'utf8');
  // GitHub's anchors: lower case, punctuation dropped, spaces to hyphens.
  const anchors = new Set(
    [...design.matchAll(/^#{1,4} (.+)$/gm)].map((m) => m[1]!.trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')),
  );
  const cited = new Set<string>();
  for (const { text } of texts) for (const m of text.matchAll(/design\.md#([a-z0-9-]+)/g)) cited.add(m[1]!);
  t.true(cited.size >= 8, `only ${cited.size} anchors cited`);
  t.deepEqual([...cited].filter((a) => !anchors.has(a)), []);
});

test('README and docs/design.md point at the one policy example the tests load', (t) => {
  for (const f of ['README.md', 'docs/design.md']) t.regex(readFileSync(join(root, f), 'utf8'), /docs\/policy\.example\.yaml|policy\.example\.yaml/, f);
});
