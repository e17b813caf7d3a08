// `npm run bench`: every benchmark in one run, on this machine, printed as JSON and as the tables
// the README quotes. Nothing here asserts a time; compare ratios within one run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestPostgres } from '../infra/throwaway-postgres.ts';
import { startEmbeddedDatabases } from '../infra/embedded-databases.ts';
import { benchAnalyze } from './analyze.ts';
import { benchE2e, type E2eFigures } from './e2e.ts';
import { benchMasking } from './masking.ts';
import { benchEvidence } from './evidence.ts';
import { benchAppends } from './appends.ts';
import { benchRelease } from './release.ts';
import { benchCli, printCli } from './cli.ts';
import pg from 'pg';

const only = process.argv.slice(2);
const wants = (name: string) => only.length === 0 || only.includes(name);
const results: Record<string, unknown> = {};

if (wants('analyze')) {
  console.error('analyze: 38,534 corpus statements …');
  // A throwaway PostgreSQL for its catalog: the read allowlist resolves against pg_proc.
  const server = await startTestPostgres();
  const { createCatalogReader } = await import('../shared/execute/index.ts');
  const { createEmbeddedSecrets } = await import('../shared/adapters/secrets/index.ts');
  const catalog = createCatalogReader({ connections: { b: { credentials: 'embedded://b' } }, secrets: createEmbeddedSecrets(new Map([['b', server.url]])) });
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
  const e2e: E2eFigures[] = [];
  const server = await startTestPostgres();
  try {
    const admin = new pg.Client({ connectionString: server.url });
    await admin.connect();
    await admin.query('CREATE DATABASE bench_target');
    await admin.query('CREATE DATABASE bench_sessions');
    await admin.end();
    const url = (db: string) => Object.assign(new URL(server.url), { pathname: `/${db}` }).toString();
    console.error(`e2e: gateway vs direct pg on ${server.kind} …`);
    e2e.push(await benchE2e({ label: `PostgreSQL (${server.kind})`, targetUrl: url('bench_target'), sessionStoreUrl: url('bench_sessions') }));
  } finally {
    await server.stop();
  }
  // The embedded defaults of `npm start`: demo target and session store in PGlite, in a child process.
  const stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-embedded-'));
  try {
    console.error('e2e: gateway vs direct pg on the embedded defaults (PGlite) …');
    const dbs = await startEmbeddedDatabases({ stateDir, demo: true });
    try {
      e2e.push(await benchE2e({ label: 'embedded (PGlite)', targetUrl: dbs.demoUrl!, sessionStoreUrl: dbs.sessionStoreUrl, requests: 200, concurrency: 4 }));
    } finally {
      await dbs.stop();
    }
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
  results.e2e = e2e;
  console.log('\n| target | path | one at a time: median ms | p99 ms | concurrent: median ms | p99 ms | req/s |');
  console.log('|---|---|---|---|---|---|---|');
  for (const f of e2e) {
    for (const [path, seq, con] of [['direct pg', f.sequential.direct, f.direct], ['gateway', f.sequential.gateway, f.gateway]] as const) {
      console.log(`| ${f.target} | ${path} | ${seq.medianMs} | ${seq.p99Ms} | ${con.medianMs} | ${con.p99Ms} | ${con.perSec} |`);
    }
  }
  console.log(`(concurrent: ${e2e.map((f) => `${f.requests} requests, ${f.concurrency} in flight on ${f.target}`).join('; ')})`);
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
