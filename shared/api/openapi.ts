// OpenAPI 3.1 for the HTTP API, generated from the zod schemas the server validates with and the
// client checks answers against (schemas.ts). Served at GET /v1/openapi.json; `npm run openapi`
// writes docs/openapi.json, and a test fails when that file differs from what this generates.
import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import {
  AnalyzeAnswerSchema,
  ApprovalAnswerSchema,
  ApprovalListSchema,
  ConnectionsAnswerSchema,
  DecisionAnswerSchema,
  DecisionRequestSchema,
  ErrorBodySchema,
  QueryDeniedSchema,
  QueryExecutedSchema,
  QueryPendingSchema,
  QueryRequestSchema,
  SessionAnswerSchema,
  TableAnswerSchema,
} from './schemas.ts';
import { STATUS_FILTERS } from '../approvals/review.ts';

const json = (schema: z.ZodType, description: string) => ({ description, content: { 'application/json': { schema } } });
const err = (description: string) => json(ErrorBodySchema, description);

const agentHeaders = z.object({
  'x-agent-model': z.string().optional().meta({ description: 'The model (and version) driving the caller; the policy may require it' }),
  'x-agent-run-id': z.string().optional().meta({ description: 'The agent run (e.g. the MCP session) this call belongs to' }),
  traceparent: z.string().optional(),
});

const common = {
  401: err('No token, or a token that is expired, forged or from an issuer the policy does not trust (WWW-Authenticate: Bearer)'),
  503: err('A dependency is down (audit_unavailable, database_unavailable, approvals_unavailable): nothing ran'),
} as const;

function routes(): RouteConfig[] {
  const queryBody = { body: { content: { 'application/json': { schema: QueryRequestSchema } }, required: true } };
  return [
    {
      method: 'post',
      path: '/v1/query',
      summary: 'Run one statement through identity, analysis, policy, approval, masking and the session log',
      request: { ...queryBody, headers: agentHeaders },
      responses: {
        200: json(QueryExecutedSchema, 'Executed; masked rows'),
        202: json(QueryPendingSchema, 'Held for human approval; nothing ran'),
        400: err('Bad body, unknown connection, unparsable SQL, model required'),
        403: json(z.union([QueryDeniedSchema, ErrorBodySchema]), 'Denied by a rule (status "denied"), or refused with an error code (model_not_allowed, masking_denied)'),
        409: err('The approval presented does not cover this statement, or is pending, used, expired or rejected'),
        413: err('Body over 256 KiB'),
        415: err('Not application/json'),
        422: err('PostgreSQL refused the statement (read_only_violation, statement_timeout, execution_failed)'),
        ...common,
      },
    },
    {
      method: 'post',
      path: '/v1/analyze',
      summary: 'Risk, decision and masking preview for a statement; recorded, nothing runs',
      request: { ...queryBody, headers: agentHeaders },
      responses: { 200: json(AnalyzeAnswerSchema, 'The analysis'), 400: err('Bad body or unparsable SQL'), ...common },
    },
    {
      method: 'get',
      path: '/v1/sessions/{id}',
      summary: "A session's status and events (its requester, and auditors)",
      request: {
        params: z.object({ id: z.string() }),
        query: z.object({ wait: z.string().regex(/^\d{1,3}$/).optional().meta({ description: 'Long poll up to this many seconds (≤ 60) for the status to change' }) }),
      },
      responses: { 200: json(SessionAnswerSchema, 'The session'), 404: err('No such session visible to the caller'), ...common },
    },
    {
      method: 'get',
      path: '/v1/connections',
      summary: "The policy's connections, and what it decides for the caller's reads on each; recorded",
      request: { headers: agentHeaders },
      responses: { 200: json(ConnectionsAnswerSchema, 'Connections'), ...common },
    },
    {
      method: 'get',
      path: '/v1/connections/{name}/tables/{table}',
      summary: "A table's columns from the target's catalog, with the columns the policy masks marked; recorded, read-only",
      request: {
        params: z.object({ name: z.string(), table: z.string().meta({ description: 'schema.table; quote a part containing a dot: "a.b".t' }) }),
        headers: agentHeaders,
      },
      responses: {
        200: json(TableAnswerSchema, 'The table'),
        400: err('Not schema.table, or unknown connection'),
        403: err('The policy does not allow the caller to read this connection (policy_denied)'),
        404: err('No such table, or none of its columns readable by the connection (table_not_found)'),
        ...common,
      },
    },
    {
      method: 'get',
      path: '/v1/approvals',
      summary: 'Approvals the caller may see, oldest first',
      request: { query: z.object({ status: z.enum(STATUS_FILTERS as [string, ...string[]]).optional(), limit: z.string().regex(/^\d{1,3}$/).optional() }) },
      responses: { 200: json(ApprovalListSchema, 'Approvals'), 400: err('Bad status or limit'), ...common },
    },
    {
      method: 'get',
      path: '/v1/approvals/{id}',
      summary: 'One approval: statement, params, analysis, blast-radius estimate, masking preview, votes',
      request: { params: z.object({ id: z.string() }) },
      responses: { 200: json(ApprovalAnswerSchema, 'The approval'), 404: err('No such approval visible to the caller'), ...common },
    },
    ...(['approve', 'reject'] as const).map(
      (verdict): RouteConfig => ({
        method: 'post',
        path: `/v1/approvals/{id}/${verdict}`,
        summary: `${verdict === 'approve' ? 'Approve' : 'Reject'} an approval, with a comment; recorded in the requesting session`,
        request: { params: z.object({ id: z.string() }), body: { content: { 'application/json': { schema: DecisionRequestSchema } }, required: true } },
        responses: {
          200: json(DecisionAnswerSchema, 'Recorded'),
          400: err('comment_required'),
          403: err('approver_not_allowed, self_approval'),
          409: err('approval_unknown, approval_expired, approval_used, approval_rejected, approval_already_decided'),
          413: err('comment_too_long'),
          ...common,
        },
      }),
    ),
    {
      method: 'get',
      path: '/v1/openapi.json',
      summary: 'This document',
      security: [],
      responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } } },
    },
  ];
}

let cached: object | undefined;

export function openApiDocument(): object {
  if (cached) return cached;
  const registry = new OpenAPIRegistry();
  const bearer = registry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'An OIDC ID token from an issuer the policy trusts (a Google-signed workload identity token on GCP)',
  });
  for (const route of routes()) registry.registerPath({ security: [{ [bearer.name]: [] }], ...route });
  cached = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Gatehouse',
      version: '1',
      description: 'The control point between AI agents and PostgreSQL. Errors are {"error":{"code","message","details"?},"sessionId"?}; the code is stable.',
    },
    servers: [{ url: 'http://127.0.0.1:8080', description: '`gatehouse start`' }],
  });
  return cached;
}
