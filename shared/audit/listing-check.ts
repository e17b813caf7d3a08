// The columns sessions are selected and ordered by (started_at, subject, …) are copies kept beside
// the hashed events for indexing. Every listing re-derives them from the session's first event,
// whose hash is re-checked. A copy edited behind the log's back (a session "moved" to 1990, given
// to another subject), or a row whose first event does not hash, is named on its row
// (`SessionSummary.listingTampered`), never shown as true — and never refuses the whole listing:
// one such row, which the log's INSERT right alone can make, used to turn every `sessions list`,
// every evidence export and the reconciler into an error for everyone.
// Evidence export does not depend on the copies to find sessions (shared/evidence/log-coverage.ts).
import { hashEvent } from './chain.ts';
import { hashFromStoredText } from './stored-text.ts';
import type { SessionEvent, SessionSummary } from './events.ts';

/**
 * The first listing field whose copy disagrees with the session's hashed first event ('first
 * event' when there is no such event or its hash does not hold), or undefined when all agree.
 */
export function listingMismatch(
  first: SessionEvent | undefined,
  stored: Readonly<Record<string, string | null>>,
  derive: (first: SessionEvent) => Readonly<Record<string, string | null>>,
  /** The stored JSON text of first.data, when the store has it: hashed without serialising again. */
  firstDataText?: string,
): string | undefined {
  if (!first || first.seq !== 0 || first.prevHash !== null) return 'first event';
  let holds = false;
  let expected: Readonly<Record<string, string | null>>;
  try {
    const { hash, index: _index, ...rest } = first;
    holds = ((firstDataText === undefined ? undefined : hashFromStoredText(rest, firstDataText)) ?? hashEvent(rest)) === hash;
    expected = derive(first);
  } catch {
    return 'first event';
  }
  if (!holds) return 'first event';
  return Object.entries(expected).find(([field, value]) => (stored[field] ?? null) !== value)?.[0];
}

/** A listed row whose copies disagree with its log: named, its unproven who and what left out. */
export function tamperedSummary(listed: SessionSummary, field: string): SessionSummary {
  return { sessionId: listed.sessionId, startedAt: listed.startedAt, lastAt: listed.lastAt, events: listed.events, status: 'unknown', listingTampered: field };
}
