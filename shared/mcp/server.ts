// `gatehouse mcp`: an MCP server that is only a client of a Gatehouse deployment. Every tool call
// is one HTTP call (or a bounded sequence of them) through shared/client with the agent's own
// token, so identity, analysis, policy, approval, masking and the session log apply exactly as
// for POST /v1/query. It holds no database credential and has no path around the gateway.
//
// Per call: the token comes from the token provider (tokens expire; a workload identity refreshes
// its own); X-Agent-Model is --model, else the MCP client's clientInfo; X-Agent-Run-Id is the MCP
// session id (Streamable HTTP), or one id per process for stdio, where a process is one session.
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { Gatehouse, isGatehouseApiError, type CallContext, type TokenProvider } from '../client/index.ts';
import { describeEstimate } from '../blast-radius/describe.ts';
import { MAX_PARAM_LENGTH, MAX_PARAMS, MAX_SQL_LENGTH } from '../api/schemas.ts';
import { dataOf } from '../audit/event-schema.ts';

export interface McpOptions {
  readonly url: string;
  readonly tokenProvider: TokenProvider;
  /** Overrides the MCP client's clientInfo as X-Agent-Model. */
  readonly model?: string;
  readonly fetch?: typeof fetch;
}

/** The longest wait_for_approval will block one tool call (MCP clients time calls out). */
export const MAX_TOOL_WAIT_SEC = 600;

const param = z.union([z.string().max(MAX_PARAM_LENGTH), z.number(), z.boolean(), z.null()]);
const statement = {
  connection: z.string().min(1).max(200).describe('A connection named in the policy (see list_connections)'),
  sql: z.string().min(1).max(MAX_SQL_LENGTH).describe('Exactly one SQL statement; use $1, $2… for values and pass them in params'),
  params: z.array(param).max(MAX_PARAMS).optional().describe('Values for $1, $2…'),
};

