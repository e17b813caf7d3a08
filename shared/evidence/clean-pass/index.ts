// The clean pass of `evidence verify`: proves, with every core, that an export has nothing wrong
// in its events and its place in the log — or says it cannot (undefined), and verify runs its full
// pass, which finds and names every problem. Most exports an auditor checks are clean; the full
// pass reads each line on the main thread and parses it twice, about six times the work.
//
// Why a clean verdict can be trusted: each chunk task (leaves.ts, events.ts) answers only "clean"
// or "not clean", for exactly the conditions under which the full pass reports nothing about those
// lines; this merge adds the conditions that span chunks (each session once, in one block, matching
// its manifest entry; every manifest session present; every leaf present and claimed; the root).
// test/evidence/clean-pass.test.ts runs every tamper case of the suite through both passes.
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Checkpoint } from '../../transparency/checkpoint.ts';
import { ApprovalIndex } from '../approvals.ts';
import { approvalLookup, Tally, type Counts, type PolicyVersion } from '../derive.ts';
import { approvalsFor } from '../facts.ts';
import { ChunkPool } from '../chunk-pool.ts';
import { fileChunks } from '../lines.ts';
import type { LogSection } from '../log-coverage.ts';
import { LEAVES_FILE } from '../log-coverage.ts';
import { DERIVED_FILES, FILES, type Manifest } from '../manifest.ts';
import { rootFromRangeParallel } from '../parallel-root.ts';
import { populationHeader, populationRow } from '../population.ts';
import { DEFAULT_REPORT_LIMITS, ReportCollector } from '../report/collector.ts';
import type { TaskRunner } from '../verify-pool.ts';
import { batchedHash } from '../batched-hash.ts';
import { sessionChunks } from './chunks.ts';
import type { PassContext } from './context.ts';
import type { ChunkResult } from './events.ts';

export interface CleanPassInput {
  readonly dir: string;
  readonly manifest: Manifest;
  readonly runner: TaskRunner;
  /** The manifest's place in the log, when it has one; and the valid signed checkpoints. */
  readonly section?: LogSection;
  readonly checkpoints: readonly Checkpoint[];
  readonly votePublicKeyPem?: string;
  /** Bytes per chunk task (default 4 MiB); tests use small ones to cut sessions apart often. */
  readonly chunkBytes?: number;
}

/** What verify's walk over events.jsonl yields, for an export found clean. */
export interface CleanWalk {
  readonly sessions: number;
  readonly events: number;
  readonly votes: number;
  readonly derived: {
    readonly counts: Counts;
    readonly policyVersions: readonly PolicyVersion[];
    /** sha256 of each derived file as the events yield it. */
    readonly files: Readonly<Record<string, string>>;
    readonly reportSessions: ReportCollector;
  };
}

export async function cleanPass(input: CleanPassInput): Promise<CleanWalk | undefined> {
  try {
    return await run(input);
  } catch {
    // A task that failed (a worker lost, data no check foresaw): the full pass decides.
    return undefined;
  }
}

async function run({ dir, manifest, runner, section, checkpoints, votePublicKeyPem, chunkBytes }: CleanPassInput): Promise<CleanWalk | undefined> {
  const eventsPath = join(dir, FILES.events);
  const leavesPath = join(dir, LEAVES_FILE);
  // Not a regular file (a directory, a link to /dev/zero): the full pass reports it, never reads it.
  if (!isRegularFile(eventsPath) || (section && !isRegularFile(leavesPath))) return undefined;
  const n = section ? Math.max(0, section.end - section.start) : 0;
  const shared = (bytes: number) => new Uint8Array(new SharedArrayBuffer(bytes));
  const ctx: PassContext = {
    id: randomUUID(),
    ...(section
      ? {
          log: {
            start: section.start,
            n,
            eventHashes: shared(n * 32),
            inLeaves: shared(n),
            inEvents: shared(n),
            exportedSession: shared(n),
            checkpoints: checkpoints.map((c) => ({ treeSize: c.treeSize, signedMs: Date.parse(c.time) })),
          },
        }
      : {}),
    exportedIds: Buffer.from(manifest.chainHeads.map((h) => h.sessionId).join('\n')),
    range: { fromMs: Date.parse(manifest.range.from), toMs: Date.parse(manifest.range.to) },
    ...(votePublicKeyPem === undefined ? {} : { votePublicKeyPem }),
  };
  // The ids travel newline-separated: an id that is empty or holds a line end would not come
  // back as itself in the workers' set. Not the clean case.
  if (manifest.chainHeads.some((h) => h.sessionId === '' || h.sessionId.includes('\n'))) return undefined;

  // Chunks are read into shared memory used again once their answer is in (chunk-pool.ts).
  const pool = new ChunkPool();
  // 1. leaves.jsonl: every leaf of the run, once, into the shared run.
  if (ctx.log) {
    const leavesClean = await inOrder(fileChunks(leavesPath, chunkBytes, pool), pool, runner, (bytes) => runner.run<boolean>({ kind: 'cleanLeaves', bytes, pass: ctx }), (_, clean) => clean);
    if (!leavesClean) return undefined;
    for (let i = 0; i < n; i++) if (ctx.log.inLeaves[i] !== 1) return undefined;
  }

  // 2. events.jsonl: whole sessions per task, a few tasks ahead, merged in file order.
  const merge = new Merge(manifest);
  const eventsClean = await inOrder(
    sessionChunks(eventsPath, chunkBytes, pool),
    pool,
    runner,
    (bytes) => runner.run<ChunkResult | undefined>({ kind: 'cleanEvents', bytes, pass: ctx }),
    (bytes, r) => r !== undefined && merge.add(bytes, r),
  );
  if (!eventsClean || !merge.complete()) return undefined;

  // 3. The run: every leaf of an exported session claimed by an event, the count of events
  // without a place in the log as the manifest says, and the root the manifest's proof gives.
  if (ctx.log && section) {
    for (let i = 0; i < n; i++) if (ctx.log.exportedSession[i] === 1 && ctx.log.inEvents[i] !== 1) return undefined;
    if (merge.withoutIndex !== section.eventsWithoutIndex) return undefined;
    if (n === 0) return undefined;
    const proof = section.proof.map((h) => Buffer.from(h, 'hex'));
    const root = await rootFromRangeParallel(ctx.log.eventHashes, n, section.start, section.treeSize, proof, runner);
    if (root?.toString('hex') !== section.rootHash) return undefined;
  }
  return merge.result();
}

