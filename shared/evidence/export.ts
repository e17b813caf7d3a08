// `gatehouse evidence export`: the session log of a time range, as the folder of docs/design.md#evidence.
// It streams: sessions are read page by page and written as they come, so memory holds one page,
// the chain heads (for the Merkle tree and the manifest) and the report's bounded selection —
// not the export. The folder is built under a temporary name and renamed when complete, so a
// crashed export never looks like a finished one.
import { existsSync, mkdirSync, readdirSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { verifyChain, type ChainProblem } from '../audit/chain.ts';
import type { LogLeafReader, SessionLog } from '../ports.ts';
import type { Checkpoint } from '../transparency/checkpoint.ts';
import { asOfPlan, CoverageTracker, LEAVES_FILE, planCoverage, writeLogCoverage, type CoverageProblem, type CoveragePlan, type LogSection } from './log-coverage.ts';
import { Deriver } from './derive.ts';
import { sessionsInRange } from './sessions-in-range.ts';
import { HashedFile } from './files.ts';
import { DERIVED_FILES, FILES, FORMAT, type ChainHeadEntry, type FileEntry, type Manifest } from './manifest.ts';
import { MERKLE_DEFINITION, MerkleAccumulator, merkleLeaf } from './merkle.ts';
import { ChainHeadsSpool, writeManifest } from './manifest-writer.ts';
import { populationHeader } from './population.ts';
import { DEFAULT_REPORT_LIMITS, ReportCollector, type ReportLimits } from './report/collector.ts';
import { writeReport } from './report/html.ts';
import { RecentSessions } from './recent-sessions.ts';
import { soc2Criteria } from './report/soc2.ts';
import { isVoteEvent, voteKeyOf, voteProblems, type VoteKey } from './votes.ts';
import type { Problem } from './problems.ts';
import { sessionLines } from './event-lines.ts';

export interface ExportOptions {
  readonly from: Date;
  readonly to: Date;
  readonly out: string;
  /** Where the sessions came from, for the manifest (no credentials). */
  readonly source: string;
  readonly pageSize?: number;
  readonly readConcurrency?: number;
  readonly report?: Partial<ReportLimits>;
  readonly clock?: () => Date;
  /**
   * Signed checkpoints (oldest first) the export is proved against (log-coverage.ts); undefined:
   * proved against the log as it is, and verify --checkpoints will say it is not covered.
   */
  readonly checkpoints?: readonly Checkpoint[];
  /**
   * The approval desk's public key (PEM), recorded in the manifest so verify checks every vote's
   * signature against it (votes.ts). Undefined: the manifest says null, and verify needs
   * --vote-public-key for an export that holds votes.
   */
  readonly votePublicKeyPem?: string;
  /** Called after each session is written. */
  readonly onProgress?: (p: { sessions: number; events: number; startedAt: string }) => void;
}

export interface ExportSummary {
  readonly out: string;
  readonly range: { readonly from: string; readonly to: string };
  readonly sessions: number;
  readonly events: number;
  readonly approvalEvents: number;
  readonly chainsBroken: number;
  readonly merkleRoot: string;
  readonly manifestSha256: string;
  /** The global log: the tree the export is proved against, or null for a store without one. */
  readonly log: { readonly treeSize: number; readonly rootHash: string; readonly start: number; readonly end: number; readonly checkpointed: boolean } | null;
  /** What the export found wrong with the store: against the global log and its checkpoints, and listing rows that disagree with their log (the first 1,000 of those). */
  readonly logProblems: readonly CoverageProblem[];
  /** Votes in the export the desk key does not prove (listed in verification.json). */
  readonly voteProblems: number;
  readonly reportSessions: number;
  readonly files: Readonly<Record<string, FileEntry>>;
  readonly durationMs: number;
}

export const RANGE_BOUNDS = 'sessions that started at or after `from` and before `to`';

/** At most this many broken sessions are listed in verification.json (all are counted). */
const MAX_LISTED = 1000;

export type ExportSource = Pick<SessionLog, 'list' | 'read' | 'readMany' | 'readManyStored'> & Partial<LogLeafReader>;

export async function exportEvidence(log: ExportSource, options: ExportOptions): Promise<ExportSummary> {
  const { from, to, source } = options;
  if (!(from instanceof Date && to instanceof Date) || Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) {
    throw new TypeError('evidence export: --from and --to must be dates');
  }
  if (from >= to) throw new TypeError('evidence export: --from must be before --to');
  const clock = options.clock ?? (() => new Date());
  const voteKey = options.votePublicKeyPem === undefined ? undefined : voteKeyOf(options.votePublicKeyPem);
  if (typeof voteKey === 'string') throw new TypeError(`evidence export: the approval desk's public key is ${voteKey}`);
  const started = performance.now();
  const out = resolve(options.out);
  if (existsSync(out) && readdirSync(out).length > 0) throw new TypeError(`evidence export: ${out} exists and is not empty`);
  mkdirSync(dirname(out), { recursive: true });
  const work = `${out}.partial-${randomBytes(4).toString('hex')}`;
  mkdirSync(work, { mode: 0o700 });
  try {
    const summary = await writeFolder(log, options, work, clock, voteKey);
    if (existsSync(out)) rmdirSync(out);
    renameSync(work, out);
    return { ...summary, out, durationMs: Math.round(performance.now() - started) };
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
}

async function writeFolder(
  log: ExportSource,
  options: ExportOptions,
  dir: string,
  clock: () => Date,
  voteKey: VoteKey | undefined,
): Promise<Omit<ExportSummary, 'out' | 'durationMs'>> {
  const generatedAt = clock().toISOString();
  const range = { from: options.from.toISOString(), to: options.to.toISOString() };
  const files = {
    sessions: new HashedFile(join(dir, FILES.sessions)),
    events: new HashedFile(join(dir, FILES.events)),
    approvals: new HashedFile(join(dir, FILES.approvals)),
    population: new HashedFile(join(dir, FILES.population)),
  };
  const deriver = new Deriver();
  const report = new ReportCollector({ ...DEFAULT_REPORT_LIMITS, ...options.report });
  // Only the last sessions can be in the report: where they lie in events.jsonl, read back at the end.
  const recent = new RecentSessions(report.limits.maxSessions);
  // Chain heads wait in a file, the Merkle root is accumulated: no list grows with the export.
  const heads = new ChainHeadsSpool(join(dir, '.chain-heads.partial'));
  const leaves = new MerkleAccumulator();
  const broken: { sessionId: string; problems: readonly ChainProblem[] }[] = [];
  // Votes the desk's key does not prove (votes.ts): the store holds them, the export says so.
  const voteIssues: Problem[] = [];
  let voteIssueCount = 0;
  let empty = 0;
  // Listed rows whose copies disagree with their hashed first event (audit/listing-check.ts).
  const tamperedListings: CoverageProblem[] = [];
  let tamperedCount = 0;
  await files.population.write(populationHeader());
  const leafLog = log.treeSize && log.leaves ? { treeSize: log.treeSize.bind(log), leaves: log.leaves.bind(log), read: log.read.bind(log) } : undefined;
  // Fixed before any session is read: the export shows the log as of this tree.
  const plan: CoveragePlan | undefined = leafLog ? await planCoverage(leafLog, options, options.checkpoints) : undefined;
  const tracker = new CoverageTracker(options.checkpoints);
  const leavesFile = leafLog ? new HashedFile(join(dir, LEAVES_FILE)) : undefined;

  try {
    const reads = sessionsInRange(log, options, options.pageSize ?? 500, options.readConcurrency ?? 4);
    for await (const read of reads) {
      const summary = read.summary;
      if (summary.listingTampered !== undefined) {
        tamperedCount++;
        if (tamperedListings.length < MAX_LISTED) tamperedListings.push({ kind: 'listing_tampered', sessionId: summary.sessionId, message: `session ${summary.sessionId}: the store's listing copy of ${summary.listingTampered} disagrees with its hashed first event` });
        // The listing only found it: its own first event says whether it started in the range.
        // One that did not belongs to another export (whose run of the log carries it).
        if (!startedIn(read.events, options)) continue;
      }
      const events = plan ? asOfPlan(read.events, plan) : read.events;
      if (events.length === 0 && read.events.length > 0) continue; // started after the plan's tree
      if (events.length === 0) {
        // Listed but holding no events: only a store edited behind the log's back looks so.
        empty++;
        if (broken.length < MAX_LISTED) broken.push({ sessionId: summary.sessionId, problems: [{ kind: 'seq_gap', expected: 0, found: -1 }] });
        continue;
      }
      tracker.add(events);
      const { lines: eventLines, hashOf } = sessionLines(events, read.stored);
      const problems = verifyChain(summary.sessionId, events, hashOf);
      if (problems.length && broken.length < MAX_LISTED) broken.push({ sessionId: summary.sessionId, problems });
      if (voteKey && events.some(isVoteEvent)) {
        const found = voteProblems(events, voteKey);
        voteIssueCount += found.length;
        for (const p of found) if (voteIssues.length < MAX_LISTED) voteIssues.push({ kind: p.kind, sessionId: p.sessionId, seq: p.seq, message: p.message });
      }
      const d = deriver.add(events, problems);
      await files.events.write(eventLines);
      await files.sessions.write(d.sessionLine);
      for (const line of d.approvalLines) await files.approvals.write(line);
      await files.population.write(d.populationLine);
      recent.add(eventLines, d.approvals, problems);
      await heads.add({ sessionId: d.facts.sessionId, startedAt: d.facts.startedAt, events: d.facts.events, head: d.facts.head });
      leaves.add(merkleLeaf(d.facts.sessionId, d.facts.head));
      options.onProgress?.({ sessions: heads.count, events: deriver.counts.events, startedAt: d.facts.startedAt });
    }
  } finally {
    // Close everything even on failure, so the partial folder can be removed.
    await Promise.allSettled([...Object.values(files).map((f) => f.close()), heads.close()]);
  }
  let logSection: LogSection | null = null;
  let logProblems: CoverageProblem[] = [];
  if (leafLog && plan && leavesFile) {
    try {
      ({ section: logSection, problems: logProblems } = await writeLogCoverage(leafLog, plan, tracker, options, leavesFile));
    } finally {
      await leavesFile.close().catch(() => {});
    }
  }
  // leaves.jsonl is not derived from events.jsonl: verify checks it against the events and the signed root.
  const allFiles: HashedFile[] = [...Object.values(files), ...(leavesFile ? [leavesFile] : [])];
  const written: Record<string, FileEntry> = {};
  for (const f of allFiles) {
    const { sha256, bytes } = await f.close();
    written[f.path.slice(dir.length + 1)] = { sha256, bytes, derivedFromEvents: DERIVED_FILES.includes(f.path.slice(dir.length + 1)) };
  }
  for (const s of recent.read(files.events.path)) report.addSession(s);

  const counts = deriver.counts;
  const brokenTotal = counts.chainsBroken + empty + tamperedCount + logProblems.length;
  logProblems = [...tamperedListings, ...logProblems];
  const root = leaves.root();
  const policyVersions = deriver.policyVersions();
  const verification = {
    checkedAt: generatedAt,
    checkedBy: 'evidence export, against the session store while reading it',
    ok: brokenTotal === 0 && voteIssueCount === 0,
    sessions: counts.sessions,
    events: counts.events,
    chainsVerified: counts.sessions - counts.chainsBroken,
    chainsBroken: brokenTotal,
    /** Listed in the store but holding no events. */
    sessionsWithoutEvents: empty,
    broken,
    brokenListed: broken.length,
    merkleRoot: root,
    log: logSection ? { treeSize: logSection.treeSize, rootHash: logSection.rootHash, checkpointed: logSection.checkpoint !== null } : null,
    logProblems,
    /** Votes checked against the desk key the manifest names (none: `null`, verify then needs --vote-public-key). */
    votes: voteKey ? { fingerprint: voteKey.fingerprint, problems: voteIssueCount, listed: voteIssues } : null,
    howToVerify: 'npx gatehouse evidence verify <this folder> --checkpoints <checkpoint source>',
  };
  const verificationFile = new HashedFile(join(dir, FILES.verification));
  await verificationFile.write(`${JSON.stringify(verification, null, 2)}\n`);
  written[FILES.verification] = { ...(await verificationFile.close()), derivedFromEvents: false };

  const reportNote = `the ${report.size} most recent sessions of ${counts.sessions} (at most ${report.limits.maxSessions}, and within ${Math.round(report.limits.maxBytes / 1048576)} MB)`;
  const reportFile = new HashedFile(join(dir, FILES.report));
  await writeReport(
    reportFile,
    {
      generatedAt,
      source: options.source,
      range: { ...range, bounds: RANGE_BOUNDS },
      merkleRoot: root,
      merkleDefinition: MERKLE_DEFINITION,
      counts,
      policyVersions,
      verification,
      soc2: soc2Criteria(counts, policyVersions, verification.ok),
      report: { sessionsEmbedded: report.size, sessionsTotal: counts.sessions, note: reportNote },
    },
    report.entries(),
  );
  written[FILES.report] = { ...(await reportFile.close()), derivedFromEvents: false };

  const manifest: Omit<Manifest, 'chainHeads'> & { chainHeads?: never } = {
    format: FORMAT,
    generatedAt,
    source: options.source,
    range: { ...range, bounds: RANGE_BOUNDS },
    counts,
    policyVersions,
    files: written,
    merkle: { definition: MERKLE_DEFINITION, leaves: leaves.count, root },
    report: { sessionsEmbedded: report.size, sessionsTotal: counts.sessions, note: reportNote, limits: report.limits },
    log: logSection,
    votes: voteKey ? { publicKeyPem: voteKey.publicKeyPem, fingerprint: voteKey.fingerprint } : null,
  };
  const manifestFile = new HashedFile(join(dir, 'manifest.json'));
  // Key order as before: chainHeads after report, log and votes after it.
  const { log: logOut, votes: votesOut, ...head } = manifest;
  await writeManifest(manifestFile, head, heads, { log: logOut, votes: votesOut });
  const { sha256: manifestSha256 } = await manifestFile.close();
  heads.remove();
  return {
    range,
    sessions: counts.sessions,
    events: counts.events,
    approvalEvents: counts.approvalEvents,
    chainsBroken: brokenTotal,
    merkleRoot: root,
    manifestSha256,
    log: logSection ? { treeSize: logSection.treeSize, rootHash: logSection.rootHash, start: logSection.start, end: logSection.end, checkpointed: logSection.checkpoint !== null } : null,
    logProblems,
    voteProblems: voteIssueCount,
    reportSessions: report.size,
    files: written,
  };
}

/** Whether a session's own first event is dated in [from, to). */
function startedIn(events: readonly { seq: number; at: string }[], range: { from: Date; to: Date }): boolean {
  const first = events[0];
  if (!first || first.seq !== 0) return true; // no start of its own to place it elsewhere: exported, its chain names the gap
  const at = Date.parse(first.at);
  return at >= range.from.getTime() && at < range.to.getTime();
}
