// Sessions of a time range, in listing order (startedAt, sessionId), read page by page from the
// session log: at most `pageSize` summaries and `concurrency` reads in flight at a time, so an
// export's memory does not grow with the size of the range. A store that can read several
// sessions in one round trip (`readMany`) is read a batch of sessions per query: one query per
// session cost an export of 100k sessions more time in round trips than in everything else.
// The next listing page is asked for while the current one is read, and reads in flight carry on
// across page boundaries, so the export does not stand idle for each listing query.
import type { SessionEvent, SessionSummary } from '../audit/events.ts';
import type { StoredEvents } from '../audit/stored-text.ts';
import type { SessionLog } from '../ports.ts';

export interface SessionRead {
  readonly summary: SessionSummary;
  readonly events: readonly SessionEvent[];
  /** The events with their data's stored text, when the store gives it (readManyStored). */
  readonly stored?: StoredEvents;
}

/**
 * Sessions per readMany query: few queries (each costs a round trip and a protocol exchange: 100
 * instead of 32 took a fifth off the reads), and small enough that two batches in flight stay
 * bounded — a few hundred KB for sessions of typical size.
 */
export const READ_BATCH = 100;

export async function* sessionsInRange(
  log: Pick<SessionLog, 'list' | 'read' | 'readMany' | 'readManyStored'>,
  range: { from: Date; to: Date },
  pageSize: number,
  concurrency: number,
): AsyncGenerator<SessionRead> {
  const batch = log.readMany || log.readManyStored ? READ_BATCH : 1;
  const readBatch = async (summaries: readonly SessionSummary[]): Promise<SessionRead[]> => {
    if (log.readManyStored && summaries.length > 1) {
      const stored = await log.readManyStored(summaries.map((s) => s.sessionId));
      return summaries.map((summary) => {
        const s = stored.get(summary.sessionId);
        // events read when the session's turn comes: a store may parse them only then (fewer
        // objects live across the young-generation collections of the batch).
        return s ? { summary, get events() { return s.events; }, stored: s } : { summary, events: [] };
      });
    }
    if (log.readMany && summaries.length > 1) {
      const events = await log.readMany(summaries.map((s) => s.sessionId));
      return summaries.map((summary) => ({ summary, events: events.get(summary.sessionId) ?? [] }));
    }
    return Promise.all(summaries.map(async (summary) => ({ summary, events: await log.read(summary.sessionId) })));
  };
  // With batches, fewer of them in flight: each holds `batch` sessions.
  const inFlight = batch > 1 ? Math.max(1, Math.min(2, concurrency)) : concurrency;
  const listAfter = (after: string | undefined) => {
    const p = log.list({ from: range.from, to: range.to, limit: pageSize, after });
    // Observed here, awaited at its turn: a failure surfaces once, in order.
    p.catch(() => {});
    return p;
  };
  // Batches in flight span page boundaries: the next page's first batch is asked for while the
  // last ones of this page are still being read, so a page boundary is not a pause.
  let nextPage: Promise<SessionSummary[]> | undefined = listAfter(undefined);
  let unread: SessionSummary[] = [];
  const window: Promise<SessionRead[]>[] = [];
  for (;;) {
    while (window.length < inFlight) {
      if (unread.length === 0) {
        if (!nextPage) break;
        const page: SessionSummary[] = await nextPage;
        // A full page may have a successor: ask for it now, while this one is read.
        nextPage = page.length < pageSize || page.length === 0 ? undefined : listAfter(page.at(-1)!.sessionId);
        unread = page;
        continue;
      }
      const p = readBatch(unread.slice(0, batch));
      unread = unread.slice(batch);
      // Observed here, awaited below in order: a failure surfaces once, at its turn.
      p.catch(() => {});
      window.push(p);
    }
    if (window.length === 0) return;
    yield* await window.shift()!;
  }
}
