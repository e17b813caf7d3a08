// `gatehouse evidence verify DIR`: re-checks an export without trusting anything in it but the
// manifest — every event hash, every chain against its head, the Merkle root over the heads,
// every file's digest, the manifest's counts, and that sessions.jsonl, approvals.jsonl and
// population.csv are exactly what events.jsonl yields. It streams events.jsonl (one session's
// block at a time), so it runs in bounded memory on exports of any size.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { verifyChain } from '../audit/chain.ts';
import { Deriver, type Counts, type PolicyVersion } from './derive.ts';
import { cleanPass } from './clean-pass/index.ts';
import { field } from './guards.ts';
import { sha256File } from './files.ts';
import { availableParallelism } from 'node:os';
import { ChunkPool } from './chunk-pool.ts';
import { fileChunks, splitLines } from './lines.ts';
import { batchedHash } from './batched-hash.ts';
import { inThread, workerPool, type TaskRunner } from './verify-pool.ts';
import { HASH_HOLDS, VOTE_SIGNATURE_HOLDS } from './verify-tasks.ts';
import type { SessionEvent } from '../audit/events.ts';
import { checkManifest, DERIVED_FILES, FILES, type Manifest } from './manifest.ts';
import { sessionsOutsideRange } from './range-check.ts';
import { MERKLE_DEFINITION, MerkleAccumulator, merkleLeaf } from './merkle.ts';
import { DEFAULT_REPORT_LIMITS, ReportCollector } from './report/collector.ts';
import { writeReport } from './report/html.ts';
import { soc2Criteria } from './report/soc2.ts';
import { populationHeader } from './population.ts';
import type { Problem } from './problems.ts';
import { asEvent, checkSessionBlock, type Found, type Gap } from './verify-session.ts';
import { LEAVES_FILE } from './log-coverage.ts';
import { CLOCK_MARGIN_MS } from './leaf-dating.ts';
import { LogCheck } from './verify-log.ts';
import { runBoundsProblems } from './run-bounds.ts';
import { isVoteEvent, voteKeyOf, voteProblems, type VoteKey } from './votes.ts';
import { protocolBreak } from '../audit/protocol.ts';
import { fastHashEvent } from './event-hash.ts';
import type { Checkpoint } from '../transparency/checkpoint.ts';
import { loadCheckpointSource, SourceFailure, type GcsReader } from '../transparency/checkpoint-source.ts';
import { verifyCheckpointChain } from '../transparency/verify-checkpoints.ts';

export interface VerifyOptions {
  /** A folder of checkpoints, a state dir, or gs://bucket/prefix: the export must be covered by one. */
  readonly checkpoints?: string;
  /** The published public key (PEM file); default: the one kept with the checkpoints. */
  readonly publicKey?: string;
  /** A root the auditor pinned: the export's, or one of the verified checkpoints'. */
  readonly expectRoot?: string;
  readonly gcs?: GcsReader;
  /**
   * The approval desk's published public key (PEM file): every vote is checked against it, and the
   * manifest must name the same key. Default: the key the manifest names (votes.ts says why both).
   */
  readonly votePublicKey?: string;
  /**
   * Worker threads for hashing (verify-pool.ts): 0 for none; default one per core when the export
   * is large enough to gain from them (EVENTS_FOR_WORKERS bytes of events.jsonl).
   */
  readonly workers?: number;
  /**
   * Skip the clean pass (clean-pass/index.ts) and read everything the full way. The answer is the
   * same either way (test/evidence/clean-pass.e2e.test.ts holds them to it); this is for that test
   * and for an auditor who wants the slower path.
   */
  readonly fullPass?: boolean;
}

/** The shortest line a leaf can have: `{"index":0,"sessionId":"","seq":0,"hash":"<64 hex>"}` and its line end. */
const MIN_LEAF_LINE_BYTES = 100;

/** Below this much events.jsonl, starting workers costs more than they save. */
const EVENTS_FOR_WORKERS = 16 * 1024 * 1024;

