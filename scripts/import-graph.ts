// The folder-level import graph of shared/, and its cycles (issue 17 item 5). One node per
// top-level folder (shared/sql, shared/approvals, …); each file directly in shared/ (gateway.ts,
// ports.ts, errors.ts, …) is a node of its own, because they are different layers: errors.ts is
// imported by everything, gateway.ts imports almost everything. Every import counts — type-only
// imports, re-exports and dynamic import() too: a cycle of types is still two folders that cannot
// be understood, tested or moved one without the other.
//
// `npx tsx scripts/import-graph.ts [dir]` prints the cycles (exit 1 if any); the test
// test/repo/import-cycles.test.ts fails on them.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

/** from → to → the files of `from` that import something of `to`. */
export type ImportGraph = Map<string, Map<string, string[]>>;

/** The node a file belongs to: its top-level folder under root, or the file itself at the top. */
export function nodeOf(root: string, file: string): string {
  const parts = relative(root, file).split(sep);
  return parts.length > 1 ? `${parts[0]}/` : parts[0]!;
}

export function importGraph(root: string): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of sourceFiles(root)) {
    const from = nodeOf(root, file);
    // The compiler's own scanner: imports in comments or strings are not imports.
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue; // a package
      const target = resolve(dirname(file), fileName);
      if (relative(root, target).startsWith('..')) continue; // outside shared/
      const to = nodeOf(root, target);
      if (to === from) continue;
      const edges = graph.get(from) ?? new Map<string, string[]>();
      graph.set(from, edges);
      const files = edges.get(to) ?? [];
      if (!files.includes(relative(root, file))) files.push(relative(root, file));
      edges.set(to, files);
    }
  }
  return graph;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.(m?ts|tsx)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Strongly connected components with more than one node (Tarjan): each is at least one cycle. */
export function cycles(graph: ImportGraph): string[][] {
  const nodes = new Set<string>([...graph.keys(), ...[...graph.values()].flatMap((e) => [...e.keys()])]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) out.push(component.sort());
    }
  };
  for (const v of [...nodes].sort()) if (!index.has(v)) visit(v);
  return out;
}

/** One component as the edges inside it, each with the files that make it. */
export function describeCycle(graph: ImportGraph, component: readonly string[]): string {
  const lines = [`cycle among ${component.join(', ')}:`];
  for (const from of component) {
    for (const [to, files] of graph.get(from) ?? []) {
      if (component.includes(to)) lines.push(`  ${from} → ${to}  (${files.join(', ')})`);
    }
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = resolve(process.argv[2] ?? 'shared');
  const graph = importGraph(root);
  const found = cycles(graph);
  for (const c of found) console.log(describeCycle(graph, c));
  if (found.length === 0) console.log(`no folder cycles in ${relative(process.cwd(), root) || '.'}`);
  process.exitCode = found.length > 0 ? 1 : 0;
}
