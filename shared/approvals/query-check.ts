// What every ApprovalStore adapter checks of a list() query before it reaches a store. Queries
// come from the gateway, not from a caller: a malformed one is a bug, found loudly.
import type { ApprovalQuery } from './ports.ts';

export function checkApprovalQuery(query: ApprovalQuery): ApprovalQuery {
  for (const name of ['expiresAfter', 'expiredBy', 'notificationDueBy'] as const) {
    const d = query[name];
    if (d !== undefined && !(d instanceof Date && Number.isFinite(d.getTime()))) throw new TypeError(`ApprovalStore.list: ${name} must be a valid Date`);
  }
  if (query.limit !== undefined && !(Number.isInteger(query.limit) && query.limit >= 0)) {
    throw new TypeError('ApprovalStore.list: limit must be a non-negative integer');
  }
  return query;
}
