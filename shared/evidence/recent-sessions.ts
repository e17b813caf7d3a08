// The sessions report.html may embed are among the last `maxSessions` of the export (report/collector.ts),
// but which ones are last is only known at the end. Holding each session's events.jsonl text
// until then kept every event line of the export alive through several young-generation
// collections and promoted it to the old one — copying ~200 MB of strings at 100k sessions, the
// largest part of an export's garbage-collection time. Instead, only where each of the last
// `maxSessions` sessions lies in events.jsonl is kept, and their lines are read back from the
// file when it is complete: the collector sees exactly the text it would have been given.
import { closeSync, openSync, readSync } from 'node:fs';
import type { ChainProblem } from '../audit/chain.ts';
import type { ApprovalFact } from './approvals.ts';
import type { ReportSession } from './report/collector.ts';

interface Placed {
  readonly offset: number;
  readonly bytes: number;
  readonly approvals: readonly ApprovalFact[];
  readonly problems: readonly ChainProblem[];
}

export class RecentSessions {
  #ring: (Placed | undefined)[];
  #next = 0;
  #count = 0;
  /** Bytes of events.jsonl written so far, in the order sessions were added. */
  #offset = 0;

  constructor(readonly max: number) {
    this.#ring = new Array<Placed | undefined>(Math.max(0, max));
  }

  /** The session whose `eventLines` were just written to events.jsonl. */
  add(eventLines: string, approvals: readonly ApprovalFact[], problems: readonly ChainProblem[]): void {
    const bytes = Buffer.byteLength(eventLines, 'utf8');
    if (this.#ring.length > 0) {
      this.#ring[this.#next] = { offset: this.#offset, bytes, approvals, problems };
      this.#next = (this.#next + 1) % this.#ring.length;
      this.#count = Math.min(this.#count + 1, this.#ring.length);
    }
    this.#offset += bytes;
  }

  /** The last sessions added, oldest first, their lines read back from the complete events.jsonl at `path`. */
  *read(path: string): Generator<ReportSession> {
    if (this.#count === 0) return;
    const fd = openSync(path, 'r');
    try {
      const first = (this.#next - this.#count + this.#ring.length) % this.#ring.length;
      for (let i = 0; i < this.#count; i++) {
        const s = this.#ring[(first + i) % this.#ring.length]!;
        const buf = Buffer.allocUnsafe(s.bytes);
        let got = 0;
        while (got < s.bytes) {
          const n = readSync(fd, buf, got, s.bytes - got, s.offset + got);
          if (n === 0) throw new Error(`evidence export: events.jsonl ends before the ${s.bytes} bytes at ${s.offset} it was written with`);
          got += n;
        }
        yield { eventLines: buf.toString('utf8'), approvals: s.approvals, problems: s.problems };
      }
    } finally {
      closeSync(fd);
    }
  }
}
