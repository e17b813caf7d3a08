// Client-library errors, translated at the edge. Losing a race is retried; anything else means the
// log cannot be written (or read), and the gateway then runs nothing.
import { GatehouseError } from '../../errors.ts';

// google.rpc.Code values the library reports as `code`.
const ALREADY_EXISTS = 6; // a create() found its document: another append took this seq first
const ABORTED = 10; // contention on the documents; nothing was written, a retry is the answer

export function lostRace(e: unknown): boolean {
  const code = grpcCode(e);
  return code === ALREADY_EXISTS || code === ABORTED;
}

export type Operation = 'start' | 'append' | 'read' | 'list';

/**
 * The one error the log throws. The message is fixed: the library's messages name the project,
 * database, host and document paths, so they stay on `cause` (for the operator's logs) and only
 * the gRPC status code is detailed.
 */
export function unavailable(operation: Operation, cause: unknown, more?: Record<string, unknown>): GatehouseError {
  const code = grpcCode(cause);
  const timedOut = cause instanceof DeadlineExceeded ? { reason: 'deadline_exceeded' } : {};
  return new GatehouseError(
    'audit_unavailable',
    'session log unavailable',
    { operation, ...(code === undefined ? {} : { grpcCode: code }), ...timedOut, ...more },
    { cause },
  );
}

/** A store that does not answer in time is down, as far as the request waiting on it knows. */
export class DeadlineExceeded extends Error {
  override readonly name = 'DeadlineExceeded';
  constructor(readonly ms: number) {
    super(`no answer from Firestore within ${ms} ms`);
  }
}

/**
 * `work`, or DeadlineExceeded after `ms`. The library retries reads on its own (five attempts, ~9 s
 * against a closed port even with the settings in client.ts; ~45 s with its defaults), and nothing
 * bounds what comes before a request is sent (fetching credentials): longer than a request should
 * wait before failing closed.
 */
export async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(ms)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function grpcCode(e: unknown): number | undefined {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  // Node's own errors (ECONNREFUSED, …) share the property as a string; gRPC codes are 1–16.
  return typeof code === 'number' && Number.isInteger(code) && code > 0 && code <= 16 ? code : undefined;
}