export interface VerifyResult {
  readonly ok: boolean;
  readonly dir: string;
  readonly manifestSha256?: string;
  readonly merkleRoot?: string;
  /** The global log's root the export is proved against, and the signed checkpoint it matched. */
  readonly logRoot?: { readonly treeSize: number; readonly rootHash: string; readonly checkpoint?: { readonly time: string; readonly logId: string } };
  readonly checkpointsChecked?: number;
  /** The approval desk's key the votes were checked with, where it came from, and how many votes. */
  readonly votes?: { readonly fingerprint?: string; readonly keyFrom: '--vote-public-key' | 'manifest' | 'none'; readonly checked: number };
  readonly checked: { readonly files: number; readonly sessions: number; readonly events: number };
  /**
   * How events.jsonl and leaves.jsonl were read: `clean` — proved clean in parallel by the clean
   * pass; `full` — read line by line by the full pass, which names every problem (the clean pass
   * found something, or was skipped).
   */
  readonly pass?: 'clean' | 'full';
  /**
   * What became of the statements, read off the verified events. `unknown` is its own category,
   * never folded into "not executed": writes nobody can vouch for, and sessions never closed.
   */
  readonly outcomes?: { readonly executed: number; readonly failed: number; readonly rolledBack: number; readonly unknown: number };
  readonly durationMs: number;
  readonly eventsPerSecond: number;
  /** The first MAX_LISTED problems, in the order found. */
  readonly problems: readonly Problem[];
  readonly problemsTotal: number;
  /** Not failures: things a reader should know (an unexpected file next to the evidence). */
  readonly warnings: readonly string[];
}

const MAX_LISTED = 1000;

export async function verifyEvidence(dirArg: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const started = performance.now();
  const dir = resolve(dirArg);
  const problems: Problem[] = [];
  let problemsTotal = 0;
  const report = (p: Problem) => {
    problemsTotal++;
    if (problems.length < MAX_LISTED) problems.push(p);
  };
  const warnings: string[] = [];
  const finish = (extra: Partial<VerifyResult> = {}): VerifyResult => {
    const ms = performance.now() - started;
    const events = extra.checked?.events ?? 0;
    return {
      ok: problemsTotal === 0,
      dir,
      checked: { files: 0, sessions: 0, events: 0 },
      ...extra,
      durationMs: Math.round(ms),
      eventsPerSecond: ms > 0 ? Math.round(events / (ms / 1000)) : 0,
      problems,
      problemsTotal,
      warnings,
    };
  };

  // Worker threads take a while to start: they start now, while the manifest is read.
  const eventsPath = join(dir, FILES.events);
  const eventsBytes = isRegularFile(eventsPath) ? statSync(eventsPath).size : 0;
  const threads = options.workers ?? (eventsBytes >= EVENTS_FOR_WORKERS ? availableParallelism() : 0);
  const runner = threads > 0 ? workerPool(threads) : inThread();
  try {
    // The manifest: what should be here.
    const manifestPath = join(dir, 'manifest.json');
    let raw: Buffer;
    let parsed: unknown;
    try {
      // A link to a device or a FIFO would be read forever: only a regular file is a manifest.
      if (!isRegularFile(manifestPath)) throw new Error(existsSync(manifestPath) ? 'not a regular file' : 'there is no such file');
      raw = readFileSync(manifestPath);
      parsed = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      report({ kind: 'manifest_unreadable', file: 'manifest.json', message: `manifest.json cannot be read as JSON: ${e instanceof Error ? e.message : String(e)}` });
      return finish();
    }
    const manifestSha256 = createHash('sha256').update(raw).digest('hex');
    const checkedManifest = checkManifest(parsed);
    if ('problems' in checkedManifest) {
      for (const m of checkedManifest.problems) report({ kind: 'manifest_invalid', file: 'manifest.json', message: `manifest.json: ${m}` });
      return finish({ manifestSha256 });
    }
    return await verifyFolder(dir, checkedManifest.manifest, manifestSha256, options, runner, report, () => problemsTotal, warnings, finish);
  } finally {
    await runner.close();
  }
}

