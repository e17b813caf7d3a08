// `npm run bench`: every benchmark in one run, on this machine, printed as JSON and as the tables
// the README quotes. Nothing here asserts a time; compare ratios within one run.
import { startTestPostgres } from '../infra/throwaway-postgres.ts';
import { benchAnalyze } from './analyze.ts';
import { benchE2e, printE2e } from './e2e.ts';
import { benchMasking } from './masking.ts';
import { benchEvidence } from './evidence.ts';
import { benchRelease } from './release.ts';
import { benchCli, printCli } from './cli.ts';

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
  } finally {
    await catalog.close();
    await server.stop();
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
