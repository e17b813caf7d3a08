// Sessions of a time range, in listing order (startedAt, sessionId), read page by page from the
// session log: at most `pageSize` summaries and `concurrency` sessions in flight at a time, so an
// export's memory does not grow with the size of the range.
import type { SessionEvent, SessionSummary } from '../audit/events.ts';
import type { SessionLog } from '../ports.ts';

export interface SessionRead {
  readonly summary: SessionSummary;
  readonly events: readonly SessionEvent[];
}

export async function* sessionsInRange(
  log: Pick<SessionLog, 'list' | 'read'>,
  range: { from: Date; to: Date },
  pageSize: number,
  concurrency: number,
): AsyncGenerator<SessionRead> {
  let after: string | undefined;
  for (;;) {
    const page = await log.list({ from: range.from, to: range.to, limit: pageSize, after });
    const window: Promise<SessionRead>[] = [];
    for (const summary of page) {
      const p = log.read(summary.sessionId).then((events) => ({ summary, events }));
      // Observed here, awaited below in order: a failure surfaces once, at its turn.
      p.catch(() => {});
      window.push(p);
      if (window.length >= concurrency) yield await window.shift()!;
    }
    while (window.length) yield await window.shift()!;
    if (page.length < pageSize) return;
    after = page.at(-1)!.sessionId;
  }
}
