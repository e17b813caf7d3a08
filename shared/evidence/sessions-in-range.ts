// Sessions of a time range, in listing order (startedAt, sessionId), read page by page from the
// session log: at most `pageSize` summaries and `concurrency` reads in flight at a time, so an
// export's memory does not grow with the size of the range. A store that can read several
// sessions in one round trip (`readMany`) is read a batch of sessions per query: one query per
// session cost an export of 100k sessions more time in round trips than in everything else.
import type { SessionEvent, SessionSummary } from '../audit/events.ts';
import type { SessionLog } from '../ports.ts';

export interface SessionRead {
  readonly summary: SessionSummary;
  readonly events: readonly SessionEvent[];
}

/** Sessions per readMany query: small enough that a batch of large results stays bounded. */
export const READ_BATCH = 32;

export async function* sessionsInRange(
  log: Pick<SessionLog, 'list' | 'read' | 'readMany'>,
  range: { from: Date; to: Date },
  pageSize: number,
  concurrency: number,
): AsyncGenerator<SessionRead> {
  const batch = log.readMany ? READ_BATCH : 1;
  const readBatch = async (summaries: readonly SessionSummary[]): Promise<SessionRead[]> => {
    if (log.readMany && summaries.length > 1) {
      const events = await log.readMany(summaries.map((s) => s.sessionId));
      return summaries.map((summary) => ({ summary, events: events.get(summary.sessionId) ?? [] }));
    }
    return Promise.all(summaries.map(async (summary) => ({ summary, events: await log.read(summary.sessionId) })));
  };
  // With batches, fewer of them in flight: each holds `batch` sessions.
  const inFlight = batch > 1 ? Math.max(1, Math.min(2, concurrency)) : concurrency;
  let after: string | undefined;
  for (;;) {
    const page = await log.list({ from: range.from, to: range.to, limit: pageSize, after });
    const window: Promise<SessionRead[]>[] = [];
    for (let i = 0; i < page.length; i += batch) {
      const p = readBatch(page.slice(i, i + batch));
      // Observed here, awaited below in order: a failure surfaces once, at its turn.
      p.catch(() => {});
      window.push(p);
      if (window.length >= inFlight) yield* await window.shift()!;
    }
    while (window.length) yield* await window.shift()!;
    if (page.length < pageSize) return;
    after = page.at(-1)!.sessionId;
  }
}
