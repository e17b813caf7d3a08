// The sessions report.html embeds: the most recent ones, within a count and a byte budget, so a
// 100k-session export still yields a report a browser opens (the jsonl files hold everything).
// Each entry is kept already serialised, so the budget counts what will be written.
import type { ChainProblem } from '../../audit/chain.ts';
import type { SessionEvent } from '../../audit/events.ts';
import type { Derived } from '../derive.ts';
import { scriptJson } from '../escape.ts';

export interface ReportLimits {
  readonly maxSessions: number;
  readonly maxBytes: number;
  /** A session larger than this (a big result set) is embedded without its events. */
  readonly maxSessionBytes: number;
}

export const DEFAULT_REPORT_LIMITS: ReportLimits = { maxSessions: 5000, maxBytes: 48 * 1024 * 1024, maxSessionBytes: 512 * 1024 };

export class ReportCollector {
  #entries: string[] = [];
  #start = 0;
  #bytes = 0;
  total = 0;

  constructor(readonly limits: ReportLimits = DEFAULT_REPORT_LIMITS) {}

  add(d: Derived, events: readonly SessionEvent[], problems: readonly ChainProblem[]): void {
    this.total++;
    const base = { f: d.facts, approvals: d.approvals, chain: problems.length ? 'broken' : 'verified', problems };
    let entry = scriptJson({ ...base, events });
    if (entry.length > this.limits.maxSessionBytes) {
      entry = scriptJson({ ...base, eventsOmitted: true });
    }
    this.#entries.push(entry);
    this.#bytes += entry.length;
    while (this.size > this.limits.maxSessions || (this.#bytes > this.limits.maxBytes && this.size > 1)) {
      this.#bytes -= this.#entries[this.#start]!.length;
      this.#entries[this.#start++] = '';
      // Compact now and then instead of shifting on every drop.
      if (this.#start > 1024 && this.#start * 2 > this.#entries.length) {
        this.#entries = this.#entries.slice(this.#start);
        this.#start = 0;
      }
    }
  }

  get size(): number {
    return this.#entries.length - this.#start;
  }

  /** Oldest first, already escaped for a `<script type="application/json">`. */
  entries(): string[] {
    return this.#entries.slice(this.#start);
  }
}
