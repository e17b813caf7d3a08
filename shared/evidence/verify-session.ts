// One session's events as found in events.jsonl, checked against its chain head in the manifest,
// with every problem named: modified, missing, inserted or reordered. The chain itself decides
// which of several events with one seq is genuine — the one the next event (or the manifest's
// head) links to — so an inserted copy is told apart from the event it imitates.
import { eventHashHolds } from './event-hash.ts';
import { EVENT_TYPES, type SessionEvent } from '../audit/events.ts';
import { schemaIssue } from '../audit/event-schema.ts';
import type { Problem } from './problems.ts';

export interface Found {
  readonly event: SessionEvent;
  readonly line: number;
  /** The line as read (for the report, which parses it again only if it embeds the session). */
  readonly text?: string;
  /** Known already (a worker hashed this line, verify-tasks.ts): the event's hash holds. Never set to false. */
  readonly hashHolds?: true;
  /** Known already (a worker verified it): a vote event's signature verifies with the desk key. */
  readonly voteSignatureHolds?: true;
}

export interface Expected {
  readonly events: number;
  readonly head: string;
}

/** A seq the chain needs and this block lacks; a later stray with this hash means "reordered". */
export interface Gap {
  readonly seq: number;
  readonly expectedHash?: string;
  /** Seqs seq…through all missing, past MAX_GAPS listed one by one (a manifest may claim any count). */
  readonly through?: number;
}

/**
 * Missing seqs listed one by one, per session, before the rest go as ranges: a manifest that
 * claims 2^50 events for a session must not make verify enumerate them (it ran out of memory).
 */
export const MAX_GAPS = 10_000;

export interface SessionCheck {
  readonly problems: Problem[];
  readonly gaps: Gap[];
}

const FILE = 'events.jsonl';

export function checkSessionBlock(sessionId: string, found: readonly Found[], expected: Expected): SessionCheck {
  const problems: Problem[] = [];
  if (intactChain(found, expected)) {
    // Every seq once, in order, each hash holding and linked, ending at the head: steps 1, 2 and 4
    // below find nothing, and of step 3 only the type and schema checks can (same order).
    for (const f of found) typeAndSchema(f, sessionId, problems);
    return { problems, gaps: [] };
  }
  const at = (f: Found, kind: Problem['kind'], message: string) =>
    problems.push({ kind, message, file: FILE, line: f.line, sessionId, seq: f.event.seq });
  const valid = new Map<Found, boolean>(found.map((f) => [f, f.hashHolds ?? hashHolds(f.event)]));
  // Hashes that valid events point back at: what a genuine event's hash should be among.
  const linked = new Set(found.filter((f) => valid.get(f) && f.event.prevHash !== null).map((f) => f.event.prevHash as string));
  const last = expected.events - 1;

  // 1. One genuine event per seq; the others were inserted.
  const bySeq = new Map<number, Found[]>();
  for (const f of found) bySeq.set(f.event.seq, [...(bySeq.get(f.event.seq) ?? []), f]);
  const genuine = new Map<number, Found>();
  for (const [seq, candidates] of bySeq) {
    const score = (f: Found) => (valid.get(f) ? 1 : 0) + (valid.get(f) && (linked.has(f.event.hash) || (seq === last && f.event.hash === expected.head)) ? 2 : 0);
    const best = candidates.reduce((a, b) => (score(b) > score(a) ? b : a));
    if (seq > last || seq < 0 || !Number.isInteger(seq)) {
      for (const f of candidates) at(f, 'event_inserted', `event ${seq} of session ${sessionId} is beyond its exported head (the session had ${expected.events} events)`);
      continue;
    }
    genuine.set(seq, best);
    for (const f of candidates) {
      if (f !== best) at(f, 'event_inserted', `a second event ${seq} in session ${sessionId}: no link of the chain points at it`);
    }
  }

  // 2. Seqs the chain needs that are not there.
  const gaps: Gap[] = [];
  // The holes between the seqs present (at most one more than the block's events), each listed
  // seq by seq while the budget lasts, then as one range.
  let from = 0;
  for (const present of [...[...genuine.keys()].sort((a, b) => a - b), last + 1]) {
    for (let seq = from; seq < present; seq++) {
      if (gaps.length >= MAX_GAPS) {
        gaps.push({ seq, through: present - 1 });
        break;
      }
      const next = genuine.get(seq + 1);
      gaps.push({ seq, expectedHash: seq === last ? expected.head : next && valid.get(next) ? (next.event.prevHash ?? undefined) : undefined });
    }
    from = present + 1;
  }

  // 3. Each genuine event: its content, and the link the next event (or the head) makes to it.
  for (const [seq, f] of genuine) {
    const e = f.event;
    if (!valid.get(f)) {
      at(f, 'event_modified', `event ${seq} of session ${sessionId} was modified: its content no longer matches its hash`);
      continue;
    }
    typeAndSchema(f, sessionId, problems);
    if (seq === 0 && e.prevHash !== null) {
      at(f, 'event_modified', `event 0 of session ${sessionId} does not start a chain (prevHash is set)`);
    }
    if (seq === last) {
      if (e.hash !== expected.head) {
        at(f, 'head_mismatch', `the last event of session ${sessionId} hashes to ${e.hash.slice(0, 16)}…, the manifest's chain head is ${expected.head.slice(0, 16)}…: the event was rewritten and re-hashed, or the manifest was edited`);
      }
      continue;
    }
    const next = genuine.get(seq + 1);
    if (next && valid.get(next) && next.event.prevHash !== e.hash) {
      at(f, 'event_modified', `event ${seq} of session ${sessionId} was replaced: it is self-consistent, but event ${seq + 1} links to a different hash`);
    }
  }

  // 4. Order in the file: genuine events must appear in seq order.
  const ordered = [...genuine.entries()].sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ordered.length; i++) {
    const [prevSeq, prev] = ordered[i - 1]!;
    const [seq, cur] = ordered[i]!;
    if (cur.line < prev.line) {
      at(cur, 'event_reordered', `event ${seq} of session ${sessionId} (line ${cur.line}) comes before event ${prevSeq} (line ${prev.line}) in ${FILE}`);
    }
  }
  return { problems, gaps };
}

