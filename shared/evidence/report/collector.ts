// The sessions report.html embeds: the most recent ones, within a count and a byte budget, so a
// 100k-session export still yields a report a browser opens (the jsonl files hold everything).
//
// Which sessions: the longest run of most recent sessions with at most `maxSessions` of them and
// at most `maxBytes` of serialised entries (at least one). Only the last `maxSessions` sessions
// can be in it, so only those are kept, and kept as their events' JSON text: an entry is built
// (parsed again, its facts derived, serialised) only when the report is written, for at most
// `maxSessions` sessions — not for each of the 100k an export reads.
import type { ChainProblem } from '../../audit/chain.ts';
import type { SessionEvent } from '../../audit/events.ts';
import type { ApprovalFact } from '../approvals.ts';
import type { Derived } from '../derive.ts';
import { sessionFacts } from '../facts.ts';
import { scriptJson } from '../escape.ts';

export interface ReportLimits {
  readonly maxSessions: number;
  readonly maxBytes: number;
  /** A session larger than this (a big result set) is embedded without its events. */
  readonly maxSessionBytes: number;
}

export const DEFAULT_REPORT_LIMITS: ReportLimits = { maxSessions: 5000, maxBytes: 48 * 1024 * 1024, maxSessionBytes: 512 * 1024 };

/** One session as the report needs it: its events (JSON lines, in seq order), the approvals that count for it, its chain problems. */
export interface ReportSession {
  readonly eventLines: string;
  readonly approvals: readonly ApprovalFact[];
  readonly problems: readonly ChainProblem[];
}

export class ReportCollector {
  #pending: (ReportSession | undefined)[] = [];
  #start = 0;
  #entries: string[] | undefined;
  total = 0;

  constructor(readonly limits: ReportLimits = DEFAULT_REPORT_LIMITS) {}

  add(d: Pick<Derived, 'approvals'>, events: readonly SessionEvent[], problems: readonly ChainProblem[]): void {
    let lines = '';
    for (const e of events) lines += `${JSON.stringify(e)}\n`;
    this.addSession({ eventLines: lines, approvals: d.approvals, problems });
  }

  addSession(s: ReportSession): void {
    this.total++;
    this.#entries = undefined;
    if (this.limits.maxSessions <= 0) return;
    this.#pending.push(s);
    if (this.#pending.length - this.#start > this.limits.maxSessions) {
      this.#pending[this.#start++] = undefined;
      // Compact now and then instead of shifting on every drop.
      if (this.#start > 1024 && this.#start * 2 > this.#pending.length) {
        this.#pending = this.#pending.slice(this.#start);
        this.#start = 0;
      }
    }
  }

  get size(): number {
    return this.entries().length;
  }

  /** Oldest first, already escaped for a `<script type="application/json">`. */
  entries(): string[] {
    if (this.#entries) return this.#entries;
    const out: string[] = [];
    let bytes = 0;
    for (let i = this.#pending.length - 1; i >= this.#start && out.length < this.limits.maxSessions; i--) {
      const entry = entryOf(this.#pending[i]!, this.limits);
      if (out.length > 0 && bytes + entry.length > this.limits.maxBytes) break;
      out.push(entry);
      bytes += entry.length;
    }
    this.#entries = out.reverse();
    return this.#entries;
  }
}

function entryOf(s: ReportSession, limits: ReportLimits): string {
  const events = s.eventLines.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as SessionEvent);
  const base = { f: sessionFacts(events), approvals: s.approvals, chain: s.problems.length ? 'broken' : 'verified', problems: s.problems };
  const entry = scriptJson({ ...base, events });
  return entry.length > limits.maxSessionBytes ? scriptJson({ ...base, eventsOmitted: true }) : entry;
}
