// The PostgreSQL regression corpus (test/fixtures/) against the read allowlist, resolved on a real
// catalog (a fresh database: PostgreSQL's own functions only, as most regress statements call).
// Reports how many statements the parse tree alone calls `read` that the catalog moves to
// `unknown`, and why; checks the catalog step only ever takes `read` away.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import test from 'ava';
import { createEmbeddedSecrets } from '../../shared/adapters/secrets/index.ts';
import { createCatalogReader } from '../../shared/postgres/index.ts';
import { createViewLineageAnalyzer } from '../../shared/masking/view-lineage.ts';
import { inspect, loadParser, resolveCalls } from '../../shared/sql/index.ts';
import { createTestDatabase, testPgKind } from '../helpers/pg.ts';

const CORPUS = new URL('../fixtures/pg-regress-statements.jsonl.gz', import.meta.url);

test('the corpus on a real catalog: reads that call off the allowlist move to unknown; nothing else changes', async (t) => {
  if (testPgKind !== 'postgres') return t.pass('needs real PostgreSQL for its catalog');
  await loadParser();
  const db = await createTestDatabase();
  const secrets = createEmbeddedSecrets(new Map([['t', db.url]]));
  const catalog = createCatalogReader({ connections: { t: { credentials: 'embedded://t' } }, secrets, views: createViewLineageAnalyzer() });
  try {
    const routines = await catalog.routines('t');
    const lines = gunzipSync(readFileSync(CORPUS)).toString('utf8').split('\n').filter((l) => l.trim() !== '');
    let reads = 0;
    let moved = 0;
    const why = new Map<string, number>();
    for (const line of lines) {
      let inspected;
      try {
        inspected = inspect((JSON.parse(line) as { sql: string }).sql);
      } catch {
        continue;
      }
      if (inspected.analysis.class !== 'read') continue;
      reads++;
      const { findings } = resolveCalls({
        sites: inspected.sites,
        tablesRead: inspected.analysis.tables.read,
        routines,
        relations: new Map(),
        relationCalls: new Map(),
        listed: new Map(),
      });
      t.true(findings.every((f) => f.class === 'unknown'));
      if (findings.length === 0) continue;
      moved++;
      for (const f of findings) {
        const key = f.reason.replace(/calls [^ ]+\(\)/, 'calls f()').replace(/^attribute notation [^ ]+ /, 'attribute notation ');
        why.set(key, (why.get(key) ?? 0) + 1);
      }
    }
    t.log(`${reads} statements are read by the parse tree; the catalog moves ${moved} of them to unknown (${((100 * moved) / reads).toFixed(1)}%)`);
    for (const [reason, n] of [...why].sort((a, b) => b[1] - a[1]).slice(0, 8)) t.log(`  ${n} × ${reason}`);
    t.true(reads > 10_000, 'the corpus has its reads');
    // Regress statements call their own test functions and volatile built-ins: some must move,
    // most must not (the allowlist is not "refuse everything").
    t.true(moved > 0 && moved < reads / 2, `${moved} of ${reads}`);
  } finally {
    await catalog.close();
    await db.drop();
  }
});
