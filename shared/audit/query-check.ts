// What every SessionLog adapter checks of a list() query before it reaches a store. Queries come
// from the gateway and the CLI, not from a request body: a malformed one is a bug, found loudly.
import type { SessionQuery } from './session-query.ts';

export function checkSessionQuery(query: SessionQuery): SessionQuery {
  const { from, to, limit } = query;
  for (const [name, d] of [['from', from], ['to', to]] as const) {
    if (d !== undefined && !(d instanceof Date && Number.isFinite(d.getTime()))) {
      throw new TypeError(`SessionLog.list: ${name} must be a valid Date`);
    }
  }
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
    throw new TypeError('SessionLog.list: limit must be a non-negative integer');
  }
  return query;
}
