// The body of POST /v1/approvals/:id/approve|reject: `{"comment": "..."}`, narrowed from `unknown`.
// A decision without a reason is not evidence of review, so the comment is required.
import { GatehouseError } from '../errors.ts';
import { z } from 'zod';
import { MAX_COMMENT_LENGTH } from './state.ts';

/** The body's schema, in the OpenAPI description too (shared/api/schemas.ts re-exports it). */
export const DecisionRequestSchema = z
  .strictObject({ comment: z.string().min(1).max(MAX_COMMENT_LENGTH).refine((c) => c.trim() !== '', 'must not be blank') })
  .meta({ id: 'DecisionRequest' });

export function parseDecisionBody(body: unknown): string {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatehouseError('bad_request', 'request body must be a JSON object with a comment');
  }
  const unknown = Object.keys(body).filter((k) => k !== 'comment');
  if (unknown.length > 0) throw new GatehouseError('bad_request', `unknown field(s): ${unknown.join(', ')} (allowed: comment)`);
  const comment: unknown = Object.hasOwn(body, 'comment') ? (body as { comment: unknown }).comment : undefined;
  if (comment === undefined || comment === null || (typeof comment === 'string' && comment.trim() === '')) {
    throw new GatehouseError('comment_required', 'a comment is required: say why you approve or reject');
  }
  if (typeof comment !== 'string') throw new GatehouseError('bad_request', 'comment must be a string');
  if (comment.length > MAX_COMMENT_LENGTH) {
    throw new GatehouseError('comment_too_long', `comment must be at most ${MAX_COMMENT_LENGTH} characters`, { max: MAX_COMMENT_LENGTH });
  }
  // Lone surrogates cannot be hashed into the session log (RFC 8785), and would fail the append.
  if (!comment.isWellFormed()) throw new GatehouseError('bad_request', 'comment must be well-formed Unicode');
  // Last, the schema the OpenAPI description is generated from: whatever it refuses is refused.
  if (!DecisionRequestSchema.safeParse(body).success) throw new GatehouseError('bad_request', 'request body does not match DecisionRequest');
  return comment;
}
