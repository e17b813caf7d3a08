// The approval store's one error, with the discipline of the session log's (../firestore/failures.ts):
// a fixed message, the gRPC status code and a reason in details, the library's words (which name
// the project, database and document paths) on `cause` only.
import { GatehouseError } from '../../errors.ts';
import { DeadlineExceeded } from '../firestore/failures.ts';

export type Operation = 'start' | 'create' | 'get' | 'list' | 'update';

const FAILED_PRECONDITION = 9; // a compare-and-set found the document written since it was read
const ABORTED = 10; // contention: nothing was written

/** The write lost a race and wrote nothing: read again and decide again. */
export function changedUnderUs(e: unknown): boolean {
  const code = grpcCode(e);
  return code === FAILED_PRECONDITION || code === ABORTED;
}

export function approvalsUnavailable(operation: Operation, cause: unknown, more?: Record<string, unknown>): GatehouseError {
  const code = grpcCode(cause);
  const reason = cause instanceof DeadlineExceeded ? { reason: 'deadline_exceeded' } : cause instanceof LeaseLost ? { reason: 'lease_lost' } : {};
  return new GatehouseError(
    'approvals_unavailable',
    'approval store unavailable',
    { operation, ...(code === undefined ? {} : { grpcCode: code }), ...reason, ...more },
    { cause },
  );
}

/**
 * The lease this update held ran out and another instance took the approval over before the change
 * was written: the change is not written. See approval-store.ts for what that means for the event
 * beforeCommit recorded.
 */
export class LeaseLost extends Error {
  override readonly name = 'LeaseLost';
  constructor() {
    super('the approval lease ran out before the change was written');
  }
}

/** The approval stayed leased by another update for longer than this one would wait. */
export class StillLeased extends Error {
  override readonly name = 'StillLeased';
  constructor(readonly waitedMs: number) {
    super(`the approval was still being changed by another update after ${waitedMs} ms`);
  }
}

function grpcCode(e: unknown): number | undefined {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'number' && Number.isInteger(code) && code > 0 && code <= 16 ? code : undefined;
}