async function verifyFolder(
  dir: string,
  manifest: Manifest,
  manifestSha256: string,
  options: VerifyOptions,
  runner: TaskRunner,
  report: (p: Problem) => void,
  problemsTotal: () => number,
  warnings: string[],
  finish: (extra?: Partial<VerifyResult>) => VerifyResult,
): Promise<VerifyResult> {
  // Files: present, and byte for byte what the manifest says. Hashed once, in parallel; the
  // derived-file checks below reuse these digests.
  const digests = new Map<string, Promise<{ sha256: string; bytes: number }>>();
  for (const [name] of Object.entries(manifest.files)) {
    if (!/^[\w.-]+$/.test(name) || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (!existsSync(path) || !statSync(path).isFile()) continue;
    const p = runner.run<{ sha256: string; bytes: number }>({ kind: 'sha256File', path });
    p.catch(() => {});
    digests.set(name, p);
  }
  const digestOf = async (name: string) => (await (digests.get(name) ?? sha256File(join(dir, name)))).sha256;
  let filesChecked = 0;
  for (const name of Object.values(FILES)) {
    if (!Object.hasOwn(manifest.files, name)) report({ kind: 'manifest_invalid', file: 'manifest.json', field: `files.${name}`, message: `manifest.json lists no digest for ${name}` });
  }
  for (const [name, entry] of Object.entries(manifest.files)) {
    if (!/^[\w.-]+$/.test(name) || name.startsWith('.')) {
      report({ kind: 'manifest_invalid', file: 'manifest.json', field: `files.${name}`, message: `manifest.json names a file outside the folder: ${JSON.stringify(name)}` });
      continue;
    }
    const path = join(dir, name);
    if (!existsSync(path) || !statSync(path).isFile()) {
      report({ kind: 'file_missing', file: name, message: `${name} is missing` });
      continue;
    }
    filesChecked++;
    const actual = await digests.get(name)!;
    if (actual.sha256 !== entry.sha256) {
      report({ kind: 'file_changed', file: name, message: `${name} changed: sha256 ${actual.sha256.slice(0, 16)}… (${actual.bytes} bytes), the manifest says ${entry.sha256.slice(0, 16)}… (${entry.bytes} bytes)` });
    }
  }
  for (const name of readdirSync(dir)) {
    if (name === 'manifest.json' || name === 'samples' || Object.hasOwn(manifest.files, name)) continue;
    warnings.push(`${name} is not part of the export (not in the manifest); it was not checked`);
  }

  const votes = resolveVoteKey(manifest, options.votePublicKey, report);

  // The signed checkpoints, when given: loaded and checked before the events, which are dated against them.
  let validCheckpoints: readonly Checkpoint[] = [];
  let checkpointsChecked: number | undefined;
  if (options.checkpoints !== undefined) {
    try {
      const source = await loadCheckpointSource(options.checkpoints, { publicKey: options.publicKey, gcs: options.gcs });
      for (const u of source.listing.unreadable) report({ kind: 'checkpoint_unreadable', file: u.name, message: `${u.name} in ${source.describe} is not a checkpoint (${u.reason})` });
      const checked = verifyCheckpointChain(source.listing.checkpoints, source.publicKeyPem!);
      for (const p of checked.problems) report({ kind: p.kind, message: p.message });
      validCheckpoints = checked.valid;
      checkpointsChecked = source.listing.checkpoints.length;
      if (source.listing.checkpoints.length === 0) report({ kind: 'not_covered', message: `${source.describe} holds no checkpoints` });
    } catch (e) {
      if (!(e instanceof SourceFailure)) throw e;
      report({ kind: e.code, message: e.message });
    }
  }
  const section = manifest.log ?? undefined;
  // Events and leaves: proved clean with every core, or read again by the full pass, which names
  // every problem (clean-pass/index.ts says why a clean verdict can be trusted).
  // A run longer than leaves.jsonl could hold is refused before any buffer is sized by it (a
  // manifest claiming 10^15 leaves must be an answer, not an allocation failure).
  const leavesPath = join(dir, LEAVES_FILE);
  const runFits = !section || section.end - section.start <= Math.floor((isRegularFile(leavesPath) ? statSync(leavesPath).size : 0) / MIN_LEAF_LINE_BYTES);
  if (section && !runFits) {
    report({ kind: 'leaf_missing', file: LEAVES_FILE, message: `the manifest's run [${section.start}, ${section.end}) has ${section.end - section.start} leaves; ${LEAVES_FILE} is too small to hold them` });
  }
  const cleanRun = options.fullPass || !runFits ? undefined : cleanPass({ dir, manifest, runner, section, checkpoints: validCheckpoints, votePublicKeyPem: votes.key?.publicKeyPem });
  // The Merkle root over the chain heads needs only the manifest: computed while the workers
  // read the events (at 100k sessions it is 200k hashes), and checked below.
  const headsRoot = chainHeadsRoot(manifest.chainHeads);
  const clean = await cleanRun;
  const root = await headsRoot;
  let logCheck: LogCheck | undefined;
  if (section) {
    if (!clean && runFits) {
      logCheck = new LogCheck(section, new Set(manifest.chainHeads.map((h) => h.sessionId)), manifest.range, report, validCheckpoints);
      if (isRegularFile(leavesPath)) await logCheck.readLeaves(leavesPath);
      else if (section.end > section.start) report({ kind: 'leaf_missing', file: LEAVES_FILE, message: `${LEAVES_FILE} is missing` });
    }
  } else if (options.checkpoints !== undefined || options.expectRoot !== undefined) {
    report({ kind: 'not_covered', file: 'manifest.json', field: 'log', message: 'the manifest has no place in the global log (no log section): nothing ties this export to a signed root' });
  }
  let coveredBy: Checkpoint | undefined;
  if (section && options.checkpoints !== undefined) {
    const c = section.checkpoint;
    const sameSize = validCheckpoints.filter((v) => v.treeSize === section.treeSize);
    // The very checkpoint the export names; or the latest signed for the same tree.
    coveredBy = sameSize.find((v) => c !== null && v.signature === c.signature && v.time === c.time) ?? sameSize.filter((v) => v.rootHash === section.rootHash).at(-1);
    if (c === null) {
      report({ kind: 'not_covered', file: 'manifest.json', field: 'log.checkpoint', message: `no signed checkpoint covered this export when it was made (tree of ${section.treeSize} leaves): export it again once one does` });
    } else if (c.treeSize !== section.treeSize || c.rootHash !== section.rootHash) {
      report({ kind: 'root_mismatch', file: 'manifest.json', field: 'log.checkpoint', message: 'the manifest names a checkpoint of another tree than the one its proof is for' });
    } else if (sameSize.length && !coveredBy) {
      report({ kind: 'root_mismatch', file: 'manifest.json', field: 'log.rootHash', message: `the signed checkpoint of ${section.treeSize} leaves has root ${sameSize[0]!.rootHash}, the export was proved against ${section.rootHash}` });
    } else if (!coveredBy) {
      report({ kind: 'not_covered', file: 'manifest.json', field: 'log.checkpoint', message: `the checkpoint of ${section.treeSize} leaves the export names is not among the valid signed checkpoints of ${options.checkpoints}` });
    } else if (!(Date.parse(coveredBy.time) >= Date.parse(manifest.range.to) + CLOCK_MARGIN_MS)) {
      // Signed before the range ended (plus the clock margin, as export picks it): an event dated
      // up to the margin before a checkpoint may be appended after it (leaf_backdated allows that
      // much), so only a checkpoint signed that long after the end holds every session of the range.
      const coverFrom = Date.parse(manifest.range.to) + CLOCK_MARGIN_MS;
      const later = validCheckpoints.find((v) => Date.parse(v.time) >= coverFrom);
      report({ kind: 'not_covered', file: 'manifest.json', field: 'log.checkpoint', message: `the export is proved against a checkpoint signed ${coveredBy.time}, less than ${CLOCK_MARGIN_MS / 60_000} minutes after its range ends (${manifest.range.to})${later ? `; export it again: the checkpoint of ${later.treeSize} leaves (${later.time}) covers it` : ''}` });
    }
    // The run must span every leaf a session of the range can have (run-bounds.ts says why).
    if (c !== null) for (const p of runBoundsProblems(section, manifest.range, validCheckpoints)) report(p);
  }
  if (options.expectRoot !== undefined) {
    const want = options.expectRoot.toLowerCase();
    const known = new Set([section?.rootHash, ...validCheckpoints.map((c) => c.rootHash)].filter(Boolean));
    if (!known.has(want)) {
      report({ kind: 'root_mismatch', field: '--expect-root', message: `--expect-root ${want.slice(0, 16)}… is neither the root this export is proved against nor that of a verified checkpoint` });
    }
  }

  // The Merkle root follows from the chain heads, in export order.
  if (root !== manifest.merkle.root) {
    report({ kind: 'merkle_root_mismatch', file: 'manifest.json', field: 'merkle.root', message: `the Merkle root over the manifest's ${manifest.chainHeads.length} chain heads is ${root}, the manifest says ${manifest.merkle.root}` });
  }
  // Only sessions that started in the range: what export selects (range-check.ts says why it matters).
  for (const p of sessionsOutsideRange(manifest)) report(p);
  if (manifest.merkle.leaves !== manifest.chainHeads.length) {
    report({ kind: 'manifest_mismatch', file: 'manifest.json', field: 'merkle.leaves', message: `merkle.leaves is ${manifest.merkle.leaves}, but there are ${manifest.chainHeads.length} chain heads` });
  }

  // Events, session block by session block.
  const events = join(dir, FILES.events);
  const walk = clean
    ? { ...clean, eventProblems: 0 }
    : isRegularFile(events)
      ? await walkEvents(events, manifest, report, logCheck, votes, runner)
      : { sessions: 0, events: 0, eventProblems: 1, derived: undefined, votes: 0 };
  if (walk.votes > 0 && votes.key === undefined && votes.keyFrom !== '--vote-public-key') {
    report({ kind: 'vote_public_key_missing', file: 'manifest.json', field: 'votes', message: `events.jsonl holds ${walk.votes} approval votes and no approval desk key is known to check their signatures: pass --vote-public-key FILE (the desk's published key)` });
  }
  await logCheck?.finish(runner);
  if (walk.derived) {
    checkCounts(manifest, walk.derived, report);
    // Only meaningful when the events themselves hold: otherwise the events problems say it all.
    if (walk.eventProblems === 0) {
      await checkDerived(dir, walk.derived.files, report, digestOf);
      await checkReport(dir, manifest, walk.derived, report, digestOf);
    }
  }
  const verification = readJson(join(dir, FILES.verification));
  if (verification !== undefined && (verification as { merkleRoot?: unknown }).merkleRoot !== manifest.merkle.root) {
    report({ kind: 'manifest_mismatch', file: FILES.verification, field: 'merkleRoot', message: `${FILES.verification} names a different Merkle root than manifest.json` });
  }
  // The export's own verdict on the store: believed only when it says something is wrong. Verify
  // re-checks what it can from the events, but a problem the export found in the store (a broken
  // chain, a gap in the log) must not come out of verify as "ok" because the folder is intact.
  if (problemsTotal() === 0 && verification !== undefined && (verification as { ok?: unknown }).ok === false) {
    const v = verification as { chainsBroken?: unknown; logProblems?: unknown; votes?: { problems?: unknown } | null };
    const logProblems = Array.isArray(v.logProblems) ? v.logProblems.length : 0;
    const votes = Number(v.votes?.problems) || 0;
    report({ kind: 'export_reported_problems', file: FILES.verification, field: 'ok', message: `${FILES.verification} says the export found the store not intact (${Number(v.chainsBroken) || 0} broken chains, ${logProblems} problems with the log, ${votes} votes the desk's key does not prove): this evidence shows a log that does not hold` });
  }
  const counts = walk.derived?.counts;
  const outcomes = counts ? { unknown: counts.unknownOutcomes ?? 0, rolledBack: counts.rolledBack ?? 0, failed: counts.failedExecutions, executed: counts.executed } : undefined;
  const logRoot = section
    ? { treeSize: section.treeSize, rootHash: section.rootHash, ...(coveredBy ? { checkpoint: { time: coveredBy.time, logId: coveredBy.logId } } : {}) }
    : undefined;
  const votesOut = { ...(votes.key ? { fingerprint: votes.key.fingerprint } : {}), keyFrom: votes.keyFrom, checked: walk.votes };
  return finish({ manifestSha256, merkleRoot: manifest.merkle.root, logRoot, checkpointsChecked, votes: votesOut, checked: { files: filesChecked + 1, sessions: walk.sessions, events: walk.events }, pass: clean ? 'clean' : 'full', ...(outcomes ? { outcomes } : {}) });
}

/**
 * merkleRoot over the chain heads, a slice at a time: the main thread also feeds the clean pass's
 * workers their chunks, and a 200k-hash computation in one go would leave them waiting.
 */
async function chainHeadsRoot(heads: Manifest['chainHeads']): Promise<string> {
  const tree = new MerkleAccumulator();
  for (let i = 0; i < heads.length; i++) {
    tree.add(merkleLeaf(heads[i]!.sessionId, heads[i]!.head));
    if (i % 4096 === 4095) await new Promise((resolve) => setImmediate(resolve));
  }
  return tree.root();
}

interface DerivedOutput {
  readonly counts: Counts;
  readonly policyVersions: readonly PolicyVersion[];
  readonly files: Readonly<Record<string, string>>;
  readonly reportSessions: ReportCollector;
}

async function walkEvents(path: string, manifest: Manifest, report: (p: Problem) => void, logCheck: LogCheck | undefined, votes: ResolvedVoteKey, runner: TaskRunner) {
  const expected = new Map(manifest.chainHeads.map((h, i) => [h.sessionId, { ...h, index: i }]));
  const seen = new Set<string>();
  const gaps = new Map<string, Gap[]>();
  const deriver = new Deriver();
  // Each derived file's lines, hashed 64 KB at a time: one native call per line (three per
  // session) cost more than the hashing itself.
  const digests = Object.fromEntries(DERIVED_FILES.map((f) => [f, batchedHash()]));
  // report.html's sessions, selected exactly as export selected them.
  const reportSessions = new ReportCollector({ ...DEFAULT_REPORT_LIMITS, ...manifest.report?.limits });
  digests[FILES.population]!.update(populationHeader());
  let eventProblems = 0;
  let eventCount = 0;
  let voteCount = 0;
  const flag = (p: Problem) => {
    eventProblems++;
    report(p);
  };

  let blockId: string | undefined;
  let block: Found[] = [];
  const closeBlock = () => {
    if (blockId === undefined) return;
    const sessionId = blockId;
    const found = block;
    blockId = undefined;
    block = [];
    if (seen.has(sessionId)) return strays(sessionId, found);
    seen.add(sessionId);
    const want = expected.get(sessionId);
    if (!want) {
      flag({ kind: 'session_inserted', file: FILES.events, line: found[0]!.line, sessionId, message: `events.jsonl holds ${found.length} events of session ${sessionId}, which the manifest does not list (first at line ${found[0]!.line})` });
      return;
    }
    const check = checkSessionBlock(sessionId, found, want);
    for (const p of check.problems) flag(p);
    const blockHolds = check.problems.length === 0 && check.gaps.length === 0;
    if (check.gaps.length) gaps.set(sessionId, check.gaps);
    const first = found.reduce((a, b) => (b.event.seq < a.event.seq ? b : a)).event;
    if (first.seq === 0 && first.at !== want.startedAt) {
      flag({ kind: 'manifest_mismatch', file: 'manifest.json', field: `chainHeads[${want.index}].startedAt`, sessionId, message: `the manifest says session ${sessionId} started ${want.startedAt}, its first event says ${first.at}` });
    }
    // Derived files, exactly as export wrote them. In seq order, so a reordering is reported
    // once (above) rather than again as every count it would otherwise disturb.
    const sorted = [...found].sort((a, b) => a.event.seq - b.event.seq);
    const evs = sorted.map((f) => f.event);
    // Votes: signed by the approval desk, or flagged (not event problems: the derived files still follow).
    const voteEvents = evs.filter(isVoteEvent).length;
    if (voteEvents > 0) {
      voteCount += voteEvents;
      const foundOf = (e: SessionEvent) => found.find((f) => f.event === e);
      if (votes.key) for (const p of voteProblems(evs, votes.key, (e) => foundOf(e)?.line, (e) => foundOf(e)?.voteSignatureHolds === true)) report(p);
    }
    // Out of the gateway's order of events (audit/protocol.ts): appended with the log's write
    // rights, not written by the gateway. Not an event problem either: the derived files follow.
    const outOfOrder = protocolBreak(evs);
    if (outOfOrder) {
      const at = found.find((f) => f.event.seq === outOfOrder.seq);
      report({ kind: 'event_out_of_protocol', file: FILES.events, ...(at ? { line: at.line } : {}), sessionId, seq: outOfOrder.seq, message: `session ${sessionId}: ${outOfOrder.message}` });
    }
    // A block with no problems is a chain verifyChain passes (same checks, already made): hash
    // each event once, not twice — hashing is most of verify's time.
    const chainProblems = blockHolds ? [] : verifyChain(sessionId, evs, hashOrMismatch);
    const d = deriver.add(evs, chainProblems);
    let eventLines = '';
    for (const f of sorted) eventLines += `${f.text ?? JSON.stringify(f.event)}\n`;
    reportSessions.addSession({ eventLines, approvals: d.approvals, problems: chainProblems });
    digests[FILES.sessions]!.update(d.sessionLine);
    for (const l of d.approvalLines) digests[FILES.approvals]!.update(l);
    digests[FILES.population]!.update(d.populationLine);
  };
  // A session's events found after another session's: moved here (reordered) or added (inserted).
  const strays = (sessionId: string, found: Found[]) => {
    const open = gaps.get(sessionId) ?? [];
    for (const f of found) {
      const gap = open.findIndex((g) => g.through === undefined && g.seq === f.event.seq && (g.expectedHash === undefined || g.expectedHash === f.event.hash));
      if (gap >= 0) {
        open.splice(gap, 1);
        flag({ kind: 'event_reordered', file: FILES.events, line: f.line, sessionId, seq: f.event.seq, message: `event ${f.event.seq} of session ${sessionId} is at line ${f.line}, outside its session's block` });
      } else {
        flag({ kind: 'event_inserted', file: FILES.events, line: f.line, sessionId, seq: f.event.seq, message: `event ${f.event.seq} of session ${sessionId} at line ${f.line}, outside its session's block, is not one its chain is missing` });
      }
    }
  };

  // A chunk's lines at a time: one await per chunk, not one per line (88k microtasks per 20k sessions).
  for await (const chunk of eventLines(path, runner, votes.key?.publicKeyPem)) {
    for (let i = 0; i < chunk.texts.length; i++) {
      const line = chunk.firstLine + i;
      const text = chunk.texts[i]!;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const event = asEvent(parsed);
      if (typeof event === 'string') {
        flag({ kind: 'event_unreadable', file: FILES.events, line, message: `line ${line} of events.jsonl is not an event (${event})` });
        continue;
      }
      eventCount++;
      logCheck?.onEvent(event, line);
      if (event.sessionId !== blockId) {
        closeBlock();
        blockId = event.sessionId;
      }
      const b = chunk.bits?.[i] ?? 0;
      const found: { -readonly [K in keyof Found]: Found[K] } = { event, line, text };
      if (b & HASH_HOLDS) found.hashHolds = true;
      if (b & VOTE_SIGNATURE_HOLDS) found.voteSignatureHolds = true;
      block.push(found);
    }
  }
  closeBlock();

  for (const [sessionId, open] of gaps) {
    for (const g of open) {
      const which = g.through === undefined ? `event ${g.seq}` : `events ${g.seq}…${g.through}`;
      flag({ kind: 'event_missing', file: FILES.events, sessionId, seq: g.seq, message: `${which} of session ${sessionId} ${g.through === undefined ? 'is' : 'are'} missing from events.jsonl` });
    }
  }
  for (const h of manifest.chainHeads) {
    if (!seen.has(h.sessionId)) {
      flag({ kind: 'session_missing', file: FILES.events, sessionId: h.sessionId, message: `session ${h.sessionId} (${h.events} events, started ${h.startedAt}) is in the manifest but has no events in events.jsonl` });
    }
  }
  const files = Object.fromEntries(Object.entries(digests).map(([k, h]) => [k, h.digest()]));
  return { sessions: seen.size, events: eventCount, eventProblems, derived: { counts: deriver.counts, policyVersions: deriver.policyVersions(), files, reportSessions } satisfies DerivedOutput, votes: voteCount };
}

/**
 * events.jsonl a chunk of lines at a time (numbered from 1, split as readline splits), read in
 * chunks; with workers, each chunk's lines are hashed there a few chunks ahead, and `bits` says,
 * line by line, what a worker found to hold (verify-tasks.ts). Without bits, everything is checked here.
 */
async function* eventLines(path: string, runner: TaskRunner, votePublicKeyPem?: string): AsyncGenerator<{ firstLine: number; texts: readonly string[]; bits?: Uint8Array }> {
  const AHEAD = Math.max(2, runner.threads * 2);
  const pool = new ChunkPool();
  const chunks = fileChunks(path, undefined, pool);
  const window: { bytes: Buffer; bits?: Promise<Uint8Array | undefined> }[] = [];
  const fill = () => {
    while (window.length < AHEAD) {
      const next = chunks.next();
      if (next.done) return;
      const bytes = next.value;
      const bits = runner.threads > 0 ? runner.run<Uint8Array>({ kind: 'eventHashBits', bytes, ...(votePublicKeyPem ? { votePublicKeyPem } : {}) }).catch(() => undefined) : undefined;
      window.push({ bytes, bits });
    }
  };
  let line = 0;
  fill();
  while (window.length) {
    const { bytes, bits } = window.shift()!;
    fill();
    const known = bits ? await bits : undefined;
    const texts = splitLines(bytes.toString('utf8'));
    // Decoded, and the worker's answer in: the chunk's memory can hold another.
    pool.give(bytes);
    // A worker that split the chunk differently answers for other lines: believe none of it.
    const aligned = known && known.length === texts.length ? known : undefined;
    yield { firstLine: line + 1, texts, ...(aligned ? { bits: aligned } : {}) };
    line += texts.length;
  }
}

interface ResolvedVoteKey {
  readonly key?: VoteKey;
  readonly keyFrom: '--vote-public-key' | 'manifest' | 'none';
}

/** The key votes are checked with: the published one when given (and the manifest must agree), else the manifest's. */
function resolveVoteKey(manifest: Manifest, path: string | undefined, report: (p: Problem) => void): ResolvedVoteKey {
  const inManifest = manifest.votes?.publicKeyPem;
  const fromManifest = typeof inManifest === 'string' ? voteKeyOf(inManifest) : undefined;
  if (typeof fromManifest === 'string') report({ kind: 'manifest_invalid', file: 'manifest.json', field: 'votes.publicKeyPem', message: `manifest.json names an approval desk key that is ${fromManifest}` });
  const manifestKey = typeof fromManifest === 'object' ? fromManifest : undefined;
  if (path === undefined) return manifestKey ? { key: manifestKey, keyFrom: 'manifest' } : { keyFrom: 'none' };
  let given: VoteKey | string;
  try {
    given = voteKeyOf(readFileSync(path, 'utf8'));
  } catch {
    given = 'unreadable';
  }
  if (typeof given === 'string') {
    // Fail closed: no vote can be believed without the key the auditor meant to check them with.
    report({ kind: 'vote_public_key_missing', field: '--vote-public-key', message: `--vote-public-key ${path}: ${given === 'unreadable' ? 'cannot be read' : `is ${given}`}` });
    return { keyFrom: '--vote-public-key' };
  }
  if (manifestKey && manifestKey.fingerprint !== given.fingerprint) {
    report({ kind: 'vote_public_key_mismatch', file: 'manifest.json', field: 'votes.publicKeyPem', message: `the manifest names approval desk key ${manifestKey.fingerprint.slice(0, 16)}…, the published key given is ${given.fingerprint.slice(0, 16)}…: votes are checked against the published key` });
  }
  return { key: given, keyFrom: '--vote-public-key' };
}

function checkCounts(manifest: Manifest, derived: DerivedOutput, report: (p: Problem) => void): void {
  const diffs: string[] = [];
  // Exports made before the outcome protocol have no rolledBack / unknownOutcomes counts: absent
  // there is not a claim of 0, and such an export must still verify.
  const claimed = manifest.counts as unknown as Record<string, unknown>;
  const actual: Record<string, unknown> = { ...derived.counts };
  for (const k of ['rolledBack', 'unknownOutcomes']) if (claimed && !Object.hasOwn(claimed, k)) delete actual[k];
  diff('counts', actual, manifest.counts, diffs);
  for (const path of diffs) {
    report({ kind: 'manifest_mismatch', file: 'manifest.json', field: path.split(':')[0], message: `manifest ${path}` });
  }
  if (JSON.stringify(derived.policyVersions) !== JSON.stringify(manifest.policyVersions)) {
    report({ kind: 'manifest_mismatch', file: 'manifest.json', field: 'policyVersions', message: 'manifest policyVersions differ from the policies named by the decisions in events.jsonl' });
  }
}

async function checkDerived(dir: string, regenerated: Readonly<Record<string, string>>, report: (p: Problem) => void, digestOf: (name: string) => Promise<string>): Promise<void> {
  for (const name of DERIVED_FILES) {
    const path = join(dir, name);
    if (!isRegularFile(path)) continue; // already reported missing
    const actual = await digestOf(name);
    if (actual !== regenerated[name]) {
      report({ kind: 'derived_file_mismatch', file: name, message: `${name} is not what events.jsonl yields (sha256 ${actual.slice(0, 16)}…, derived ${regenerated[name]!.slice(0, 16)}…)` });
    }
  }
}

/**
 * report.html, rendered again from the verified events, verification.json (itself digest-checked)
 * and the manifest's own fields, and compared byte for byte: an edited report with its digest
 * fixed in the manifest is still caught.
 */
async function checkReport(dir: string, manifest: Manifest, derived: DerivedOutput, report: (p: Problem) => void, digestOf: (name: string) => Promise<string>): Promise<void> {
  const path = join(dir, FILES.report);
  if (!isRegularFile(path)) return; // already reported missing
  const verification = readJson(join(dir, FILES.verification)) as { ok?: unknown } | undefined;
  if (verification === undefined) return; // reported missing or changed above
  const hash = createHash('sha256');
  const counts = derived.counts;
  const policyVersions = derived.policyVersions;
  await writeReport(
    { write: async (text: string) => void hash.update(text, 'utf8') },
    {
      generatedAt: manifest.generatedAt,
      source: manifest.source,
      range: manifest.range,
      merkleRoot: manifest.merkle.root,
      merkleDefinition: MERKLE_DEFINITION,
      counts,
      policyVersions,
      verification,
      soc2: soc2Criteria(counts, policyVersions, verification.ok === true),
      report: { sessionsEmbedded: manifest.report.sessionsEmbedded, sessionsTotal: manifest.report.sessionsTotal, note: manifest.report.note },
    } as Parameters<typeof writeReport>[1],
    derived.reportSessions.entries(),
  );
  const derivedSha = hash.digest('hex');
  const actual = await digestOf(FILES.report);
  if (actual !== derivedSha) {
    report({ kind: 'derived_file_mismatch', file: FILES.report, message: `${FILES.report} is not what events.jsonl, verification.json and the manifest yield (sha256 ${actual.slice(0, 16)}…, derived ${derivedSha.slice(0, 16)}…)` });
  }
}

/** Paths where two JSON values differ, as `path: expected X, found Y`. */
function diff(path: string, actual: unknown, claimed: unknown, out: string[]): void {
  if (typeof actual === 'object' && actual !== null && typeof claimed === 'object' && claimed !== null) {
    const keys = new Set([...Object.keys(actual), ...Object.keys(claimed)]);
    for (const k of keys) diff(`${path}.${k}`, field(actual, k) ?? 0, field(claimed, k) ?? 0, out);
    return;
  }
  if (actual !== claimed) out.push(`${path}: says ${JSON.stringify(claimed)}, events.jsonl gives ${JSON.stringify(actual)}`);
}

function readJson(path: string): unknown {
  try {
    return isRegularFile(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `path` is a regular file (a link is followed). Anything else named like an export's
 * file — a directory, a link to /dev/zero or a FIFO — is missing: reading it would fail, or never end.
 */
function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * fastHashEvent for verifyChain, which must not throw: content canonical JSON refuses (a lone
 * surrogate, from a \ud800 escape) has no hash, so it gets one no event's hash can be (not hex).
 */
function hashOrMismatch(e: Omit<SessionEvent, 'hash'>): string {
  try {
    return fastHashEvent(e);
  } catch {
    return '(no hash: not canonical JSON)';
  }
}