/**
 * Each chunk to a task, a few ahead of the one being taken (memory holds a window of chunks, not
 * the file), the answers taken in file order; false at the first `take` that says so. A chunk
 * taken goes back to the pool: `take` keeps no view of it.
 */
async function inOrder<T>(chunks: Iterator<Buffer>, pool: ChunkPool, runner: TaskRunner, task: (bytes: Buffer) => Promise<T>, take: (bytes: Buffer, result: T) => boolean): Promise<boolean> {
  const ahead = Math.max(2, runner.threads * 2);
  const window: { bytes: Buffer; result: Promise<T> }[] = [];
  const fill = () => {
    while (window.length < ahead) {
      const next = chunks.next();
      if (next.done) return;
      window.push({ bytes: next.value, result: task(next.value) });
    }
  };
  fill();
  while (window.length) {
    const { bytes, result } = window.shift()!;
    fill();
    if (!take(bytes, await result)) {
      // Let the tasks in flight finish before the full pass starts: they hold the workers.
      await Promise.allSettled(window.map((w) => w.result));
      return false;
    }
    pool.give(bytes);
  }
  return true;
}

/** Chunk results, in file order, into what walkEvents yields: the cross-session checks and the derived files. */
class Merge {
  readonly #expected: Map<string, { events: number; head: string; startedAt: string }>;
  readonly #seen = new Set<string>();
  readonly #approvals = new ApprovalIndex();
  readonly #tally = new Tally();
  readonly #digests = Object.fromEntries(DERIVED_FILES.map((f) => [f, batchedHash()]));
  readonly #report: ReportCollector;
  #lastId: string | undefined;
  events = 0;
  withoutIndex = 0;
  votes = 0;

  constructor(manifest: Manifest) {
    this.#expected = new Map(manifest.chainHeads.map((h) => [h.sessionId, h]));
    this.#report = new ReportCollector({ ...DEFAULT_REPORT_LIMITS, ...manifest.report?.limits });
    this.#digests[FILES.population]!.update(populationHeader());
  }

  add(bytes: Buffer, r: ChunkResult): boolean {
    this.#tally.merge(r.tally);
    this.events += r.events;
    this.withoutIndex += r.withoutIndex;
    this.votes += r.votes;
    this.#digests[FILES.sessions]!.update(r.sessionsText);
    this.#digests[FILES.approvals]!.update(r.approvalsText);
    let piece = 0;
    this.#digests[FILES.population]!.update(r.population[piece++]!);
    for (const s of r.sessions) {
      const want = this.#expected.get(s.id);
      // In the manifest, once, in one block (not continued from the chunk before), matching its entry.
      if (!want || this.#seen.has(s.id) || s.id === this.#lastId) return false;
      if (s.n !== want.events || s.head !== want.head || s.firstAt !== want.startedAt) return false;
      this.#seen.add(s.id);
      this.#lastId = s.id;
      for (const a of s.approvals ?? []) this.#approvals.add(a);
      let approvals = s.approvals ?? [];
      if (s.linked) {
        approvals = approvalsFor(s.linked, this.#approvals.get(approvalLookup(s.linked)));
        this.#tally.addApprovals(s.linked, approvals);
        this.#digests[FILES.population]!.update(populationRow(s.linked, approvals));
        this.#digests[FILES.population]!.update(r.population[piece++]!);
      }
      // The report keeps the last sessions only, as their events' text, read when it is written.
      // The chunk's memory is used again once this returns: a session that can be one of the last
      // (the manifest says how many there are, and a clean pass finds every one) keeps a copy of
      // its bytes; the collector drops every other before the report is written.
      const last = this.#seen.size > this.#expected.size - this.#report.limits.maxSessions;
      const copy = last ? Buffer.from(bytes.subarray(s.start, s.end)) : undefined;
      this.#report.addSession({
        get eventLines() {
          if (copy === undefined) throw new Error('the clean pass kept no text of a session that is not one of the last');
          return `${copy.toString('utf8')}\n`;
        },
        approvals,
        problems: [],
      });
    }
    return true;
  }

  /** Every session of the manifest was found. */
  complete(): boolean {
    return this.#seen.size === this.#expected.size;
  }

  result(): CleanWalk {
    return {
      sessions: this.#seen.size,
      events: this.events,
      votes: this.votes,
      derived: {
        counts: this.#tally.counts,
        policyVersions: this.#tally.policyVersions(),
        files: Object.fromEntries(Object.entries(this.#digests).map(([k, h]) => [k, h.digest()])),
        reportSessions: this.#report,
      },
    };
  }
}

function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
