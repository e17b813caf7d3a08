// Record-or-fail, shared by every request path: without its record, nothing of a session may go
// ahead. Session errors carry the recorded session's id back to the caller.
import type { EventDraft, SessionEvent } from '../audit/events.ts';
import { GatehouseError, isGatehouseError } from '../errors.ts';

/**
 * The part of the session log a request path writes and reads. Structural, so the kernel does not
 * import shared/ports.ts (which names every domain's types): every SessionLog is one.
 */
export interface SessionRecorder {
  append(sessionId: string, drafts: readonly EventDraft[], options?: { readonly after?: { readonly seq: number; readonly hash: string } }): Promise<unknown>;
  read(sessionId: string): Promise<SessionEvent[]>;
}

/** A refusal that belongs to a recorded session carries its id back to the caller. */
export class SessionError extends GatehouseError {
  constructor(
    readonly sessionId: string | undefined,
    cause: GatehouseError,
  ) {
    super(cause.code, cause.message, cause.details ? { ...cause.details } : undefined, { cause });
  }
}

/**
 * Appends to the session log or fails closed: without its record, nothing of that session may go
 * ahead. A failure becomes a SessionError (audit_unavailable unless the log said more), carrying
 * the session id unless the log says the events were never stored and never will be.
 */
export async function recordOrFail(
  sessions: Pick<SessionRecorder, 'append'>,
  sessionId: string,
  drafts: EventDraft[],
  options?: Parameters<SessionRecorder['append']>[2],
): Promise<void> {
  try {
    await sessions.append(sessionId, drafts, options);
  } catch (e) {
    const error = isGatehouseError(e) ? e : new GatehouseError('audit_unavailable', 'session log unavailable', undefined, { cause: e });
    // An append whose fate the log cannot tell (`recorded` not `no`: the answer was lost, or the
    // network still holds it) may be stored later: the refusal names the session it may come to
    // hold, so no session ever appears that no answer named. One the store refused never will be.
    const mayBeStored = error.code === 'audit_unavailable' && error.details?.recorded !== 'no';
    throw new SessionError(mayBeStored ? sessionId : undefined, error);
  }
}

/** Anything thrown that is not a GatehouseError is an internal error: its text never reaches the caller. */
export function asGatehouseError(e: unknown): GatehouseError {
  if (isGatehouseError(e)) return e;
  return new GatehouseError('internal', 'internal error', undefined, { cause: e });
}
