// The HTTP API's shapes as zod schemas: the one description of the contract. The server validates
// request bodies with them (shared/query-request.ts), the TypeScript client (shared/client/)
// validates answers with them, and docs/openapi.json is generated from them (shared/api/openapi.ts)
// — so the spec cannot drift from what is enforced. Answer objects accept fields they do not name:
// the contract grows additively, and an older client must not break on a newer server.
import { z } from 'zod';
import { ERROR_STATUS, type ErrorCode } from '../errors.ts';
import { RISK_CLASSES } from '../sql/analysis.ts';
import { MASK_STRATEGIES } from '../policy/schema.ts';
import { APPROVAL_STATUSES } from '../approvals/types.ts';

export const MAX_SQL_LENGTH = 100_000;
export const MAX_PARAMS = 1_000;
export const MAX_PARAM_LENGTH = 100_000;

// Lone surrogates: JSON allows them, but the session log's canonical JSON cannot hash them and
// PostgreSQL would see U+FFFD instead of what was analysed. Refused at the edge.
const text = (max: number) => z.string().max(max).refine((s) => s.isWellFormed(), 'must be well-formed Unicode (no lone surrogates)');
const param = z.union([text(MAX_PARAM_LENGTH), z.number().finite(), z.boolean(), z.null()]);

// ---- requests ------------------------------------------------------------------------------

export const QueryRequestSchema = z
  .object({
    connection: text(200).pipe(z.string().min(1)).meta({ description: 'A connection named in the policy' }),
    sql: text(MAX_SQL_LENGTH).meta({ description: 'Exactly one SQL statement; $1, $2… for parameters' }),
    params: z.array(param).max(MAX_PARAMS).default([]),
    maxRows: z.number().int().positive().max(1_000_000).optional().meta({ description: "At most the connection's maxRows" }),
    approvalId: text(200).pipe(z.string().min(1)).optional().meta({ description: 'Presents a granted approval for exactly this statement' }),
  })
  .strict()
  .meta({ id: 'QueryRequest' });

// Defined beside the desk that validates with it (the API describes the domain, never the reverse:
// test/repo/import-cycles.test.ts), after its own checks have given each mistake its stable code.
export { DecisionRequestSchema } from '../approvals/comment.ts';

// ---- answers -------------------------------------------------------------------------------

const ERROR_CODES = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];
export const ErrorCodeSchema = z.enum(ERROR_CODES).meta({ id: 'ErrorCode', description: 'Stable; its HTTP status is fixed in shared/errors.ts' });

