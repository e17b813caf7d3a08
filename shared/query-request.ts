// The body of POST /v1/query and /v1/analyze (docs/design.md#http-api), narrowed from `unknown`.
import { z } from 'zod';
import { GatehouseError } from './errors.ts';

export const MAX_SQL_LENGTH = 100_000;
export const MAX_PARAMS = 1_000;
export const MAX_PARAM_LENGTH = 100_000;

// Lone surrogates: JSON allows them, but the session log's canonical JSON cannot hash them and
// PostgreSQL would see U+FFFD instead of what was analysed. Refused at the edge.
const text = (max: number) => z.string().max(max).refine((s) => s.isWellFormed(), 'must be well-formed Unicode (no lone surrogates)');
const param = z.union([text(MAX_PARAM_LENGTH), z.number().finite(), z.boolean(), z.null()]);

const schema = z
  .object({
    connection: text(200).pipe(z.string().min(1)),
    sql: text(MAX_SQL_LENGTH),
    params: z.array(param).max(MAX_PARAMS).default([]),
    maxRows: z.number().int().positive().max(1_000_000).optional(),
    approvalId: text(200).pipe(z.string().min(1)).optional(),
  })
  .strict();

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
