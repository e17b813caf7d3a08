// statement_timeout is the first line; this is the second. PGlite, the embedded demo database,
// ignores statement_timeout (measured: pg_sleep(2) under 500 ms ran 2 s), and a server can be
// slow to honour it, so the gateway keeps a clock of its own on every statement.
import { GatehouseError } from '../errors.ts';

/** How much later than statement_timeout the client-side deadline fires. */
export const DEADLINE_MARGIN_MS = 250;

/**
 * Settles with `work`, or rejects with `statement_timeout` once `ms` have passed, after calling
 * `onExpire` (which cancels the statement and condemns the connection). Work that settles after
 * the deadline is ignored.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, onExpire: () => void): Promise<T> {
  // The loser of the race must not surface later as an unhandled rejection.
  work.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      try {
        onExpire();
      } catch {
        // Cancelling is best effort; the caller fails with statement_timeout either way.
      }
      reject(new GatehouseError('statement_timeout', `statement did not finish within ${ms} ms; cancelled`, { deadlineMs: ms }));
    }, ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
