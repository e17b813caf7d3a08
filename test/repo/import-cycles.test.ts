// No folder cycles in shared/ (issue 17 item 5): the bots' request path, the review desk and every
// step depend on each other in one direction only. The graph and its rules are in
// scripts/import-graph.ts (folders are nodes, files directly in shared/ are nodes of their own,
// every import counts, type-only ones too).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { cycles, describeCycle, importGraph } from '../../scripts/import-graph.ts';

const SHARED = fileURLToPath(new URL('../../shared', import.meta.url));

// Cycles allowed for now, each with the reason and who removes it. Empty: keep it so.
const KNOWN: readonly (readonly string[])[] = [];

test('shared/ has no folder-level import cycle', (t) => {
  const graph = importGraph(SHARED);
  const found = cycles(graph).filter((c) => !KNOWN.some((k) => k.length === c.length && k.every((n) => c.includes(n))));
  t.deepEqual(found.map((c) => describeCycle(graph, c)), []);
});

test('the review desk and describe stand beside the gateway: neither imports it', (t) => {
  const graph = importGraph(SHARED);
  for (const folder of ['approvals/', 'describe/', 'kernel/']) {
    t.false(graph.get(folder)?.has('gateway.ts') ?? false, `${folder} imports gateway.ts`);
  }
  t.true(graph.get('gateway.ts')?.has('kernel/'), 'the gateway uses the kernel');
  t.true(graph.get('approvals/')?.has('kernel/'), 'the review desk uses the kernel');
});

/** A throwaway tree of files, for the detector's own tests. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-import-graph-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

test('the detector finds a cycle made of type-only imports, re-exports, multi-line and dynamic imports', (t) => {
  const variants: Record<string, string>[] = [
    { 'a/x.ts': "import type { Y } from '../b/y.ts';\n", 'b/y.ts': "import { x } from '../a/x.ts';\n" },
    { 'a/x.ts': "export * from '../b/y.ts';\n", 'b/y.ts': "export { type X } from '../a/index.ts';\n", 'a/index.ts': '' },
    { 'a/x.ts': "import {\n  type Y,\n  y,\n} from\n  '../b/y.ts';\n", 'b/y.ts': "const m = await import('../a/x.ts');\n" },
    // Through a file at the top: a → root.ts → b → a.
    { 'a/x.ts': "import '../root.ts';\n", 'root.ts': "import './b/y.ts';\n", 'b/y.ts': "import type { X } from '../a/x.ts';\n" },
  ];
  for (const files of variants) {
    const root = tree(files);
    try {
      const found = cycles(importGraph(root));
      t.is(found.length, 1, JSON.stringify(files));
      t.true(found[0]!.includes('a/') && found[0]!.includes('b/'), JSON.stringify(found));
      t.regex(describeCycle(importGraph(root), found[0]!), /a\/ → /);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
});

test('the detector ignores imports in comments and strings, packages, imports inside one folder, and one-way edges', (t) => {
  const root = tree({
    'a/x.ts': "// import '../b/y.ts'\nconst s = \"import '../b/y.ts'\";\nimport './z.ts';\nimport 'zod';\nimport '../c/w.ts';\n",
    'a/z.ts': "import './x.ts';\n",
    'b/y.ts': "import '../a/x.ts';\n",
    'c/w.ts': '',
  });
  try {
    t.deepEqual(cycles(importGraph(root)), []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
