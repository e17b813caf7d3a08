// The export's place in the global Merkle log (shared/transparency/). Beside the sessions of the
// time range, an export carries every leaf of a contiguous run of the log — leaves.jsonl — and one
// range proof from that run to a signed checkpoint's root. So verify can show, holding only the
// folder, the checkpoints and the public key: every exported event is in the signed log, no
// event of an exported session was left out, and no session that started in the range is
// missing — including one whose listing columns were edited to move it out of the range, since
// the first event of every session in the run travels with its leaf.
//
// The run [start, end): from the last checkpoint signed before `from` (less a margin for clock
// skew) — every leaf after it was appended after that time — to the first checkpoint signed
// after `to` (plus the margin) that covers every exported event. Without such checkpoints, the
// run is the exported events' own span, and the proof goes to the log's current size (verify
// with --checkpoints then says the export is not covered by a checkpoint).
import { constants } from 'node:buffer';
import type { SessionEvent } from '../audit/events.ts';
import { GatehouseError } from '../errors.ts';
import type { LogLeaf, LogLeafReader, SessionLog } from '../ports.ts';
import type { Checkpoint } from '../transparency/checkpoint.ts';
import { packedDigests } from '../transparency/checkpointer.ts';
import { rangeProof, TREE_DEFINITION } from '../transparency/merkle-tree.ts';
import { leafHashInto, packedTreeHash } from './leaf-hashes.ts';
import type { HashedFile } from './files.ts';
import { jsonLine } from './derive.ts';
import { eventHashHolds } from './event-hash.ts';
import { CLOCK_MARGIN_MS, leafDating, type Misdated } from './leaf-dating.ts';

export const LEAVES_FILE = 'leaves.jsonl';

export interface LogSection {
  readonly definition: string;
  /** The tree the proof is against: a signed checkpoint's, or the log's size at export time. */
  readonly treeSize: number;
  readonly rootHash: string;
  /** leaves.jsonl holds exactly the leaves with index in [start, end). */
  readonly start: number;
  readonly end: number;
  /** RFC 6962 subtree hashes outside [start, end), in MTH recursion order (merkle-tree.ts rangeProof). */
  readonly proof: readonly string[];
  /** The signed checkpoint of treeSize, or null when none covered the export when it was made. */
  readonly checkpoint: Checkpoint | null;
  /** Exported events without a global index (stored before the global log existed). */
  readonly eventsWithoutIndex: number;
}

export interface CoverageProblem {
  /** listing_tampered: found by export.ts in the store's listing, not in the log's leaves. */
  readonly kind: 'root_mismatch' | 'leaf_missing' | 'leaf_inserted' | 'session_missing' | 'listing_tampered' | Misdated['kind'];
  readonly message: string;
  readonly sessionId?: string;
  readonly index?: number;
}

/** Tracks the exported events' indices while export writes them. */
export class CoverageTracker {
  min = Infinity;
  max = -Infinity;
  withoutIndex = 0;
  readonly sessions = new Set<string>();
  readonly hashes = new HashesByIndex();
  /**
   * Events without an index that cannot be from before the global log: one that follows an indexed
   * event of its session (the log existed when it was stored). Kept to name them (the first few).
   */
  readonly strays: { sessionId: string; seq: number }[] = [];
  straysTotal = 0;
  /** The latest-dated event without an index, to hold against the first signed checkpoint. */
  latestUnindexed?: { sessionId: string; seq: number; atMs: number; at: string };
  /** Indexed events dated as their place in the log does not allow (the first few), and how many. */
  readonly misdated: CoverageProblem[] = [];
  misdatedTotal = 0;
  /** The dating check against the export's valid checkpoints (leaf-dating.ts), as verify makes it. */
  readonly dating: ReturnType<typeof leafDating>;

  constructor(checkpoints: readonly Checkpoint[] = []) {
    this.dating = leafDating(checkpoints);
  }

