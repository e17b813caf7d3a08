// `gatehouse evidence sample --n 25 --seed S DIR`: a reproducible random sample of the population
// (prng.ts says exactly how), and one readable page per sampled statement into DIR/samples/. The
// export is checked first where it matters for the sample: population.csv and events.jsonl must
// be the files the manifest names, or the sample would be evidence of nothing.
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { verifyChain } from '../audit/chain.ts';
import { resultDigest } from '../audit/drafts.ts';
import type { SessionEvent } from '../audit/events.ts';
import type { ResultField } from '../ports.ts';
import { ApprovalIndex, approvalFact, isApprovalEvent } from './approvals.ts';
import { readCsv } from './csv.ts';
import { approvalsFor, sessionFacts, storedResult } from './facts.ts';
import { readLines, sha256File } from './files.ts';
import { html, page } from './html.ts';
import { checkManifest, FILES, type Manifest } from './manifest.ts';
import { POPULATION_COLUMNS } from './population.ts';
import { mulberry32, pickIndices, SAMPLING_DEFINITION, seedState } from './prng.ts';
import { samplePage } from './sample-page.ts';
import { asEvent } from './verify-session.ts';

export class EvidenceError extends Error {
  override readonly name = 'EvidenceError';
}

export interface SampleOptions {
  readonly n: number;
  readonly seed: string;
  /** Default DIR/samples. */
  readonly out?: string;
}

export interface SampleResult {
  readonly seed: string;
  readonly n: number;
  readonly population: number;
  readonly definition: string;
  readonly out: string;
  readonly picked: readonly { readonly populationRow: number; readonly sessionId: string; readonly page: string }[];
}

export async function sampleEvidence(dirArg: string, options: SampleOptions): Promise<SampleResult> {
  if (!Number.isInteger(options.n) || options.n < 1) throw new TypeError('evidence sample: --n must be a positive whole number');
  if (typeof options.seed !== 'string' || options.seed === '') throw new TypeError('evidence sample: --seed is required');
  const dir = resolve(dirArg);
  const manifest = await trustedManifest(dir);
  const out = resolve(options.out ?? join(dir, 'samples'));
  if (existsSync(out) && readdirSync(out).length > 0) throw new TypeError(`evidence sample: ${out} exists and is not empty (choose another --out)`);

  // Pass 1: the population's size. Pass 2: the picked rows.
  const population = join(dir, FILES.population);
  let size = 0;
  for await (const _ of populationRows(population)) size++;
  const indices = pickIndices(options.n, size, mulberry32(seedState(options.seed)));
  const wanted = new Set(indices);
  const picked: { populationRow: number; sessionId: string }[] = [];
  let i = 0;
  for await (const row of populationRows(population)) {
    if (wanted.has(i)) picked.push({ populationRow: i + 1, sessionId: row[1] ?? '' });
    i++;
  }

  // Pass 3 over events.jsonl: the picked sessions' events, and every approval decision (few).
  const ids = new Set(picked.map((p) => p.sessionId));
  const events = new Map<string, SessionEvent[]>();
  const approvals = new ApprovalIndex();
  for await (const { text } of readLines(join(dir, FILES.events))) {
    const e = asEvent(safeParse(text));
    if (typeof e === 'string') continue;
    if (isApprovalEvent(e)) approvals.add(approvalFact(e));
    if (ids.has(e.sessionId)) events.set(e.sessionId, [...(events.get(e.sessionId) ?? []), e]);
  }

  mkdirSync(out, { recursive: true });
  const written: SampleResult['picked'][number][] = [];
  picked.forEach((p, k) => {
    const evs = (events.get(p.sessionId) ?? []).sort((a, b) => a.seq - b.seq);
    if (evs.length === 0) throw new EvidenceError(`population row ${p.populationRow} names session ${p.sessionId}, which has no events in events.jsonl`);
    const facts = sessionFacts(evs);
    const stored = storedResult(evs);
    const name = `${String(k + 1).padStart(3, '0')}-${safeName(p.sessionId)}.html`;
    writeFileSync(
      join(out, name),
      samplePage({
        number: k + 1,
        of: picked.length,
        populationRow: p.populationRow,
        seed: options.seed,
        facts,
        approvals: approvalsFor(facts, approvals.get(facts.decision?.approval?.id ?? facts.approvalId)),
        events: evs,
        chainProblems: verifyChain(p.sessionId, evs),
        result: stored && {
          recorded: facts.execution?.resultSha256,
          recomputed: resultDigest({ fields: stored.columns.map((name) => ({ name })) as unknown as ResultField[], rows: stored.rows }),
          rows: stored.rows.length,
        },
        merkleRoot: manifest.merkle.root,
      }),
    );
    written.push({ ...p, page: name });
  });
  const result: SampleResult = { seed: options.seed, n: options.n, population: size, definition: SAMPLING_DEFINITION, out, picked: written };
  writeFileSync(join(out, 'sample.json'), `${JSON.stringify({ ...result, out: undefined, export: { merkleRoot: manifest.merkle.root, populationSha256: manifest.files[FILES.population]?.sha256 } }, null, 2)}\n`);
  writeFileSync(join(out, 'index.html'), indexPage(result, manifest));
  return result;
}

