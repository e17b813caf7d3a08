// Cost of step 2 (analyze) per statement over the PostgreSQL regression corpus: the whole of
// analyze, first time each statement is seen and on a second pass, and its parts (libpg-query's
// parse, our tree walk, our fingerprint). analyze() keeps no cache; the last figures show what a
// bounded LRU would buy.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { parseSync } from 'libpg-query';
import { fingerprintTree } from '../shared/sql/fingerprint.ts';
import { type Analysis, analyze, inspect, loadParser, resolveCalls, type RoutineCatalog } from '../shared/sql/index.ts';
import { type Fields, unwrap } from '../shared/sql/nodes.ts';
import { walk } from '../shared/sql/walk.ts';
import { createStatementCache } from '../shared/sql/statement-cache.ts';
import type { Masker } from '../shared/masking/index.ts';
import type { CatalogReader, ResultField, RoutineCatalogReader } from '../shared/ports.ts';

const CORPUS = new URL('../test/fixtures/pg-regress-statements.jsonl.gz', import.meta.url);
const LRU_SIZE = 1000;

interface Timing {
  readonly medianUs: number;
  readonly p99Us: number;
  readonly meanUs: number;
}

/** `routines`: a warm function catalog (from a real PostgreSQL) for the read allowlist's figures. */
export async function benchAnalyze(routines?: RoutineCatalog): Promise<Record<string, unknown>> {
  await loadParser();
  const sqls = gunzipSync(readFileSync(CORPUS))
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => (JSON.parse(l) as { sql: string }).sql);

  // Order matters: the first pass over analyze is the cold one (JIT and WASM warm up on it too).
  const cold = timeEach(sqls, analyze);
  const second = timeEach(sqls, analyze);
  const parse = timeEach(sqls, parseSync);
  const trees = sqls.map((sql) => unwrap(parseSync(sql).stmts?.[0]?.stmt)).filter((t): t is [string, Fields] => t !== undefined);
  const walkOnly = timeEach(trees, ([type, node]) => walk(type, node));
  const fingerprint = timeEach(trees, ([type, node]) => fingerprintTree(type, node));

  const lru = new Lru(LRU_SIZE);
  const cachedAnalyze = (sql: string) => lru.get(sql) ?? lru.set(sql, analyze(sql));
  timeEach(sqls, cachedAnalyze);
  const hitsBefore = lru.hits;
  const lruSecondPass = timeEach(sqls, cachedAnalyze);
  const lruHitRate = (lru.hits - hitsBefore) / sqls.length;
  const repeated = sqls.slice(0, LRU_SIZE);
  timeEach(repeated, cachedAnalyze);
  const lruHit = timeEach(repeated, cachedAnalyze);

  // The read allowlist: the tree walk with call sites, plus resolution against a warm catalog
  // (hash maps, no query). Statements the parser refuses are left out of these two figures.
  const inspected = sqls.flatMap((sql) => {
    try {
      return [{ sql, i: inspect(sql) }];
    } catch {
      return [];
    }
  });
  const resolve = (i: ReturnType<typeof inspect>) =>
    resolveCalls({ sites: i.sites, tablesRead: i.analysis.tables.read, routines: routines!, relations: new Map(), relationCalls: new Map(), listed: new Map() });
  const allowlist = routines && {
    resolutionOnly: timeEach(inspected, ({ i }) => resolve(i)),
    walkAndResolution: timeEach(
      inspected.map(({ sql }) => unwrap(parseSync(sql).stmts?.[0]?.stmt)).filter((t): t is [string, Fields] => t !== undefined),
      ([type, node]) => {
        const facts = walk(type, node);
        return resolveCalls({ sites: facts.sites, tablesRead: [...facts.read], routines: routines!, relations: new Map(), relationCalls: new Map(), listed: new Map() });
      },
    ),
    analyzeAndResolution: timeEach(inspected, ({ sql }) => resolve(inspect(sql))),
  };

  return {
    statements: sqls.length,
    ...(allowlist ? { readAllowlistWarmCatalog: allowlist } : {}),
    analyzeCold: cold,
    analyzeSecondPass: second,
    parseOnly: parse,
    walkOnly,
    fingerprintOnly: fingerprint,
    lru: { size: LRU_SIZE, secondPassOverCorpus: lruSecondPass, secondPassHitRate: round(lruHitRate), hit: lruHit },
  };
}

