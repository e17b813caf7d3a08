// The clean pass over a chunk of events.jsonl (whole sessions, chunks.ts): each line parsed once,
// each session checked from its first event to its last and derived into its lines of the derived
// files and its share of the counts — in a worker thread. The answer is compact (no events go
// back), or undefined as soon as anything is not exactly as a clean export has it; then the full
// pass (verify.ts walkEvents) reads the file again and names every problem.
//
// What "clean" means here is what the full pass would find nothing in: every line an event; its
// place in the signed run of the log (LogCheck.onEvent); each session's events 0…n−1 in order,
// each hash holding and linked to the one before (verify-session.ts intactChain — the count and
// the head are the manifest's, checked by the merge); every type known and every event fitting its
// schema; every vote signed by the desk's key for exactly this vote (votes.ts).
import { isAscii } from 'node:buffer';
import { EVENT_TYPES, type SessionEvent } from '../../audit/events.ts';
import { schemaIssue } from '../../audit/event-schema.ts';
import type { ApprovalFact } from '../approvals.ts';
import { approvalLookup, sessionLines, Tally, type TallySnapshot } from '../derive.ts';
import { eventHashHolds } from '../event-hash.ts';
import { approvalsFor, sessionFacts, type SessionFacts } from '../facts.ts';
import { populationRow } from '../population.ts';
import { CLOCK_MARGIN_MS, isPostdated, latestAtOrBelow, unindexedPredatesLog } from '../leaf-dating.ts';
import { asEvent, unhashedMember } from '../verify-session.ts';
import { isVoteEvent, voteProblems } from '../votes.ts';
import { protocolBreak } from '../../audit/protocol.ts';
import { markOnce, unpack, type PassContext, type Unpacked } from './context.ts';

/** One session of the chunk, in file order: what the merge checks against the manifest and links. */
export interface SessionRecord {
  readonly id: string;
  readonly n: number;
  readonly head: string;
  readonly firstAt: string;
  /** Its lines in the chunk: bytes [start, end), the last line's end not included. */
  readonly start: number;
  readonly end: number;
  /** Its approval events (for the approval index, which crosses sessions). */
  readonly approvals?: readonly ApprovalFact[];
  /** Present when approvals from other sessions count for it: the merge derives its row. */
  readonly linked?: SessionFacts;
}

export interface ChunkResult {
  readonly sessions: readonly SessionRecord[];
  readonly sessionsText: string;
  readonly approvalsText: string;
  /** population.csv rows, cut where a linked session's row goes: one more piece than linked sessions. */
  readonly population: readonly string[];
  /** Counts of the chunk's sessions, but what approvals from elsewhere add to linked ones. */
  readonly tally: TallySnapshot;
  readonly events: number;
  readonly withoutIndex: number;
  readonly votes: number;
}

const KNOWN_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES);