  noteMisdated(found: readonly Misdated[], sessionId: string, index: number): void {
    for (const wrong of found) {
      this.misdatedTotal++;
      if (this.misdated.length < 20) this.misdated.push({ kind: wrong.kind, sessionId, index, message: wrong.message });
    }
  }

  /** One session's events, in seq order. */
  add(events: readonly SessionEvent[]): void {
    let indexed = false;
    for (const e of events) {
      this.sessions.add(e.sessionId);
      if (e.index === undefined) {
        this.withoutIndex++;
        if (indexed) {
          this.straysTotal++;
          if (this.strays.length < 20) this.strays.push({ sessionId: e.sessionId, seq: e.seq });
        }
        const atMs = Date.parse(e.at);
        if (!(atMs <= (this.latestUnindexed?.atMs ?? -Infinity))) this.latestUnindexed = { sessionId: e.sessionId, seq: e.seq, atMs, at: e.at };
        continue;
      }
      indexed = true;
      this.noteMisdated(this.dating(e as SessionEvent & { index: number }), e.sessionId, e.index);
      if (e.index < this.min) this.min = e.index;
      if (e.index > this.max) this.max = e.index;
      this.hashes.set(e.index, e.hash);
    }
  }
}

/** The tree an export is proved against, fixed before any session is read. */
export interface CoveragePlan {
  readonly treeSize: number;
  /** The signed checkpoint of treeSize, when one covers the range. */
  readonly cover?: Checkpoint;
  /** The last checkpoint signed before the range (less the margin): the run starts at its size. */
  readonly before?: Checkpoint;
  /** The earliest-signed checkpoint: from (its time + the margin) on, every event stored has an index. */
  readonly first?: Checkpoint;
  readonly withCheckpoints: boolean;
}

/**
 * The last checkpoint (tree order) signed at least the clock margin before `fromMs`: every leaf
 * after its tree was appended after that time, so no session of a range starting at `fromMs` can
 * have a leaf before it. An export's run starts at its size (or earlier); verify holds it to that
 * (run-bounds.ts).
 */
export function lastSignedBefore<C extends Pick<Checkpoint, 'time'>>(checkpoints: readonly C[], fromMs: number): C | undefined {
  return checkpoints.filter((c) => Date.parse(c.time) <= fromMs - CLOCK_MARGIN_MS).at(-1);
}

export async function planCoverage(log: LogLeafReader, range: { from: Date; to: Date }, checkpoints: readonly Checkpoint[] | undefined): Promise<CoveragePlan> {
  const current = await log.treeSize();
  const list = checkpoints ?? [];
  const before = lastSignedBefore(list, range.from.getTime());
  // The first checkpoint after the range's end: it holds every session that started in the range
  // and every event appended up to then. Failing that, the latest one; failing that, none.
  // Failing one signed after the range, the latest one when it holds everything the log holds now
  // — or more: a checkpoint larger than the log as read means leaves were deleted, and it is still
  // the tree the export is proved against, so the missing leaves are named (writeLogCoverage).
  // Otherwise the export proves against the log as it is, and says it is not covered yet.
  const latest = list.at(-1);
  const cover = list.find((c) => Date.parse(c.time) >= range.to.getTime() + CLOCK_MARGIN_MS) ?? (latest && latest.treeSize >= current ? latest : undefined);
  const first = list.reduce<Checkpoint | undefined>((a, c) => (a === undefined || Date.parse(c.time) < Date.parse(a.time) ? c : a), undefined);
  return { treeSize: cover ? cover.treeSize : current, cover, before, first, withCheckpoints: checkpoints !== undefined };
}

/** Events of a session as of the plan's tree: later ones belong to a later export. */
export function asOfPlan(events: readonly SessionEvent[], plan: CoveragePlan): SessionEvent[] {
  return events.filter((e) => e.index === undefined || e.index < plan.treeSize);
}