async function trustedManifest(dir: string): Promise<Manifest> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  } catch {
    throw new EvidenceError(`${dir} holds no readable manifest.json: is it an evidence export?`);
  }
  const checked = checkManifest(parsed);
  if ('problems' in checked) throw new EvidenceError(`manifest.json is not valid: ${checked.problems.join('; ')}`);
  for (const name of [FILES.population, FILES.events]) {
    const want = checked.manifest.files[name]?.sha256;
    const path = join(dir, name);
    if (!existsSync(path) || (await sha256File(path)).sha256 !== want) {
      throw new EvidenceError(`${name} is not the file the manifest names: run \`gatehouse evidence verify ${dir}\``);
    }
  }
  return checked.manifest;
}

/** Data rows of population.csv (the header checked and skipped). */
async function* populationRows(path: string): AsyncGenerator<string[]> {
  let header = true;
  for await (const row of readCsv(createReadStream(path, { encoding: 'utf8' }))) {
    if (header) {
      if (row.join(',') !== POPULATION_COLUMNS.join(',')) throw new EvidenceError('population.csv does not start with the expected header');
      header = false;
      continue;
    }
    yield row;
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A session id as a file name: ids come from the export, which is data, so no path tricks. */
function safeName(id: string): string {
  const clean = id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  return clean || 'session';
}

function indexPage(r: SampleResult, m: Manifest): string {
  return page(
    `Sample of ${r.picked.length} statements (seed ${r.seed})`,
    html`<h1>Sample of ${r.picked.length} of ${r.population} statements</h1>
<table>
<tr><th>Export</th><td>${m.range.from} → ${m.range.to}, generated ${m.generatedAt}</td></tr>
<tr><th>Merkle root</th><td><code>${m.merkle.root}</code></td></tr>
<tr><th>population.csv sha256</th><td><code>${m.files[FILES.population]?.sha256}</code></td></tr>
<tr><th>Seed</th><td><code>${r.seed}</code></td></tr>
<tr><th>Method</th><td>${r.definition}</td></tr>
<tr><th>Reproduce</th><td><code>npx gatehouse evidence sample --n ${r.n} --seed ${JSON.stringify(r.seed)} DIR</code></td></tr>
</table>
<table class="grid"><tr><th>#</th><th>Population row</th><th>Session</th></tr>
${r.picked.map((p, k) => html`<tr><td>${k + 1}</td><td>${p.populationRow}</td><td><a href="${p.page}">${p.sessionId}</a></td></tr>`)}
</table>`,
  );
}