function timeEach<T>(inputs: readonly T[], fn: (input: T) => unknown): Timing {
  const us = new Float64Array(inputs.length);
  for (let i = 0; i < inputs.length; i++) {
    const start = process.hrtime.bigint();
    try {
      fn(inputs[i]!);
    } catch {
      // a refused statement still costs what it cost
    }
    us[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  let sum = 0;
  for (const v of us) sum += v;
  us.sort();
  return { medianUs: round(us[us.length >> 1] ?? 0), p99Us: round(us[Math.floor(us.length * 0.99)] ?? 0), meanUs: round(sum / us.length) };
}

/** Bounded by entry count; a Map keeps insertion order, so the first key is the least recent. */
class Lru {
  hits = 0;
  private readonly map = new Map<string, Analysis>();
  constructor(private readonly size: number) {}
  get(sql: string): Analysis | undefined {
    const hit = this.map.get(sql);
    if (hit === undefined) return undefined;
    this.hits++;
    this.map.delete(sql);
    this.map.set(sql, hit);
    return hit;
  }
  set(sql: string, a: Analysis): Analysis {
    this.map.set(sql, a);
    if (this.map.size > this.size) this.map.delete(this.map.keys().next().value as string);
    return a;
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await benchAnalyze(), null, 2));
}

// --- the hot path on a cache hit (issue 17 item 1) ------------------------------------------------

/** What the gateway does before and after running a statement it has seen before. */
export interface CacheHitInput {
  readonly connection: string;
  readonly catalog: CatalogReader & RoutineCatalogReader;
  readonly masker: Masker;
  /** Statements with the RowDescription fields PostgreSQL answers for them. */
  readonly statements: readonly { readonly sql: string; readonly fields: readonly ResultField[] }[];
  readonly rounds?: number;
}

/**
 * Step 2 (the cached Statement and the catalog's cached verdict) plus step 7's plan (prepare, then
 * plan against the result's fields), per statement, on a warm cache: the goal is ≤ 0.1 ms. The
 * first pass warms everything (parse, catalog, JIT); the figures are over the later passes.
 */
export async function benchCacheHit(input: CacheHitInput): Promise<{ analysisAndMaskingPlan: Timing; analysisOnly: Timing; statements: number }> {
  await loadParser();
  const cache = createStatementCache();
  const ports = { routines: input.catalog, relations: input.catalog };
  const listed = new Map<string, string>();
  const step = async ({ sql, fields }: CacheHitInput['statements'][number], withPlan: boolean) => {
    const statement = cache.statement(sql);
    await cache.resolve(statement, input.connection, ports, listed);
    if (!withPlan) return;
    const prepared = await input.masker.prepare({ connection: input.connection, sql, statement });
    await input.masker.plan({ connection: input.connection, sql, statement, fields, prepared });
  };
  const rounds = input.rounds ?? 500;
  for (let r = 0; r < 20; r++) for (const s of input.statements) await step(s, true);
  const time = async (withPlan: boolean): Promise<Timing> => {
    const us: number[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const s of input.statements) {
        const start = process.hrtime.bigint();
        await step(s, withPlan);
        us.push(Number(process.hrtime.bigint() - start) / 1000);
      }
    }
    us.sort((a, b) => a - b);
    const sum = us.reduce((a, b) => a + b, 0);
    return { medianUs: round(us[us.length >> 1] ?? 0), p99Us: round(us[Math.floor(us.length * 0.99)] ?? 0), meanUs: round(sum / us.length) };
  };
  return { analysisAndMaskingPlan: await time(true), analysisOnly: await time(false), statements: input.statements.length };
}
