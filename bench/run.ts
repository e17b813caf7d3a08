// `npm run bench`: every benchmark in one run, on this machine, printed as JSON and as the tables
// the README quotes. Nothing here asserts a time; compare ratios within one run.
import { readFileSync } from 'node:fs';
import { startTestPostgres } from '../infra/throwaway-postgres.ts';
import { benchAnalyze, benchCacheHit } from './analyze.ts';
import { benchE2e, printE2e } from './e2e.ts';
import { benchMasking } from './masking.ts';
import { benchEvidence } from './evidence.ts';
import { benchAppends } from './appends.ts';
import { benchRelease } from './release.ts';
import { benchCli, printCli } from './cli.ts';
import { benchIdentity } from './identity.ts';
import pg from 'pg';

const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const wants = (name: string) => only.length === 0 || only.includes(name);
const results: Record<string, unknown> = {};

if (wants('analyze')) {
  console.error('analyze: 38,534 corpus statements …');
  // A throwaway PostgreSQL for its catalog: the read allowlist resolves against pg_proc.
  const server = await startTestPostgres();
  const { createCatalogReader } = await import('../shared/postgres/index.ts');
  const { createEmbeddedSecrets } = await import('../shared/adapters/secrets/index.ts');
  const { createViewLineageAnalyzer } = await import('../shared/masking/view-lineage.ts');
  const catalog = createCatalogReader({ connections: { b: { credentials: 'embedded://b' } }, secrets: createEmbeddedSecrets(new Map([['b', server.url]])), views: createViewLineageAnalyzer() });
  try {
    results.analyze = await benchAnalyze(await catalog.routines('b'));
    // Parse once (issue 17): step 2 and the masking plan for a statement seen before, on the demo schema.
    console.error('analyze: a cached statement, analysis + masking plan …');
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    try {
      await admin.query(readFileSync(new URL('../infra/demo-db/seed.sql', import.meta.url), 'utf8'));
      const sqls = [
        'SELECT id, name, email FROM customers WHERE id = $1',
        'SELECT c.name, count(o.id) FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.name ORDER BY 2 DESC LIMIT 10',
        'SELECT email, upper(name) AS shout, ssn FROM customers ORDER BY id LIMIT 5',
        'SELECT p.name, p.price FROM products p WHERE p.price > 10',
        'WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval \'30 days\') SELECT count(*) FROM recent',
      ];
      const statements = [];
      for (const sql of sqls) {
        const { fields } = await admin.query({ text: `SELECT * FROM (${sql.replace('$1', '1')}) q LIMIT 0` });
        statements.push({ sql, fields: fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID, tableID: f.tableID, columnID: f.columnID, type: 'text' })) });
      }
      const { createMasker } = await import('../shared/masking/index.ts');
      const masker = createMasker({
        config: { columns: { 'public.customers.email': 'email', 'public.customers.ssn': 'redact' }, derived: 'mask', detectors: ['email'] },
        catalog,
        hashKey: async () => new Uint8Array(32).fill(7),
      });
      (results.analyze as Record<string, unknown>).cacheHit = await benchCacheHit({ connection: 'b', catalog, masker, statements });
    } finally {
      await admin.end();
    }
  } finally {
    await catalog.close();
    await server.stop();
  }
}

if (wants('identity')) {
  console.error('identity: token verification, jose vs node:crypto with cached keys vs a token-cache hit …');
  const figures = await benchIdentity();
  results.identity = figures;
  console.log('\n| alg | jose jwtVerify µs (median / p99) | node:crypto, cached KeyObject | token-cache hit |\n|---|---|---|---|');
  for (const [alg, f] of Object.entries(figures)) {
    const cell = (x: { medianUs: number; p99Us: number } | undefined) => (x ? `${x.medianUs} / ${x.p99Us}` : '');
    console.log(`| ${alg} | ${cell(f.joseJwtVerify)} | ${cell(f.nodeCryptoCachedKeys)} | ${cell(f.tokenCacheHit)} |`);
  }
}

if (wants('masking')) {
  console.error('masking: 100×10 results, detectors …');
  results.masking = await benchMasking();
}

// Minutes, not seconds (100k sessions generated, exported and verified): only when asked for.
if (only.includes('evidence')) {
  console.error('evidence: export and verify of 10k and 100k sessions …');
  results.evidence = await benchEvidence();
}

if (only.includes('checkpoint')) {
  console.error('checkpoint: a full and an incremental run over 440k leaves …');
  results.checkpoint = await (await import('./checkpoint.ts')).benchCheckpoint();
}

// A durable PostgreSQL of its own (fsync on): only when asked for.
if (only.includes('appends')) {
  console.error('appends: 32 concurrent writers on a durable session log, before and after group commit …');
  results.appends = await benchAppends();
}

// Starts the server a few dozen times (a minute or two): only when asked for.
if (only.includes('cli')) {
  console.error('cli: gatehouse --version, token and start, compiled vs tsx …');
  const cli = await benchCli();
  results.cli = cli;
  printCli(cli);
}

if (wants('e2e')) {
  // Gateway vs direct pg, load generator and gateway in processes of their own, a durable session
  // log, round trips counted (bench/e2e.ts). A few minutes. Flags: --quick (shorter phases),
  // --no-breakdown (no CPU profile of the gateway).
  const quick = process.argv.includes('--quick');
  const e2e = await benchE2e({ breakdown: !process.argv.includes('--no-breakdown'), ...(quick ? { sequential: 200, durationMs: 3000, counted: 100 } : {}) });
  results.e2e = e2e;
  printE2e(e2e);
}

// Only when asked for: `npm run bench -- release` (the pool's clean-up on release, issue 13).
if (only.includes('release')) {
  const server = await startTestPostgres();
  try {
    console.error(`release: DISCARD ALL and the dblink clean-up on ${server.kind} …`);
    const figures = await benchRelease(server.url);
    results.release = figures;
    console.log('\n| on release | median ms | p99 ms |\n|---|---|---|');
    for (const f of figures) console.log(`| ${f.case} | ${f.medianMs} | ${f.p99Ms} |`);
  } finally {
    await server.stop();
  }
}

console.log(JSON.stringify(results, null, 2));
