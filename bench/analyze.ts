// Cost of step 2 (analyze) per statement over the PostgreSQL regression corpus: the whole of
// analyze, first time each statement is seen and on a second pass, and its parts (libpg-query's
// parse, our tree walk, our fingerprint). analyze() keeps no cache; the last figures show what a
// bounded LRU would buy.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { parseSync } from 'libpg-query';
import { fingerprintTree } from '../shared/sql/fingerprint.ts';
import { type Analysis, analyze, loadParser } from '../shared/sql/index.ts';
import { type Fields, unwrap } from '../shared/sql/nodes.ts';
import { walk } from '../shared/sql/walk.ts';

const CORPUS = new URL('../test/fixtures/pg-regress-statements.jsonl.gz', import.meta.url);
const LRU_SIZE = 1000;

interface Timing {
  readonly medianUs: number;
  readonly p99Us: number;
  readonly meanUs: number;
}

export async function benchAnalyze(): Promise<Record<string, unknown>> {
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

  return {
    statements: sqls.length,
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