/** The common case, checked without maps: events 0…n−1 in file order, every hash holding, each linked to the one before, the last the head. */
function intactChain(found: readonly Found[], expected: Expected): boolean {
  if (found.length !== expected.events || found.length === 0) return false;
  let prev: string | null = null;
  for (let i = 0; i < found.length; i++) {
    const f = found[i]!;
    const e = f.event;
    if (e.seq !== i || e.prevHash !== prev || !(f.hashHolds ?? hashHolds(e))) return false;
    if (i > 0 && f.line < found[i - 1]!.line) return false;
    prev = e.hash;
  }
  return prev === expected.head;
}

/** Step 3's checks of a genuine event's type and data. */
/** The members a line of events.jsonl may have: what the hash covers, the hash, the log index. */
const EVENT_MEMBERS: ReadonlySet<string> = new Set(['sessionId', 'seq', 'type', 'at', 'data', 'prevHash', 'hash', 'index']);

/**
 * A member of the event no hash covers (export writes none), or undefined. Both passes kept such a
 * member — `"approvedBy": "…"` — and report.html embeds the parsed events, so only the sessions
 * the report holds showed it: for every older one verify said OK about words the log never held.
 */
export function unhashedMember(e: SessionEvent): string | undefined {
  for (const k of Object.keys(e)) if (!EVENT_MEMBERS.has(k)) return k;
  return undefined;
}

function typeAndSchema(f: Found, sessionId: string, problems: Problem[]): void {
  const e = f.event;
  const seq = e.seq;
  const extra = unhashedMember(e);
  if (extra !== undefined) {
    problems.push({ kind: 'event_modified', message: `event ${seq} of session ${sessionId} carries a member no hash covers (${JSON.stringify(extra)}): not the event as the log holds it`, file: FILE, line: f.line, sessionId, seq });
  }
  if (!(EVENT_TYPES as readonly string[]).includes(e.type)) {
    problems.push({ kind: 'event_modified', message: `event ${seq} of session ${sessionId} has a type Gatehouse never writes (${JSON.stringify(e.type)})`, file: FILE, line: f.line, sessionId, seq });
  } else {
    // Stored, hashed and chained as it is (nothing is rewritten), but readers cannot rely on it.
    const issue = schemaIssue(e);
    if (issue) problems.push({ kind: 'event_schema', message: `event ${seq} (${e.type}) of session ${sessionId} does not fit its schema: ${issue.field}: ${issue.message}`, file: FILE, line: f.line, sessionId, seq, field: issue.field });
  }
}

function hashHolds(e: SessionEvent): boolean {
  return eventHashHolds(e);
}

/** A parsed line narrowed to an event's shape, or why it is not one. */
export function asEvent(v: unknown): SessionEvent | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const e = v as Record<string, unknown>;
  if (typeof e.sessionId !== 'string' || e.sessionId === '') return 'no sessionId';
  if (typeof e.seq !== 'number' || !Number.isInteger(e.seq)) return 'no integer seq';
  if (typeof e.type !== 'string') return 'no type';
  if (typeof e.at !== 'string') return 'no at';
  if (typeof e.data !== 'object' || e.data === null || Array.isArray(e.data)) return 'no data object';
  if (!(e.prevHash === null || typeof e.prevHash === 'string')) return 'prevHash is neither null nor a string';
  if (typeof e.hash !== 'string') return 'no hash';
  return e as unknown as SessionEvent;
}
