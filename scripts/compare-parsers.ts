// The measurement behind docs/design.md#parser: libpg-query (PostgreSQL's own parser) against
// node-sql-parser over the PostgreSQL regression corpus. Run: npx tsx scripts/compare-parsers.ts
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { loadModule, parseSync } from 'libpg-query';
import nodeSqlParser from 'node-sql-parser';

const CORPUS = new URL('../test/fixtures/pg-regress-statements.jsonl.gz', import.meta.url);
const INJECTION = "SELECT '\\'; DELETE FROM users; --'";

interface Other {
  astify(sql: string, options: { database: string }): unknown;
}

await loadModule();
const other = new (nodeSqlParser as unknown as { Parser: new () => Other }).Parser();
const sqls = gunzipSync(readFileSync(CORPUS))
  .toString('utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => (JSON.parse(l) as { sql: string }).sql);

let pgParsed = 0;
let otherParsed = 0;
const pgUs: number[] = [];
const otherUs: number[] = [];
const hiddenWrites: Record<string, number> = {};
const examples: string[] = [];

// One parser at a time, so neither's timing carries the other's cache and GC churn.
const trees: unknown[] = [];
for (const sql of sqls) {
  const start = process.hrtime.bigint();
  try {
    trees.push(parseSync(sql).stmts?.[0]?.stmt);
    pgParsed++;
  } catch {
    trees.push(undefined);
  }
  pgUs.push(Number(process.hrtime.bigint() - start) / 1000);
}

sqls.forEach((sql, i) => {
  let ast: unknown;
  const start = process.hrtime.bigint();
  try {
    ast = other.astify(sql, { database: 'postgresql' });
    otherParsed++;
  } catch {
    ast = undefined;
  }
  otherUs.push(Number(process.hrtime.bigint() - start) / 1000);

  if (isPlainSelect(ast)) {
    const write = writeIn(trees[i]);
    if (write !== undefined) {
      hiddenWrites[write] = (hiddenWrites[write] ?? 0) + 1;
      if (examples.length < 5) examples.push(sql.replace(/\s+/g, ' ').slice(0, 100));
    }
  }
});

const injectionOther = describeOther(INJECTION);
let injectionPg: string;
try {
  injectionPg = `${parseSync(INJECTION).stmts?.length ?? 0} statements: ${(parseSync(INJECTION).stmts ?? []).map((s) => Object.keys(s.stmt ?? {})[0]).join(', ')}`;
} catch (e) {
  injectionPg = `error: ${(e as Error).message}`;
}

const pct = (n: number) => `${((100 * n) / sqls.length).toFixed(1)}%`;
const hidden = Object.values(hiddenWrites).reduce((a, b) => a + b, 0);
const rows: [string, string, string][] = [
  ['', 'libpg-query 18', 'node-sql-parser'],
  ['statements parsed', `${pgParsed} (${pct(pgParsed)})`, `${otherParsed} (${pct(otherParsed)})`],
  ['median µs / statement', median(pgUs).toFixed(1), median(otherUs).toFixed(1)],
  ['writes it calls a plain select', '— (its tree shows them)', `${hidden} (${Object.entries(hiddenWrites).map(([k, v]) => `${k}: ${v}`).join(', ')})`],
  [INJECTION, injectionPg, injectionOther],
];
const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
console.log(`corpus: ${sqls.length} statements from the PostgreSQL regression suite\n`);
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join(' | '));
console.log('\nexamples of writes node-sql-parser calls a plain select:');
for (const e of examples) console.log(`  ${e}`);

/** node-sql-parser's answer: one AST of type select (not a list of several statements). */
function isPlainSelect(ast: unknown): boolean {
  return typeof ast === 'object' && ast !== null && !Array.isArray(ast) && (ast as { type?: unknown }).type === 'select';
}

function describeOther(sql: string): string {
  try {
    const ast = other.astify(sql, { database: 'postgresql' });
    if (Array.isArray(ast)) return `${ast.length} statements`;
    const first = (ast as { columns?: { expr?: { value?: unknown } }[] }).columns?.[0]?.expr?.value;
    return `1 statement, type ${(ast as { type?: string }).type}${typeof first === 'string' ? `, selecting the string ${first}` : ''}`;
  } catch (e) {
    return `error: ${(e as Error).message.slice(0, 60)}`;
  }
}

/** A data-modifying statement or SELECT … INTO anywhere in libpg-query's tree. */
function writeIn(root: unknown): string | undefined {
  const stack: unknown[] = [root];
  let sawIntoClause = false;
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      stack.push(...v);
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    for (const [key, child] of Object.entries(v)) {
      if (key === 'InsertStmt' || key === 'UpdateStmt' || key === 'DeleteStmt' || key === 'MergeStmt') return 'data-modifying CTE';
      if (key === 'intoClause') sawIntoClause = true;
      stack.push(child);
    }
  }
  return sawIntoClause ? 'SELECT INTO' : undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] ?? 0;
}
