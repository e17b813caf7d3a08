// The statement request is checked before any connection is taken: a request that cannot run
// must not cost a pool slot, a secret lookup or a round trip.
import { GatehouseError } from '../errors.ts';
import type { StatementRequest } from '../ports.ts';

export type Param = string | number | boolean | null;

export interface CheckedRequest extends StatementRequest {
  readonly params: readonly Param[];
}

// The wire protocol counts bind parameters in an int16; the limits below are PostgreSQL's int4.
const MAX_PARAMS = 65_535;
const MAX_INT4 = 2_147_483_647;

export function checkRequest(request: StatementRequest): CheckedRequest {
  if (typeof request.sql !== 'string') throw new GatehouseError('bad_request', 'sql must be a string');
  // Strictly a boolean: a missing flag must not quietly mean read-write.
  if (typeof request.readOnly !== 'boolean') throw new GatehouseError('bad_request', 'readOnly must be a boolean');
  const params = checkParams(request.params);
  // maxRows + 1 rows are asked for, to learn whether more exist: it must still fit the portal limit.
  if (!isIntegerIn(request.maxRows, 0, MAX_INT4 - 1)) {
    throw new GatehouseError('bad_request', 'maxRows must be a non-negative integer', { maxRows: String(request.maxRows) });
  }
  if (!isIntegerIn(request.statementTimeoutMs, 1, MAX_INT4)) {
    throw new GatehouseError('bad_request', 'statementTimeoutMs must be a positive integer', {
      statementTimeoutMs: String(request.statementTimeoutMs),
    });
  }
  return { ...request, params };
}

function checkParams(params: unknown): Param[] {
  if (!Array.isArray(params)) throw new GatehouseError('invalid_params', 'params must be an array');
  if (params.length > MAX_PARAMS) throw new GatehouseError('invalid_params', `at most ${MAX_PARAMS} params are allowed`);
  // Array.from visits holes of a sparse array as undefined, which is refused like any other value.
  return Array.from(params as unknown[], (value, index) => {
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    // Objects and arrays would reach PostgreSQL as JSON or array literals the policy never saw.
    throw new GatehouseError('invalid_params', `param $${index + 1} must be a string, number, boolean or null`, {
      index: index + 1,
    });
  });
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}