export async function writeLogCoverage(
  log: LogLeafReader & Pick<SessionLog, 'read'>,
  plan: CoveragePlan,
  tracker: CoverageTracker,
  range: { from: Date; to: Date },
  out: HashedFile,
): Promise<{ section: LogSection; problems: CoverageProblem[] }> {
  const problems: CoverageProblem[] = [];
  const { treeSize, cover, before } = plan;
  // The size is the store's claim. Beyond what one buffer of leaf hashes can hold (~134 million
  // leaves) it is no log this export could read — a leaf planted far ahead (Firestore's create()
  // lets the writer pick any index): a clear error, not a RangeError or pages read for ever.
  if (Math.max(treeSize, tracker.max + 1) * 32 > constants.MAX_LENGTH) {
    throw new GatehouseError('audit_tampered', `the global log claims ${Math.max(treeSize, tracker.max + 1)} leaves, more than any export can read: a leaf was written far ahead of the log`, { treeSize });
  }
  const spanStart = Number.isFinite(tracker.min) ? tracker.min : Infinity;
  const spanEnd = Number.isFinite(tracker.max) ? tracker.max + 1 : -Infinity;
  let start = Math.min(spanStart, plan.withCheckpoints ? (before?.treeSize ?? 0) : Infinity);
  let end = Math.max(spanEnd, cover ? cover.treeSize : -Infinity);
  if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) {
    // Nothing to cover: no indexed event, no checkpoint run. An empty run proves nothing.
    start = end = 0;
  }
  // One pass over the log's leaves [0, treeSize): every leaf hash, for the root and the proof,
  // and leaves.jsonl for the run [start, end) (within it: asOfPlan keeps every exported index
  // below treeSize). The problems keep their order: reading the hashes first, then the run.
  const packed = Buffer.alloc(treeSize * 32);
  let hashed = 0;
  let unreadable: string | undefined;
  const runProblems: CoverageProblem[] = [];
  // Pages small enough that one page of leaf objects dies young: 10k leaves a page kept ~5 MB alive
  // through every young-generation collection of the pass, copied and promoted each time.
  const PAGE = 2_000;
  let expected = start;
  // Every leaf of a session the export does not hold goes with its event: its hash shows whose
  // event the leaf is (a leaf's sessionId and seq are not hashed), and the first event of such a
  // session shows verify it did not start in the range.
  const others = new OtherSessions(log);
  const last = Math.max(treeSize, end);
  for (let s = 0; s < last; s += PAGE) {
    const page = await log.leaves(s, Math.min(last, s + PAGE));
    // A page's lines are written at once (one write, not one per leaf).
    let lines = '';
    for (const leaf of page) {
      if (unreadable === undefined && leaf.index < treeSize) {
        // As checkpointer.ts readLeafHashes refuses: the first gap, or a hash that is not one.
        if (leaf.index !== hashed) {
          unreadable = `leaf ${hashed} is missing from the log (found ${leaf.index})`;
        } else {
          try {
            leafHashInto(packed, hashed, leaf.hash);
            hashed++;
          } catch (e) {
            unreadable = e instanceof Error ? e.message : String(e);
          }
        }
      }
      if (leaf.index < start || leaf.index >= end) continue;
      if (leaf.index !== expected) {
        runProblems.push({ kind: 'leaf_missing', index: expected, message: `leaves ${expected}…${leaf.index - 1} are missing from the log` });
      }
      expected = leaf.index + 1;
      if (tracker.sessions.has(leaf.sessionId) && !tracker.hashes.holds(leaf.index, leaf.hash)) {
        runProblems.push({ kind: 'leaf_missing', index: leaf.index, sessionId: leaf.sessionId, message: `leaf ${leaf.index} (event ${leaf.seq} of session ${leaf.sessionId}) is in the log but the session as read holds no such event` });
      }
      let event: SessionEvent | undefined;
      if (!tracker.sessions.has(leaf.sessionId)) {
        event = await others.event(leaf.sessionId, leaf.seq, leaf.index);
        if (!event) runProblems.push({ kind: 'leaf_missing', index: leaf.index, sessionId: leaf.sessionId, message: `leaf ${leaf.index} (event ${leaf.seq} of session ${leaf.sessionId}) is in the log but the session as read holds no such event` });
        // Its own hash must be the leaf's: an event moved to this session from another (its row's
        // session id changed by the owner) still sits at its index, but is not what was signed
        // there — the leaf's genuine event, of some other session, is missing from the store.
        else if (event.hash !== leaf.hash || !eventHashHolds(event)) runProblems.push({ kind: 'leaf_missing', index: leaf.index, sessionId: leaf.sessionId, message: `leaf ${leaf.index} (event ${leaf.seq} of session ${leaf.sessionId}) is in the log, but the event the store holds there does not hash to it: the signed event is missing` });
        // Dated as its place allows: one appended within the run but dated before it would pass as
        // a session that started before the range.
        else tracker.noteMisdated(tracker.dating({ sessionId: leaf.sessionId, seq: leaf.seq, index: leaf.index, at: event.at }), leaf.sessionId, leaf.index);
        if (event && leaf.seq === 0 && Date.parse(event.at) >= range.from.getTime() && Date.parse(event.at) < range.to.getTime()) {
          runProblems.push({ kind: 'session_missing', index: leaf.index, sessionId: leaf.sessionId, message: `session ${leaf.sessionId} started ${event.at}, inside the range, but the store's listing left it out` });
        }
      }
      lines += event === undefined ? leafLine(leaf) : jsonLine({ index: leaf.index, sessionId: leaf.sessionId, seq: leaf.seq, hash: leaf.hash, event });
    }
    await out.write(lines);
  }
  if (unreadable === undefined && hashed !== treeSize) unreadable = `the log says it holds ${treeSize} leaves, ${hashed} were read`;
  if (unreadable !== undefined) problems.push({ kind: 'leaf_missing', message: `the log's leaves cannot be read in full: ${unreadable}` });
  const root = unreadable === undefined ? packedTreeHash(packed, treeSize).toString('hex') : '';
  if (cover && root !== cover.rootHash) {
    problems.push({ kind: 'root_mismatch', message: `the log's first ${treeSize} leaves hash to ${root}, the signed checkpoint says ${cover.rootHash}: the store was rewritten after it was signed` });
  }
  const proof = unreadable === undefined && end > start ? rangeProof(packedDigests(packed, treeSize), start, end, treeSize).map((h) => h.toString('hex')) : [];
  problems.push(...runProblems);
  if (expected < end) problems.push({ kind: 'leaf_missing', index: expected, message: `leaves ${expected}…${end - 1} are missing from the log` });
  // Events without a place in the log are only believable as events stored before the log existed.
  // One stored after an indexed event of its session, or dated after the log was first signed, is
  // outside every signed root — nothing signed can show it was forged: what a writer would insert.
  for (const e of tracker.strays) {
    problems.push({ kind: 'leaf_inserted', sessionId: e.sessionId, message: `event ${e.seq} of session ${e.sessionId} has no place in the global log, but follows events that do: it was not appended through the log` });
  }
  problems.push(...tracker.misdated);
  if (tracker.misdatedTotal > tracker.misdated.length) problems.push({ kind: tracker.misdated[0]!.kind, message: `${tracker.misdatedTotal - tracker.misdated.length} more events are dated as their place in the log does not allow` });
  if (tracker.straysTotal > tracker.strays.length) problems.push({ kind: 'leaf_inserted', message: `${tracker.straysTotal - tracker.strays.length} more events without a place in the global log follow events that have one` });
  const u = tracker.latestUnindexed;
  if (u && plan.first && !(u.atMs < Date.parse(plan.first.time) + CLOCK_MARGIN_MS)) {
    problems.push({ kind: 'leaf_inserted', sessionId: u.sessionId, message: `event ${u.seq} of session ${u.sessionId} has no place in the global log, but is dated ${u.at}, after the log's first checkpoint (${plan.first.time}): no event stored then lacks one` });
  }
  for (const [index] of tracker.hashes) {
    if (index < start || index >= end) problems.push({ kind: 'leaf_inserted', index, message: `an exported event claims index ${index}, outside the log run [${start}, ${end})` });
  }
  return {
    section: { definition: TREE_DEFINITION, treeSize, rootHash: cover ? cover.rootHash : root, start, end, proof, checkpoint: cover ?? null, eventsWithoutIndex: tracker.withoutIndex },
    problems,
  };
}