export function eventsChunk(bytes: Uint8Array, pass: PassContext): ChunkResult | undefined {
  const u = unpack(pass);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // readline ends lines at a lone CR too, and export never writes one: not the clean case.
  if (buf.indexOf(13) !== -1) return undefined;
  const tally = new Tally();
  const sessions: SessionRecord[] = [];
  const population: string[] = [];
  let sessionsText = '';
  let approvalsText = '';
  let rows = '';
  let events = 0;
  let withoutIndex = 0;
  let votes = 0;

  let block: SessionEvent[] = [];
  let blockStart = 0;
  let blockEnd = 0;
  const close = (): boolean => {
    if (block.length === 0) return true;
    const evs = block;
    block = [];
    let prev: string | null = null;
    let indexed = false;
    for (let k = 0; k < evs.length; k++) {
      const e = evs[k]!;
      if (e.seq !== k || e.prevHash !== prev || !eventHashHolds(e)) return false;
      if (!KNOWN_TYPES.has(e.type) || schemaIssue(e) !== undefined || unhashedMember(e) !== undefined) return false;
      // Without a place in the log: only before the log existed (LogCheck.onEvent says why).
      if (e.index !== undefined) indexed = true;
      else if (u.ctx.log && (indexed || !unindexedPredatesLog(e.at, u.firstSignedMs))) return false;
      prev = e.hash;
    }
    // Out of the gateway's order: the full pass names it (event_out_of_protocol).
    if (protocolBreak(evs)) return false;
    let voteEvents = 0;
    for (const e of evs) if (isVoteEvent(e)) voteEvents++;
    if (voteEvents > 0) {
      votes += voteEvents;
      if (u.voteKey && voteProblems(evs, u.voteKey).length > 0) return false;
    }
    const facts = sessionFacts(evs);
    const lines = sessionLines(facts, []);
    sessionsText += lines.sessionLine;
    for (const l of lines.approvalLines) approvalsText += l;
    tally.addSession(facts, []);
    const linked = approvalLookup(facts) !== undefined;
    if (linked) {
      population.push(rows);
      rows = '';
    } else {
      const approvals = approvalsFor(facts, []);
      tally.addApprovals(facts, approvals);
      rows += populationRow(facts, approvals);
    }
    sessions.push({
      id: facts.sessionId,
      n: evs.length,
      head: facts.head,
      firstAt: evs[0]!.at,
      start: blockStart,
      end: blockEnd,
      ...(facts.approvals.length ? { approvals: facts.approvals } : {}),
      ...(linked ? { linked: facts } : {}),
    });
    return true;
  };

  // Export writes ASCII (JSON escapes aside, ids, hashes and times are): then one decode of the
  // chunk, and a line's offsets in the string are its offsets in the bytes, which the report needs.
  const ascii = isAscii(buf) ? buf.toString('latin1') : undefined;
  let pos = 0;
  while (pos < buf.length) {
    let end = ascii === undefined ? buf.indexOf(10, pos) : ascii.indexOf('\n', pos);
    if (end < 0) end = buf.length;
    const lineStart = pos;
    const text = ascii === undefined ? buf.toString('utf8', pos, end) : ascii.slice(pos, end);
    pos = end + 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return undefined;
    }
    const e = asEvent(parsed);
    if (typeof e === 'string') return undefined;
    events++;
    if (e.index === undefined) withoutIndex++;
    else if (!inSignedRun(u, e)) return undefined;
    if (block.length > 0 && e.sessionId !== block[0]!.sessionId) {
      if (!close()) return undefined;
    }
    if (block.length === 0) blockStart = lineStart;
    blockEnd = end;
    block.push(e);
  }
  if (!close()) return undefined;
  population.push(rows);
  return { sessions, sessionsText, approvalsText, population, tally: tally.snapshot(), events, withoutIndex, votes };
}

/** LogCheck.onEvent with nothing to say: the event is the leaf at its index, claimed once, not backdated. */
function inSignedRun(u: Unpacked, e: SessionEvent): boolean {
  const log = u.ctx.log;
  if (!log) return true; // no log section: verify checks no index (and says the export is not covered)
  const index = e.index as unknown;
  if (!Number.isSafeInteger(index)) return false;
  const i = (index as number) - log.start;
  if (i < 0 || i >= log.n || Atomics.load(log.inLeaves, i) !== 1) return false;
  // Equal to the leaf's hash written as hex: so 64 lower-case hex digits, as LogCheck requires.
  const hashes = Buffer.from(log.eventHashes.buffer, log.eventHashes.byteOffset, log.eventHashes.byteLength);
  if (hashes.toString('hex', i * 32, i * 32 + 32) !== e.hash) return false;
  if (!markOnce(log.inEvents, i)) return false;
  // A leaf appended after a signed checkpoint cannot have happened before that checkpoint.
  const signedBefore = latestAtOrBelow(log.checkpoints, index as number);
  if (signedBefore !== undefined && Date.parse(e.at) < signedBefore.signedMs - CLOCK_MARGIN_MS) return false;
  // Nor dated well after a checkpoint that already held it (leaf_postdated).
  return log.checkpoints.length === 0 || !isPostdated(e.at, u.heldSince(index as number));
}
