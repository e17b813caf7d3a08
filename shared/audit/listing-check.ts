// The columns sessions are selected and ordered by (started_at, subject, …) are copies kept beside
// the hashed events for indexing. Every listing re-derives them from the session's first event,
// whose hash is re-checked, and refuses to answer when they disagree: a copy edited behind the
// log's back (a session "moved" to 1990, given to another subject) is named, never shown as true.
// Evidence export does not depend on them at all (shared/evidence/log-coverage.ts).
import { hashEvent } from './chain.ts';
import { hashFromStoredText } from './stored-text.ts';
import type { SessionEvent } from './events.ts';
import { GatehouseError } from '../errors.ts';

export function checkListingCopy(
  sessionId: string,
  first: SessionEvent | undefined,
  stored: Readonly<Record<string, string | null>>,
  derive: (first: SessionEvent) => Readonly<Record<string, string | null>>,
  /** The stored JSON text of first.data, when the store has it: hashed without serialising again. */
  firstDataText?: string,
): void {
  const fail = (field: string) => {
    throw new GatehouseError('audit_tampered', 'the session log disagrees with its own hashed events', { sessionId, field });
  };
  if (!first || first.seq !== 0 || first.prevHash !== null) return fail('first event');
  let holds = false;
  try {
    const { hash, index: _index, ...rest } = first;
    holds = ((firstDataText === undefined ? undefined : hashFromStoredText(rest, firstDataText)) ?? hashEvent(rest)) === hash;
  } catch {
    holds = false;
  }
  if (!holds) return fail('first event');
  const expected = derive(first);
  for (const [field, value] of Object.entries(expected)) {
    if ((stored[field] ?? null) !== value) fail(field);
  }
}
