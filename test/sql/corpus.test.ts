// The PostgreSQL regression suite's 38,534 statements (test/fixtures/, origin and licence
// in test/fixtures/README.md):
// every one gets a class, and an independent walker (not the classifier's) checks that no
// statement that writes anywhere in its tree comes out `read`.

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import test from 'ava';
import { parseSync } from 'libpg-query';
import { isGatehouseError } from '../../shared/errors.ts';
import { RISK_CLASSES, type Analysis, type RiskClass, analyze, loadParser } from '../../shared/sql/index.ts';

const CORPUS = new URL('../fixtures/pg-regress-statements.jsonl.gz', import.meta.url);

interface Entry {
  readonly file: string;
  readonly sql: string;
  readonly pgType: string;
}

const entries: Entry[] = gunzipSync(readFileSync(CORPUS))
  .toString('utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as Entry);

interface Outcome {
  readonly entry: Entry;
  readonly analysis?: Analysis;
  readonly error?: string;
}

let outcomes: Outcome[] = [];

test.before(async () => {
  await loadParser();
  outcomes = entries.map((entry) => {
    try {
      return { entry, analysis: analyze(entry.sql) };
    } catch (e) {
      return { entry, error: isGatehouseError(e) ? e.code : String(e) };
    }
  });
});

test('the corpus is all there', (t) => {
  t.is(entries.length, 38_534);
});

test('every statement gets a risk class, or is refused only as several statements', (t) => {
  const classes: Record<string, number> = {};
  const errors: Record<string, number> = {};
  for (const { entry, analysis, error } of outcomes) {
    if (analysis !== undefined) {
      t.true((RISK_CLASSES as readonly string[]).includes(analysis.class), entry.sql);
      t.is(analysis.pgType, entry.pgType, entry.sql);
      classes[analysis.class] = (classes[analysis.class] ?? 0) + 1;
    } else {
      errors[error ?? '?'] = (errors[error ?? '?'] ?? 0) + 1;
    }
  }
  t.log('classes', classes);
  t.log('refused', errors);
  t.deepEqual(Object.keys(errors).filter((code) => code !== 'sql_multiple_statements'), []);
});

test('no statement that writes anywhere in its tree is classed read (independent walker)', (t) => {
  const misses: string[] = [];
  let writers = 0;
  for (const { entry, analysis } of outcomes) {
    if (analysis === undefined) continue;
    const tree = parseSync(entry.sql).stmts?.[0]?.stmt;
    const found = writesIn(tree);
    if (found === undefined) continue;
    writers++;
    if (analysis.class === 'read') misses.push(`${found}: ${entry.sql.slice(0, 120)}`);
  }
  t.log(`${writers} statements write somewhere in their tree`);
  t.deepEqual(misses, []);
});

test('only SELECT, SHOW and EXPLAIN are ever classed read', (t) => {
  const readTops = new Set(['SelectStmt', 'VariableShowStmt', 'ExplainStmt']);
  const others = outcomes.filter((o) => o.analysis?.class === 'read' && !readTops.has(o.analysis.pgType));
  t.deepEqual(others.map((o) => o.entry.sql), []);
});

test('calls to well-known side-effecting functions are never read', (t) => {
  const dangerous = /\b(set_config|nextval|setval|pg_terminate_backend|lo_import|lo_export|dblink\w*|pg_read_file|pg_sleep)\s*\(/i;
  const misses = outcomes.filter((o) => o.analysis?.class === 'read' && dangerous.test(o.entry.sql) && !/^\s*explain\b/i.test(o.entry.sql));
  // The regex also hits string literals and comments, so check the parser saw a call, too.
  const real = misses.filter((o) => o.analysis?.functions.some((f) => dangerous.test(`${f.split('.').pop()}(`)));
  t.deepEqual(real.map((o) => o.entry.sql), []);
});

test('class distribution per top-level statement type is stable enough to eyeball', (t) => {
  const byType: Record<string, Partial<Record<RiskClass, number>>> = {};
  for (const { analysis } of outcomes) {
    if (analysis === undefined) continue;
    const row = (byType[analysis.pgType] ??= {});
    row[analysis.class] = (row[analysis.class] ?? 0) + 1;
  }
  for (const type of ['SelectStmt', 'ExplainStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt']) t.log(type, byType[type]);
  t.pass();
});

/**
 * The first write found anywhere in a parse tree, by a walker that knows nothing of the classifier:
 * a DML statement node or a SELECT … INTO, except under an EXPLAIN without any ANALYZE option
 * (planned, never run).
 */
function writesIn(root: unknown): string | undefined {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      stack.push(...v);
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    const record = v as Record<string, unknown>;
    for (const [key, child] of Object.entries(record)) {
      if (key === 'InsertStmt' || key === 'UpdateStmt' || key === 'DeleteStmt' || key === 'MergeStmt') return key;
      if (key === 'intoClause') return 'SELECT INTO';
      if (key === 'ExplainStmt' && !hasAnalyzeOption(child)) continue;
      stack.push(child);
    }
  }
  return undefined;
}

function hasAnalyzeOption(explain: unknown): boolean {
  return JSON.stringify((explain as { options?: unknown }).options ?? []).includes('"defname":"analyze"');
}
