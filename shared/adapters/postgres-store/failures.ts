// Driver errors, translated at the edge. Losing a race is retried; anything else means the log
// cannot be written, and the gateway then runs nothing.
import { GatehouseError } from '../../errors.ts';

// unique_violation: another append took this seq (or created this session) first.
// serialization_failure, deadlock_detected: only under stricter isolation than we ask for, but
// a retry is the documented answer to both.
const RACE_LOST = new Set(['23505', '40001', '40P01']);

export function lostRace(e: unknown): boolean {
  return RACE_LOST.has(sqlState(e) ?? '');
}

/**
 * The one error the log throws. The message is fixed: driver messages can name hosts, users and
 * databases, so they stay on `cause` (for the operator's logs) and only the SQLSTATE is detailed.
 */
export function unavailable(operation: 'start' | 'append' | 'read' | 'list', cause: unknown, more?: Record<string, unknown>): GatehouseError {
  const state = sqlState(cause);
  return new GatehouseError(
    'audit_unavailable',
    'session log unavailable',
    { operation, ...(state ? { sqlState: state } : {}), ...more },
    { cause },
  );
}

export function sqlStateOf(e: unknown): string | undefined {
  return sqlState(e);
}

function sqlState(e: unknown): string | undefined {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  // Node's own errors (ECONNREFUSED, …) share the property; SQLSTATEs are five characters.
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * The approval store's one error, with the same discipline: a fixed message, the SQLSTATE in
 * details, the driver's words on `cause` only.
 */
export function approvalsUnavailable(operation: 'start' | 'create' | 'get' | 'list' | 'update', cause: unknown): GatehouseError {
  const state = sqlState(cause);
  return new GatehouseError('approvals_unavailable', 'approval store unavailable', { operation, ...(state ? { sqlState: state } : {}) }, { cause });
}
