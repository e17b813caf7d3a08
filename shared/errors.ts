// One error type for everything untrusted input can cause. The code is the contract: the HTTP API
// answers with it, tests assert on it, and its HTTP status is fixed here and nowhere else.

export const ERROR_STATUS = {
  // request shape
  bad_request: 400,
  header_repeated: 400, //      Authorization (or another single-valued header) sent more than once
  invalid_json: 400,
  invalid_params: 400,
  params_invalid: 400, // the parameters do not fit the statement (count or type, at bind): nothing ran
  unknown_connection: 400,
  body_too_large: 413,
  unsupported_media_type: 415,
  not_found: 404,
  method_not_allowed: 405,
  // identity
  token_missing: 401,
  token_invalid: 401,
  token_expired: 401,
  token_issuer_not_allowed: 401,
  token_audience_mismatch: 401,
  token_algorithm_not_allowed: 401,
  token_key_unknown: 401,
  token_signature_invalid: 401,
  token_claims_invalid: 401,
  forbidden: 403,
  // agents
  model_required: 400,
  model_not_allowed: 403,
  // SQL
  sql_empty: 400,
  sql_unparsable: 400,
  sql_multiple_statements: 400,
  // policy
  policy_denied: 403,
  masking_denied: 403,
  policy_invalid: 500,
  approval_unavailable: 403,
  // approvals (docs/design.md#http-api: an approval that cannot be used, or decided, is a conflict — 409)
  approval_not_found: 404, //   GET of an approval that does not exist or is not the caller's to see
  approval_unknown: 409, //     deciding or presenting an id that names no approval
  approval_expired: 409,
  approval_used: 409,
  approval_rejected: 409,
  approval_pending: 409, //     presented before the quorum approved it
  approval_mismatch: 409, //    bound to other SQL, params, connection, requester or rule
  approval_already_decided: 409, // this approver already voted, or it is approved already
  approver_not_allowed: 403,
  self_approval: 403,
  comment_required: 400,
  comment_too_long: 413,
  approvals_unavailable: 503, // the approval store cannot be read or written: nothing ran
  // sessions
  session_not_found: 404,
  // catalog (GET /v1/connections/:name/tables/:schema.table)
  table_not_found: 404,
  // execution
  execution_failed: 422,
  statement_timeout: 422,
  read_only_violation: 422,
  // dependencies: nothing ran
  audit_unavailable: 503,
  audit_tampered: 500, // the log claims what no reader can hold (a leaf written far ahead of it)
  database_unavailable: 503,
  pool_exhausted: 503, //  the target is up, every pooled connection is busy and the bounded queue is full or timed out
  result_budget_exhausted: 503, // the process holds its budget of result bytes in flight; the bounded wait ran out: nothing ran
  secret_not_found: 503,
  secret_unavailable: 503,
  dependency_unavailable: 503,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class GatehouseError extends Error {
  override readonly name = 'GatehouseError';
  readonly code: ErrorCode;
  /** Safe to show the caller: never holds a secret, a credential or a raw row. */
  readonly details?: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    if (details) this.details = Object.freeze({ ...details });
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export function isGatehouseError(e: unknown, code?: ErrorCode): e is GatehouseError {
  return e instanceof GatehouseError && (code === undefined || e.code === code);
}

export function httpStatusOf(code: ErrorCode): number {
  return ERROR_STATUS[code];
}