/** jsonLine({ index, sessionId, seq, hash }), put together directly for the ~440k leaves of a large export. */
function leafLine(leaf: LogLeaf): string {
  const { index, sessionId, seq, hash } = leaf;
  // A member JSON.stringify would leave out or write otherwise takes the general path.
  if (typeof index === 'number' && typeof sessionId === 'string' && typeof seq === 'number' && typeof hash === 'string') {
    return `{"index":${JSON.stringify(index)},"sessionId":${JSON.stringify(sessionId)},"seq":${JSON.stringify(seq)},"hash":${JSON.stringify(hash)}}\n`;
  }
  return jsonLine({ index, sessionId, seq, hash });
}

const HEX64 = /^[0-9a-f]{64}$/;
const scratch = Buffer.alloc(32);

/**
 * Events of sessions the export does not hold, read a session at a time as their leaves come up
 * (a few recent sessions kept: a session's leaves sit close together in the log).
 */
class OtherSessions {
  readonly #recent = new Map<string, readonly SessionEvent[]>();
  constructor(private readonly log: Pick<SessionLog, 'read'>) {}

  async event(sessionId: string, seq: number, index: number): Promise<SessionEvent | undefined> {
    let events = this.#recent.get(sessionId);
    if (!events) {
      events = await this.log.read(sessionId);
      this.#recent.set(sessionId, events);
      if (this.#recent.size > 256) this.#recent.delete(this.#recent.keys().next().value!);
    }
    return events.find((e) => e.seq === seq && e.index === index);
  }
}

/**
 * Event hashes by global index, 32 raw bytes each in chunks of 1,024 indices: a Map of 440k hex
 * strings would cost ~50 MB of an export's 160 MB heap; this costs ~14 MB.
 */
export class HashesByIndex {
  readonly #chunks = new Map<number, { bytes: Buffer; present: Uint8Array }>();

