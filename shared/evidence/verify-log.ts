// verify's half of log-coverage.ts: leaves.jsonl is a gap-free run of the global log; with the
// manifest's range proof it rebuilds the tree root, which must be a signed checkpoint's; every
// exported event is the leaf at its index; every leaf of an exported session is exported; and
// every session that started inside the run is either exported or shown (by its first event,
// checked against its leaf) to have started outside the time range.
import { fastHashEvent } from './event-hash.ts';
import type { SessionEvent } from '../audit/events.ts';
import type { Checkpoint } from '../transparency/checkpoint.ts';
import { leafHash, rootFromRange } from '../transparency/merkle-tree.ts';
import { packedDigests } from '../transparency/checkpointer.ts';
import { readLines } from './files.ts';
import { LEAVES_FILE, type LogSection } from './log-coverage.ts';
import { firstSignedMs, leafDating, unindexedPredatesLog } from './leaf-dating.ts';
import type { Problem } from './problems.ts';
import { asEvent } from './verify-session.ts';
import { rootFromRangeParallel } from './parallel-root.ts';
import type { TaskRunner } from './verify-pool.ts';

export class LogCheck {
  readonly #n: number;
  /** Event hashes of the run, 32 bytes each, and which indices were seen in leaves.jsonl / events.jsonl. */
  readonly #eventHashes: Buffer;
  readonly #inLeaves: Uint8Array;
  readonly #exportedSession: Uint8Array;
  readonly #inEvents: Uint8Array;
  #withoutIndex = 0;
  /** Sessions with an event that has a place in the log: one of theirs without a place came after the log existed. */
  readonly #indexedSessions = new Set<string>();
  /** When the log was first signed (ms): no event stored from then on (less the margin) lacks a place in it. */
  readonly #firstSignedMs: number;

  constructor(
    readonly section: LogSection,
    readonly exportedSessions: ReadonlySet<string>,
    readonly range: { readonly from: string; readonly to: string },
    readonly report: (p: Problem) => void,
    /** Valid signed checkpoints, oldest first, for the backdating check; empty without --checkpoints. */
    readonly checkpoints: readonly Checkpoint[] = [],
  ) {
    this.#n = Math.max(0, section.end - section.start);
    // Shared, so verify's workers hash the tree from it without a copy (parallel-root.ts).
    this.#eventHashes = Buffer.from(new SharedArrayBuffer(this.#n * 32));
    this.#inLeaves = new Uint8Array(this.#n);
    this.#exportedSession = new Uint8Array(this.#n);
    this.#inEvents = new Uint8Array(this.#n);
    this.#firstSignedMs = firstSignedMs(checkpoints.map((c) => Date.parse(c.time)));
    this.#dating = leafDating(checkpoints);
  }

  /** What is wrong with an indexed event's date against the checkpoints (leaf-dating.ts). */
  readonly #dating: ReturnType<typeof leafDating>;

