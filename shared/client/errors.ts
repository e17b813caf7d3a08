// The client's one error type: the server's stable code (shared/errors.ts), or one of the few the
// client itself can hit before or after the server answers.
import type { ErrorCode } from '../errors.ts';

/** Codes only the client produces: no token, no answer, or an answer outside the contract. */
export type ClientErrorCode = 'token_unavailable' | 'unreachable' | 'unexpected_response';

export class GatehouseApiError extends Error {
  override readonly name = 'GatehouseApiError';
  /** Set when the refusal is recorded as a session (every authenticated request is one). */
  readonly sessionId?: string;
  readonly details?: Readonly<Record<string, unknown>>;
  /** The server's message alone, without the code and session decoration of `message`. */
  readonly reason: string;

  constructor(
    /** HTTP status; 0 when there was no answer. */
    readonly status: number,
    /** A server code this client does not know yet comes through as it is (or `http_<status>`). */
    readonly code: ErrorCode | ClientErrorCode | (string & {}),
    message: string,
    extra: { sessionId?: string; details?: Readonly<Record<string, unknown>> } = {},
  ) {
    super(`[${code}] ${message}${extra.sessionId ? ` (recorded as session ${extra.sessionId})` : ''}`);
    this.reason = message;
    if (extra.sessionId) this.sessionId = extra.sessionId;
    if (extra.details) this.details = extra.details;
  }
}

export function isGatehouseApiError(e: unknown, code?: ErrorCode | ClientErrorCode): e is GatehouseApiError {
  return e instanceof GatehouseApiError && (code === undefined || e.code === code);
}