  set(index: number, hashHex: string): void {
    const key = Math.floor(index / 1024);
    let c = this.#chunks.get(key);
    if (!c) {
      c = { bytes: Buffer.alloc(1024 * 32), present: new Uint8Array(1024) };
      this.#chunks.set(key, c);
    }
    const at = index % 1024;
    c.bytes.write(hashHex, at * 32, 32, 'hex');
    c.present[at] = 1;
  }

  get(index: number): string | undefined {
    const c = this.#chunks.get(Math.floor(index / 1024));
    const at = index % 1024;
    return c && c.present[at] ? c.bytes.toString('hex', at * 32, at * 32 + 32) : undefined;
  }

  /** Whether get(index) === hashHex, without making the hex string (once per leaf of the export's run). */
  holds(index: number, hashHex: string): boolean {
    const c = this.#chunks.get(Math.floor(index / 1024));
    const at = index % 1024;
    if (!c || !c.present[at]) return false;
    // get() always answers 64 lowercase hex digits: anything else cannot equal it.
    if (typeof hashHex !== 'string' || !HEX64.test(hashHex)) return false;
    scratch.write(hashHex, 0, 32, 'hex');
    return scratch.equals(c.bytes.subarray(at * 32, at * 32 + 32));
  }

  *[Symbol.iterator](): IterableIterator<[number, string]> {
    for (const [key, c] of this.#chunks) {
      for (let at = 0; at < 1024; at++) if (c.present[at]) yield [key * 1024 + at, c.bytes.toString('hex', at * 32, at * 32 + 32)];
    }
  }
}