  async readLeaves(path: string): Promise<void> {
    const { start, end } = this.section;
    const from = Date.parse(this.range.from);
    const to = Date.parse(this.range.to);
    const flag = (kind: Problem['kind'], line: number, message: string, extra: Partial<Problem> = {}) => this.report({ kind, file: LEAVES_FILE, line, message, ...extra });
    for await (const { line, text } of readLines(path)) {
      let v: Record<string, unknown>;
      try {
        v = JSON.parse(text) as Record<string, unknown>;
      } catch {
        flag('leaf_inserted', line, `line ${line} of ${LEAVES_FILE} is not JSON`);
        continue;
      }
      // `null` (or any non-object) is JSON, but no leaf: not a reason to stop reading.
      if (typeof v !== 'object' || v === null) {
        flag('leaf_inserted', line, `line ${line} of ${LEAVES_FILE} is not a leaf`);
        continue;
      }
      const { index, sessionId, seq, hash } = v;
      if (!Number.isSafeInteger(index) || typeof sessionId !== 'string' || !Number.isSafeInteger(seq) || typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) {
        flag('leaf_inserted', line, `line ${line} of ${LEAVES_FILE} is not a leaf`);
        continue;
      }
      const i = (index as number) - start;
      if (i < 0 || i >= this.#n) {
        flag('leaf_inserted', line, `leaf ${index} is outside the exported run [${start}, ${end})`);
        continue;
      }
      if (this.#inLeaves[i]) {
        flag('leaf_inserted', line, `leaf ${index} appears twice in ${LEAVES_FILE}`);
        continue;
      }
      this.#inLeaves[i] = 1;
      this.#eventHashes.write(hash, i * 32, 32, 'hex');
      if (this.exportedSessions.has(sessionId)) {
        this.#exportedSession[i] = 1;
        continue;
      }
      // A leaf of a session the export does not hold. Its sessionId and seq in leaves.jsonl are
      // claims no hash covers: the event itself travels with it, so its hash shows whose event it
      // is — else a session started in the range could hide behind leaves relabelled as some other
      // session's later events. The first event of such a session must show it started outside
      // the range.
      const event = v.event === undefined ? 'absent' : asEvent(v.event);
      if (typeof event === 'string') {
        flag(
          'session_missing',
          line,
          seq === 0
            ? `leaf ${index} starts session ${sessionId}, which the export does not hold, and carries no readable first event to show it started outside the range`
            : `leaf ${index} (event ${String(seq)} of session ${sessionId}, which the export does not hold) carries no readable event to show whose it is: a session started in the range could hide behind it`,
          { sessionId },
        );
        continue;
      }
      if (event.sessionId !== sessionId || event.seq !== seq || !leafEventHolds(event, hash)) {
        flag('leaf_inserted', line, `the event given with leaf ${index} is not the event the log holds there`, { sessionId });
        continue;
      }
      // Dated as its place in the log allows: a session appended within the run but dated before
      // it would pass as one that started before the range (and so in no export's range).
      for (const wrong of this.#dating({ sessionId, seq: seq as number, index: index as number, at: event.at })) flag(wrong.kind, line, wrong.message, { sessionId, seq: seq as number });
      if (seq !== 0) continue;
      const at = Date.parse(event.at);
      if (at >= from && at < to) {
        flag('session_missing', line, `session ${sessionId} started ${event.at}, inside the exported range, but the export does not hold it`, { sessionId });
      }
    }
    for (let i = 0; i < this.#n; i++) {
      if (this.#inLeaves[i]) continue;
      let j = i;
      while (j + 1 < this.#n && !this.#inLeaves[j + 1]) j++;
      this.report({ kind: 'leaf_missing', file: LEAVES_FILE, message: j === i ? `leaf ${start + i} is missing from ${LEAVES_FILE}` : `leaves ${start + i}…${start + j} are missing from ${LEAVES_FILE}` });
      i = j;
    }
  }

  /** Each event of events.jsonl, as verify walks it. */
  onEvent(event: SessionEvent, line: number): void {
    if (event.index === undefined) {
      this.#withoutIndex++;
      // Only events stored before the global log existed may lack a place in it (export says the same, log-coverage.ts).
      if (this.#indexedSessions.has(event.sessionId)) {
        this.#flagEvent(event, line, 'leaf_inserted', `event ${event.seq} of session ${event.sessionId} has no place in the global log, but follows events of its session that do: it was not appended through the log`);
      } else if (!unindexedPredatesLog(event.at, this.#firstSignedMs)) {
        this.#flagEvent(event, line, 'leaf_inserted', `event ${event.seq} of session ${event.sessionId} has no place in the global log, but is dated ${event.at}, after the log was first signed: no event stored then lacks one`);
      }
      return;
    }
    this.#indexedSessions.add(event.sessionId);
    const i = event.index - this.section.start;
    if (!Number.isSafeInteger(event.index) || i < 0 || i >= this.#n) {
      this.#flagEvent(event, line, 'leaf_inserted', `event ${event.seq} of session ${event.sessionId} claims index ${event.index}, outside the exported run of the log`);
      return;
    }
    if (!this.#inLeaves[i] || !this.#leafHashIs(i, event.hash)) {
      this.#flagEvent(event, line, 'leaf_inserted', `event ${event.seq} of session ${event.sessionId} is not the leaf at index ${event.index} of the signed log`);
      return;
    }
    if (this.#inEvents[i]) {
      this.#flagEvent(event, line, 'leaf_inserted', `a second event claims leaf ${event.index}`);
      return;
    }
    this.#inEvents[i] = 1;
    for (const wrong of this.#dating(event as SessionEvent & { index: number })) this.#flagEvent(event, line, wrong.kind, wrong.message);
  }

  // Methods, not closures made per event: verify calls onEvent for every event.
  #flagEvent(event: SessionEvent, line: number, kind: Problem['kind'], message: string): void {
    this.report({ kind, file: 'events.jsonl', line, sessionId: event.sessionId, seq: event.seq, message });
  }

  readonly #scratch = Buffer.alloc(32);
  /** Whether leaf i's event hash is `hash` (64 lower-case hex digits, exactly as leaves.jsonl must give it). */
  #leafHashIs(i: number, hash: string): boolean {
    // Lower-case hex only: the stored leaf came from /^[0-9a-f]{64}$/, and Buffer.write would
    // accept upper case (and stop at the first non-hex digit), so anything else is a mismatch.
    if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) return false;
    this.#scratch.write(hash, 0, 32, 'hex');
    return this.#scratch.equals(this.#eventHashes.subarray(i * 32, i * 32 + 32));
  }

  /** After events.jsonl: leaves of exported sessions not exported, and the root (hashed by `runner`'s threads when it has some). */
  async finish(runner?: TaskRunner): Promise<{ root: string | undefined }> {
    const { start } = this.section;
    for (let i = 0; i < this.#n; i++) {
      if (this.#exportedSession[i] && !this.#inEvents[i]) {
        this.report({ kind: 'leaf_missing', file: 'events.jsonl', message: `leaf ${start + i} belongs to an exported session, but events.jsonl does not hold it` });
      }
    }
    if (this.#withoutIndex !== this.section.eventsWithoutIndex) {
      this.report({ kind: 'leaf_inserted', file: 'events.jsonl', message: `${this.#withoutIndex} events have no place in the log, the manifest says ${this.section.eventsWithoutIndex}` });
    }
    if (this.#n === 0) return { root: undefined };
    if (runner && runner.threads > 0) {
      const proof = this.section.proof.map((h) => Buffer.from(h, 'hex'));
      const root = (await rootFromRangeParallel(this.#eventHashes, this.#n, start, this.section.treeSize, proof, runner))?.toString('hex');
      if (root !== this.section.rootHash) {
        this.report({ kind: 'root_mismatch', file: LEAVES_FILE, message: `the exported leaves and the manifest's proof give root ${root ?? '(no root: malformed proof)'}, the manifest says ${this.section.rootHash}` });
      }
      return { root };
    }
    const packed = Buffer.alloc(this.#n * 32);
    for (let i = 0; i < this.#n; i++) leafHash(this.#eventHashes.toString('hex', i * 32, i * 32 + 32)).copy(packed, i * 32);
    const leaves = packedDigests(packed, this.#n);
    const root = rootFromRange(leaves, start, this.section.treeSize, this.section.proof.map((h) => Buffer.from(h, 'hex')))?.toString('hex');
    if (root !== this.section.rootHash) {
      this.report({ kind: 'root_mismatch', file: LEAVES_FILE, message: `the exported leaves and the manifest's proof give root ${root ?? '(no root: malformed proof)'}, the manifest says ${this.section.rootHash}` });
    }
    return { root };
  }
}

/** Whether the event given with a leaf is the leaf's: its own hash is the leaf's, and holds. */
export function leafEventHolds(e: SessionEvent, hash: string): boolean {
  try {
    const { hash: own, ...rest } = e;
    return own === hash && fastHashEvent(rest) === hash;
  } catch {
    return false;
  }
}
