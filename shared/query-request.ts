// The body of POST /v1/query and /v1/analyze (docs/design.md#http-api), narrowed from `unknown`.
import type { z } from 'zod';
import { QueryRequestSchema } from './api/schemas.ts';
import { GatehouseError } from './errors.ts';

export { MAX_PARAM_LENGTH, MAX_PARAMS, MAX_SQL_LENGTH } from './api/schemas.ts';

// The schema lives with the API's other shapes, so docs/openapi.json is generated from it.
const schema = QueryRequestSchema;

export type QueryRequest = z.infer<typeof schema>;

export function parseQueryRequest(body: unknown): QueryRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatehouseError('bad_request', 'request body must be a JSON object');
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }));
  const first = problems[0]!;
  // Params of the wrong shape get their own code: the bot's SQL may be right, its binding wrong.
  const code = problems.every((p) => p.field.startsWith('params')) ? 'invalid_params' : 'bad_request';
  throw new GatehouseError(code, `${first.field}: ${first.message}`, { problems });
}