export function createGatehouseMcpServer(options: McpOptions): McpServer {
  const server = new McpServer(
    { name: 'gatehouse', version: '1.0.0' },
    {
      instructions:
        'Gatehouse runs SQL on production PostgreSQL under a policy. Reads may run at once (sensitive columns come back masked); ' +
        'writes and schema changes may need a human approval: query then answers "pending approval" with an approval id — call ' +
        'wait_for_approval with it. Denials are final: do not retry a denied statement in another form.',
    },
  );
  const client = new Gatehouse({ url: options.url, tokenProvider: options.tokenProvider, fetch: options.fetch });
  // stdio has no MCP session id: one process serves one agent session.
  const processRunId = randomUUID();
  // approval id → the session that asked, from this server's own query answers: wait_for_approval
  // then long-polls that session on the bots' route (a bot may not reach the approvals API on GCP).
  const heldIn = new Map<string, string>();
  const ctx = (extra: { sessionId?: string; signal?: AbortSignal }): CallContext => {
    const info = server.server.getClientVersion();
    const model = options.model ?? (info ? (info.version ? `${info.name}/${info.version}` : info.name) : undefined);
    return { model, runId: extra.sessionId ?? processRunId, signal: extra.signal };
  };

  server.registerTool(
    'query',
    {
      title: 'Run SQL through Gatehouse',
      description:
        'Runs one SQL statement under the policy. Answers rows (with columns marked masked where the policy masks them), ' +
        'or "pending approval" with an approval id, approvers and expiry (then call wait_for_approval), or a tool error ' +
        'with the stable code (policy_denied with the rule and reasons, sql_unparsable, …) and the session id.',
      inputSchema: { ...statement, maxRows: z.number().int().positive().max(1_000_000).optional().describe("At most this many rows (capped by the connection's maxRows)") },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    },
    (args, extra) =>
      guarded(async () => {
        const r = await client.query(args, ctx(extra));
        if (r.status === 'denied') return denied(r);
        if (r.status === 'pending_approval') {
          const a = r.approval;
          if (heldIn.size >= 1000) heldIn.delete(heldIn.keys().next().value!);
          heldIn.set(a.id, r.sessionId);
          return ok(
            `pending approval: id ${a.id}; needs ${a.quorum} of ${a.approvers.join(', ')}; expires ${a.expiresAt}. ` +
              `Nothing ran. Call wait_for_approval with approvalId "${a.id}" to run it once approved. (session ${r.sessionId})`,
            r,
          );
        }
        const masked = r.columns.filter((c) => c.masked).map((c) => `${c.name} (${c.mask ?? 'masked'})`);
        return ok(
          `${r.command}: ${r.rowCount} row(s)${r.truncated ? ' (truncated)' : ''}${masked.length ? `; masked: ${masked.join(', ')}` : ''} (session ${r.sessionId})\n` +
            JSON.stringify({ columns: r.columns, rows: r.rows }),
          r,
        );
      }),
  );

  server.registerTool(
    'analyze',
    {
      title: 'Analyze SQL (nothing runs)',
      description: 'The risk class, the policy decision and what masking would do, for one statement. Recorded; nothing runs.',
      inputSchema: statement,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    (args, extra) =>
      guarded(async () => {
        const r = await client.analyze(args, ctx(extra));
        return ok(`risk ${r.risk.class}; decision ${r.decision}${r.rule ? ` (rule ${r.rule})` : ''} (session ${r.sessionId})\n${JSON.stringify(r)}`, r);
      }),
  );

  server.registerTool(
    'wait_for_approval',
    {
      title: 'Wait for an approval, then run the held statement',
      description:
        'Waits (up to timeoutSec) for people to decide on an approval from query, then runs exactly the held statement once. ' +
        'Answers the rows, "still pending" (call again), or a tool error (approval_rejected, approval_expired, approval_used).',
      inputSchema: {
        approvalId: z.string().min(1).max(200),
        sessionId: z.string().min(1).max(100).optional().describe('The session that asked (from query); needed only if this server did not see that answer'),
        timeoutSec: z.number().int().min(0).max(MAX_TOOL_WAIT_SEC).optional().describe(`How long to wait, default 120, at most ${MAX_TOOL_WAIT_SEC}`),
      },
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    },
    (args, extra) =>
      guarded(async () => {
        const sessionId = args.sessionId ?? heldIn.get(args.approvalId);
        const r = await client.waitForApproval({ approvalId: args.approvalId, sessionId }, { ...ctx(extra), timeoutSec: args.timeoutSec ?? 120 });
        if (r.status === 'still_pending') {
          return ok(`still pending; expires ${r.expiresAt}. Nothing ran. Call wait_for_approval again.`, r);
        }
        if (r.status === 'denied') return denied(r);
        return ok(`${r.command}: ${r.rowCount} row(s), approved and run (session ${r.sessionId})\n${JSON.stringify({ columns: r.columns, rows: r.rows })}`, r);
      }),
  );

  server.registerTool(
    'list_connections',
    {
      title: 'List connections',
      description: 'The connections the policy defines, with their row cap, timeout, and what the policy decides for your reads on each.',
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    (extra) =>
      guarded(async () => {
        const r = await client.connections(ctx(extra));
        return ok(r.connections.map((c) => `${c.name}: reads ${c.read}, maxRows ${c.maxRows}`).join('\n') || 'no connections', r);
      }),
  );

  server.registerTool(
    'describe_table',
    {
      title: 'Describe a table',
      description: "A table's columns and types from the database's catalog, with the columns the policy masks marked sensitive.",
      inputSchema: {
        connection: statement.connection,
        table: z.string().min(1).max(300).describe('schema.table (a bare name means public.name)'),
      },
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    (args, extra) =>
      guarded(async () => {
        const r = await client.describeTable(args.connection, args.table, ctx(extra));
        const lines = r.columns.map((c) => `${c.name} ${c.type}${c.nullable ? '' : ' NOT NULL'}${c.sensitive ? ` — sensitive, masked (${c.mask})` : ''}`);
        return ok(`${r.kind} ${r.schema}.${r.table} on ${r.connection}:\n${lines.join('\n')}`, r);
      }),
  );

  server.registerTool(
    'get_session',
    {
      title: 'Get a session',
      description: "A session's status and events from the log (your own sessions). waitSec long-polls until the status changes.",
      inputSchema: { sessionId: z.string().min(1).max(100), waitSec: z.number().int().min(0).max(60).optional() },
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    (args, extra) =>
      guarded(async () => {
        const r = await client.session(args.sessionId, { ...ctx(extra), waitSec: args.waitSec });
        const asked = r.events.find((e) => e.type === 'approval.requested');
        const requested = asked && dataOf(asked, 'approval.requested')?.estimate;
        const estimate = requested ? `; blast radius ${describeEstimate(requested as never)}` : '';
        return ok(`session ${r.sessionId}: ${r.status}, ${r.events.length} event(s)${estimate}\n${JSON.stringify(r)}`, r);
      }),
  );

  return server;
}

function ok(text: string, structured: object): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent: { ...structured } };
}

/** A rule's denial is a tool error like any other refusal: stable code, rule, reasons, session. */
function denied(r: { sessionId: string; rule: string | null; reasons: readonly string[] }): CallToolResult {
  return toolError({ code: 'policy_denied', message: `denied by ${r.rule ? `rule "${r.rule}"` : 'default deny'}: ${r.reasons.join('; ')}`, sessionId: r.sessionId, rule: r.rule, reasons: [...r.reasons] });
}

function toolError(error: { code: string; message: string; sessionId?: string; [k: string]: unknown }): CallToolResult {
  const where = error.sessionId ? ` (session ${error.sessionId})` : '';
  return { isError: true, content: [{ type: 'text', text: `error [${error.code}] ${error.message}${where}` }], structuredContent: { error } };
}

/** Every failure becomes a tool error with a stable code; never a stack trace, never a secret. */
async function guarded(work: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await work();
  } catch (e) {
    if (isGatehouseApiError(e)) {
      return toolError({
        code: e.code,
        message: e.reason,
        ...(e.sessionId ? { sessionId: e.sessionId } : {}),
        ...(e.details ? { details: e.details } : {}),
      });
    }
    return toolError({ code: 'internal', message: 'the Gatehouse MCP server failed to handle this call' });
  }
}