export const ErrorBodySchema = z
  .looseObject({
    error: z.looseObject({ code: ErrorCodeSchema, message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
    sessionId: z.string().optional().meta({ description: 'Set when the refusal is recorded as a session' }),
  })
  .meta({ id: 'Error' });

export const RiskSchema = z.looseObject({ class: z.enum(RISK_CLASSES), reasons: z.array(z.string()) }).meta({ id: 'Risk' });

export const ColumnSchema = z
  .looseObject({ name: z.string(), type: z.string(), masked: z.boolean(), mask: z.enum(MASK_STRATEGIES).optional() })
  .meta({ id: 'Column' });

export const QueryExecutedSchema = z
  .looseObject({
    sessionId: z.string(),
    status: z.literal('executed'),
    command: z.string(),
    rowCount: z.int().nonnegative(),
    truncated: z.boolean(),
    columns: z.array(ColumnSchema),
    rows: z.array(z.array(z.unknown())).meta({ description: 'Masked as the policy says; columns[] names the masks' }),
    risk: RiskSchema,
  })
  .meta({ id: 'QueryExecuted' });

export const QueryDeniedSchema = z
  .looseObject({ sessionId: z.string(), status: z.literal('denied'), rule: z.string().nullable(), reasons: z.array(z.string()) })
  .meta({ id: 'QueryDenied' });

export const HeldApprovalSchema = z
  .looseObject({ id: z.string(), expiresAt: z.string(), quorum: z.int().positive(), approvers: z.array(z.string()) })
  .meta({ id: 'HeldApproval' });

export const QueryPendingSchema = z
  .looseObject({ sessionId: z.string(), status: z.literal('pending_approval'), approval: HeldApprovalSchema })
  .meta({ id: 'QueryPending' });

export const MaskPreviewSchema = z
  .looseObject({
    index: z.int().nullable(),
    column: z.string(),
    strategy: z.enum(MASK_STRATEGIES).nullable(),
    why: z.string(),
    source: z.array(z.string()).optional(),
    denied: z.boolean().optional(),
  })
  .meta({ id: 'MaskPreview' });

export const AnalyzeAnswerSchema = z
  .looseObject({
    sessionId: z.string(),
    risk: RiskSchema,
    decision: z.enum(['allow', 'deny', 'approve']),
    rule: z.string().nullable(),
    statement: z.looseObject({
      kind: z.string(),
      tables: z.looseObject({ read: z.array(z.string()), written: z.array(z.string()) }),
      columns: z.array(z.string()),
      functions: z.array(z.string()),
      fingerprint: z.string(),
    }),
    masking: z.array(MaskPreviewSchema),
  })
  .meta({ id: 'AnalyzeAnswer' });

export const SessionEventSchema = z
  .looseObject({
    sessionId: z.string(),
    seq: z.int().nonnegative(),
    type: z.string(),
    at: z.string(),
    data: z.record(z.string(), z.unknown()),
    prevHash: z.string().nullable(),
    hash: z.string(),
  })
  .meta({ id: 'SessionEvent' });

export const SessionAnswerSchema = z
  .looseObject({ sessionId: z.string(), status: z.string(), events: z.array(SessionEventSchema) })
  .meta({ id: 'SessionAnswer' });

export const ConnectionSchema = z
  .looseObject({
    name: z.string(),
    maxRows: z.int().positive(),
    statementTimeoutMs: z.int().positive(),
    read: z.enum(['allow', 'deny', 'approve']).meta({ description: "What the policy decides for this caller's reads on it" }),
  })
  .meta({ id: 'Connection' });

export const ConnectionsAnswerSchema = z
  .looseObject({ sessionId: z.string(), connections: z.array(ConnectionSchema) })
  .meta({ id: 'ConnectionsAnswer' });

export const TableColumnSchema = z
  .looseObject({
    name: z.string(),
    type: z.string(),
    nullable: z.boolean(),
    position: z.int().positive(),
    sensitive: z.boolean().meta({ description: 'The policy masks this column' }),
    mask: z.enum(MASK_STRATEGIES).optional(),
  })
  .meta({ id: 'TableColumn' });

export const TableAnswerSchema = z
  .looseObject({
    sessionId: z.string(),
    connection: z.string(),
    schema: z.string(),
    table: z.string(),
    kind: z.enum(['table', 'view', 'matview', 'foreign', 'partitioned', 'other']),
    columns: z.array(TableColumnSchema),
  })
  .meta({ id: 'TableAnswer' });

export const PlanEstimateSchema = z
  .looseObject({
    state: z.enum(['estimated', 'unavailable']),
    rows: z.number().nonnegative().optional().meta({ description: "The planner's estimate of rows the statement touches (Plan Rows of the plan's top node)" }),
    topNode: z.string().optional().meta({ description: 'e.g. "ModifyTable (Update)"' }),
    totalCost: z.number().optional(),
    tables: z.array(z.string()).optional().meta({ description: 'Relations the plan reads or writes, schema-qualified' }),
    reason: z.string().optional().meta({ description: 'Why there is no estimate' }),
  })
  .meta({
    id: 'PlanEstimate',
    description: 'EXPLAIN (FORMAT JSON) of the held statement, without ANALYZE, in a read-only transaction that is rolled back',
  });

const PersonSchema = z.looseObject({ issuer: z.string(), subject: z.string(), email: z.string().optional() });

/** Whether the session log proves an approval row (shared/approvals/review.ts logStanding). */
const LogStandingSchema = z
  .looseObject({ agrees: z.boolean(), signedVotes: z.int().nonnegative().optional(), reason: z.string().optional(), message: z.string().optional() })
  .meta({ id: 'ApprovalLogStanding' });

export const ApprovalViewSchema = z
  .looseObject({
    id: z.string(),
    status: z.enum(APPROVAL_STATUSES),
    sessionId: z.string(),
    requester: PersonSchema,
    agent: z.looseObject({ model: z.string().optional(), runId: z.string().optional() }),
    connection: z.string(),
    sql: z.string(),
    params: z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])),
    digest: z.string(),
    risk: RiskSchema,
    rule: z.string(),
    approvers: z.array(z.string()),
    quorum: z.int().positive(),
    approvals: z.int().nonnegative(),
    votes: z.array(z.looseObject({ verdict: z.enum(['approve', 'reject']), by: PersonSchema, comment: z.string(), at: z.string() })),
    createdAt: z.string(),
    expiresAt: z.string(),
    redemption: z.looseObject({ at: z.string(), sessionId: z.string() }).optional(),
    notification: z.looseObject({ state: z.enum(['pending', 'published']), attempts: z.int().nonnegative() }),
    estimate: PlanEstimateSchema.optional(),
    masking: z.array(z.unknown()).optional(),
    log: LogStandingSchema.optional().describe(
      'GET /v1/approvals/:id: whether the session log proves this row. The store is a cache; `agrees: false` names the check that failed (`reason`, as approval_mismatch does) — a row edited behind the desk, or a vote it never signed',
    ),
  })
  .meta({ id: 'ApprovalView' });

export const ApprovalAnswerSchema = z.looseObject({ approval: ApprovalViewSchema }).meta({ id: 'ApprovalAnswer' });

export const ApprovalSummarySchema = z
  .looseObject({
    id: z.string(),
    status: z.enum(APPROVAL_STATUSES),
    sessionId: z.string(),
    requester: z.string(),
    connection: z.string(),
    sql: z.string(),
    risk: z.enum(RISK_CLASSES),
    approvals: z.int().nonnegative(),
    quorum: z.int().positive(),
    createdAt: z.string(),
    expiresAt: z.string(),
    log: LogStandingSchema.optional().describe(
      'Whether the session log proves this row, as GET /v1/approvals/:id says. Status, order and filters are the store\'s (a cache anyone with its write rights can edit); `agrees: false` with `reason` marks a row the log does not prove — do not act on its status',
    ),
  })
  .meta({ id: 'ApprovalSummary' });

export const ApprovalListSchema = z
  .looseObject({
    approvals: z.array(ApprovalSummarySchema),
    truncated: z
      .boolean()
      .optional()
      .describe(
        'true when approvals may have been left out: more were visible to the caller than `limit`, or the store held more than the 999 the desk reads for a listing (read oldest first, before what the caller may see is applied). Older gateways omit it',
      ),
  })
  .meta({ id: 'ApprovalList' });

export const DecisionAnswerSchema = z
  .looseObject({ sessionId: z.string(), status: z.enum(APPROVAL_STATUSES), approval: ApprovalViewSchema })
  .meta({ id: 'DecisionAnswer' });

export type QueryRequestBody = z.input<typeof QueryRequestSchema>;
export type QueryExecuted = z.infer<typeof QueryExecutedSchema>;
export type QueryDenied = z.infer<typeof QueryDeniedSchema>;
export type QueryPending = z.infer<typeof QueryPendingSchema>;
export type AnalyzeAnswer = z.infer<typeof AnalyzeAnswerSchema>;
export type SessionAnswer = z.infer<typeof SessionAnswerSchema>;
export type ConnectionsAnswer = z.infer<typeof ConnectionsAnswerSchema>;
export type TableAnswer = z.infer<typeof TableAnswerSchema>;
export type ApprovalAnswer = z.infer<typeof ApprovalAnswerSchema>;
export type ApprovalList = z.infer<typeof ApprovalListSchema>;
export type DecisionAnswer = z.infer<typeof DecisionAnswerSchema>;
export type PlanEstimate = z.infer<typeof PlanEstimateSchema>;
export type ErrorBody = z.infer<typeof ErrorBodySchema>;
