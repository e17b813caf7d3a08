// The TypeScript client of a Gatehouse deployment (package subpath `gatehouse/client`): the one
// HTTP client in the repository — the CLI's approvals commands and the MCP server use it too.
// It holds no privilege: every call carries the caller's own ID token, obtained per call from
// `tokenProvider` (or the fixed `token`), and answers are checked against the same zod schemas
// the server's contract is generated from (shared/api/schemas.ts).
//
//   const gh = new Gatehouse({ url, tokenProvider, model: 'gemini-2.5-pro' });
//   const r = await gh.query({ connection: 'demo', sql: 'UPDATE …', params: [1] });
//   if (r.status === 'pending_approval') await gh.waitForApproval(r, { timeoutSec: 600 });
import type { z } from 'zod';
import {
  AnalyzeAnswerSchema,
  ApprovalAnswerSchema,
  ApprovalListSchema,
  ConnectionsAnswerSchema,
  DecisionAnswerSchema,
  ErrorBodySchema,
  QueryDeniedSchema,
  QueryExecutedSchema,
  QueryPendingSchema,
  SessionAnswerSchema,
  TableAnswerSchema,
  type AnalyzeAnswer,
  type ApprovalList,
  type ConnectionsAnswer,
  type DecisionAnswer,
  type QueryDenied,
  type QueryExecuted,
  type QueryPending,
  type QueryRequestBody,
  type SessionAnswer,
  type TableAnswer,
} from '../api/schemas.ts';
import type { ErrorCode } from '../errors.ts';
import { GatehouseApiError, isGatehouseApiError } from './errors.ts';
import { dataOf } from '../audit/event-schema.ts';
import { BodyTooLarge, readBounded } from '../http-body.ts';

export { GatehouseApiError, isGatehouseApiError, type ClientErrorCode } from './errors.ts';
export { commandToken, fixedToken, googleIdToken } from './tokens.ts';
export type {
  AnalyzeAnswer,
  ApprovalList,
  ConnectionsAnswer,
  DecisionAnswer,
  PlanEstimate,
  QueryDenied,
  QueryExecuted,
  QueryPending,
  SessionAnswer,
  TableAnswer,
} from '../api/schemas.ts';
export type { ErrorCode } from '../errors.ts';

export const DEFAULT_GATEHOUSE_URL = 'http://127.0.0.1:8080';
/** The server caps a long poll at 60 s (GatewayDeps.maxWaitSec); longer waits are several polls. */
const MAX_POLL_SEC = 60;

export type TokenProvider = () => string | Promise<string>;

export interface GatehouseOptions {
  /** Default http://127.0.0.1:8080 (`gatehouse start`). */
  readonly url?: string;
  readonly token?: string;
  /** Called before every request: tokens expire, and a workload identity refreshes its own. */
  readonly tokenProvider?: TokenProvider;
  /** The model (and version) driving the caller: X-Agent-Model. */
  readonly model?: string;
  /** The agent run this belongs to: X-Agent-Run-Id. */
  readonly runId?: string;
  readonly fetch?: typeof fetch;
  /** Per request, default 30 s (a long poll adds its wait to this). */
  readonly timeoutMs?: number;
  /** The largest answer read, default 64 MiB (a result is capped at the connection's maxResultBytes, 4 MiB by default); larger is unexpected_response. */
  readonly maxResponseBytes?: number;
}

/** Per-call overrides of the identity headers (the MCP server sets them per tool call). */
export interface CallContext {
  readonly model?: string;
  readonly runId?: string;
  readonly signal?: AbortSignal;
}

export type QueryAnswer = QueryExecuted | QueryDenied | QueryPending;
export type ApprovalView = z.infer<typeof ApprovalAnswerSchema>['approval'];
export type ApprovalSummary = ApprovalList['approvals'][number];

/** waitForApproval's answer: the statement ran (or was denied on redemption), or the wait ran out. */
export type WaitOutcome =
  | QueryExecuted
  | QueryDenied
  | { readonly status: 'still_pending'; readonly approvalId: string; readonly sessionId: string; readonly expiresAt: string };

export class Gatehouse {
  readonly url: string;
  readonly #tokenProvider: TokenProvider;
  readonly #options: GatehouseOptions;

  constructor(options: GatehouseOptions = {}) {
    const { token, tokenProvider } = options;
    if (token === undefined && tokenProvider === undefined) throw new TypeError('Gatehouse: give token or tokenProvider');
    this.url = (options.url ?? DEFAULT_GATEHOUSE_URL).replace(/\/+$/, '');
    // The URL is quoted in every error: it must not carry a credential (the token is the caller's).
    let parsed: URL;
    try {
      parsed = new URL(this.url);
    } catch {
      throw new TypeError('Gatehouse: url is not an http(s) URL');
    }
    if (parsed.username !== '' || parsed.password !== '') throw new TypeError('Gatehouse: the url must not carry a user or password (the ID token is the credential)');
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TypeError('Gatehouse: url is not an http(s) URL');
    this.#tokenProvider = tokenProvider ?? (() => token!);
    this.#options = options;
  }

  /** POST /v1/query: executed (200), denied (403) or pending approval (202). Other refusals throw. */
  async query(request: QueryRequestBody, ctx: CallContext = {}): Promise<QueryAnswer> {
    const { status, body } = await this.#call('POST', '/v1/query', request, ctx, [200, 202, 403]);
    if (status === 200) return parse(QueryExecutedSchema, body, status);
    if (status === 202) return parse(QueryPendingSchema, body, status);
    return parse(QueryDeniedSchema, body, status);
  }

  /** POST /v1/analyze: risk, decision, masking preview; recorded, nothing runs. */
  async analyze(request: QueryRequestBody, ctx: CallContext = {}): Promise<AnalyzeAnswer> {
    const { status, body } = await this.#call('POST', '/v1/analyze', request, ctx);
    return parse(AnalyzeAnswerSchema, body, status);
  }

  /** GET /v1/sessions/:id[?wait=s]: its status and events (yours, or any as an auditor). */
  async session(sessionId: string, options: { waitSec?: number } & CallContext = {}): Promise<SessionAnswer> {
    const wait = Math.max(0, Math.min(Math.floor(options.waitSec ?? 0), MAX_POLL_SEC));
    const path = `/v1/sessions/${segment(sessionId, 'session id')}${wait > 0 ? `?wait=${wait}` : ''}`;
    const { status, body } = await this.#call('GET', path, undefined, options, [200], wait * 1000);
    return parse(SessionAnswerSchema, body, status);
  }

  /** GET /v1/connections: the policy's connections, and what it decides for your reads on each. */
  async connections(ctx: CallContext = {}): Promise<ConnectionsAnswer> {
    const { status, body } = await this.#call('GET', '/v1/connections', undefined, ctx);
    return parse(ConnectionsAnswerSchema, body, status);
  }

  /** GET /v1/connections/:name/tables/:schema.table — columns from the target's catalog, sensitive ones marked. */
  async describeTable(connection: string, table: string, ctx: CallContext = {}): Promise<TableAnswer> {
    const qualified = table.includes('.') ? table : `public.${table}`;
    const path = `/v1/connections/${segment(connection, 'connection')}/tables/${segment(qualified, 'table')}`;
    const { status, body } = await this.#call('GET', path, undefined, ctx);
    return parse(TableAnswerSchema, body, status);
  }

  /** GET /v1/approvals/:id (approvers, auditors and the requester). */
  async approval(approvalId: string, ctx: CallContext = {}): Promise<ApprovalView> {
    const { status, body } = await this.#call('GET', `/v1/approvals/${segment(approvalId, 'approval id')}`, undefined, ctx);
    return parse(ApprovalAnswerSchema, body, status).approval;
  }

  /** GET /v1/approvals?status=…: what the caller may see, oldest first. */
  async approvals(options: { status?: string; limit?: number } & CallContext = {}): Promise<ApprovalSummary[]> {
    return (await this.approvalList(options)).approvals;
  }

  /** GET /v1/approvals with `truncated`: true when rows may have been left out (more than `limit`, or more than the desk reads). */
  async approvalList(options: { status?: string; limit?: number } & CallContext = {}): Promise<{ approvals: ApprovalSummary[]; truncated: boolean }> {
    const q = new URLSearchParams();
    if (options.status) q.set('status', options.status);
    if (options.limit !== undefined) q.set('limit', String(options.limit));
    const { status, body } = await this.#call('GET', `/v1/approvals${q.size ? `?${q}` : ''}`, undefined, options);
    const list = parse(ApprovalListSchema, body, status);
    return { approvals: list.approvals, truncated: list.truncated === true };
  }

  /** POST /v1/approvals/:id/approve|reject with the reviewer's comment (required). */
  async decide(approvalId: string, verdict: 'approve' | 'reject', comment: string, ctx: CallContext = {}): Promise<DecisionAnswer> {
    const { status, body } = await this.#call('POST', `/v1/approvals/${segment(approvalId, 'approval id')}/${verdict}`, { comment }, ctx);
    return parse(DecisionAnswerSchema, body, status);
  }

  /**
   * Waits until people decide on a held statement, then presents the approval with exactly the
   * statement it was granted for. Waits by long-polling the requesting session
   * (GET /v1/sessions/:id?wait=, on the bots' own route: on GCP a bot may not reach the approvals
   * function), never in a hot loop. Runs it at most once: the server marks the approval used
   * atomically, and a second redemption is refused (approval_used).
   * Rejected or expired: throws (approval_rejected / approval_expired). Out of time: still_pending.
   * Given only an approval id, the session is looked up in the approval view (GET /v1/approvals/:id,
   * which the requester may read where that route is reachable).
   */
  async waitForApproval(
    held: string | QueryPending | { readonly approvalId: string; readonly sessionId?: string },
    options: { timeoutSec?: number; maxRows?: number } & CallContext = {},
  ): Promise<WaitOutcome> {
    const approvalId = typeof held === 'string' ? held : 'approval' in held ? held.approval.id : held.approvalId;
    let sessionId = typeof held === 'string' ? undefined : held.sessionId;
    sessionId ??= (await this.approval(approvalId, options)).sessionId;
    const deadline = Date.now() + Math.max(0, options.timeoutSec ?? 300) * 1000;
    let waitSec = 0;
    for (;;) {
      const s = await this.session(sessionId, { ...options, waitSec });
      const asked = s.events.find((e) => e.type === 'approval.requested');
      const requested = asked && dataOf(asked, 'approval.requested');
      if (!requested || requested.approvalId !== approvalId || requested.expiresAt === undefined) {
        throw new GatehouseApiError(409, 'approval_mismatch', `session ${sessionId} did not ask for approval ${approvalId}`, { sessionId });
      }
      const expiresAt = requested.expiresAt;
      switch (s.status) {
        case 'approved':
          return this.#redeem(approvalId, s, options);
        case 'rejected':
          throw new GatehouseApiError(409, 'approval_rejected', `approval ${approvalId} was rejected`, { sessionId });
        case 'pending_approval': {
          // Expiry writes no event: the session stays pending, so the client reads the clock.
          if (Date.now() >= Date.parse(expiresAt)) {
            throw new GatehouseApiError(409, 'approval_expired', `approval ${approvalId} expired at ${expiresAt}`, { sessionId });
          }
          const left = Math.floor((deadline - Date.now()) / 1000);
          if (left <= 0) return { status: 'still_pending', approvalId, sessionId, expiresAt };
          // No longer than until its expiry: after that only the clock can tell, not the session.
          const untilExpiry = Math.ceil((Date.parse(expiresAt) - Date.now()) / 1000);
          waitSec = Math.max(1, Math.min(left, MAX_POLL_SEC, untilExpiry));
          continue;
        }
        default:
          throw new GatehouseApiError(409, 'unexpected_response', `session ${sessionId} is ${s.status}, not waiting for an approval`, { sessionId });
      }
    }
  }

  async #redeem(approvalId: string, s: SessionAnswer, options: { maxRows?: number } & CallContext): Promise<QueryExecuted | QueryDenied> {
    // Exactly what was held, as the log recorded it: the approval covers nothing else.
    const held = s.events.find((e) => e.type === 'request');
    const { connection, sql, params } = (held && dataOf(held, 'request')) ?? {};
    if (connection === undefined || sql === undefined) {
      throw new GatehouseApiError(200, 'unexpected_response', `session ${s.sessionId} does not record the held statement`, { sessionId: s.sessionId });
    }
    const answer = await this.query(
      {
        connection,
        sql,
        params: (params ?? []) as QueryRequestBody['params'],
        approvalId,
        ...(options.maxRows === undefined ? {} : { maxRows: options.maxRows }),
      },
      options,
    );
    if (answer.status === 'pending_approval') {
      // The policy changed under the approval and wants a new one: say so rather than loop.
      throw new GatehouseApiError(409, 'approval_mismatch', 'the redemption was held for a new approval', { sessionId: answer.sessionId });
    }
    return answer;
  }

  async #call(
    method: string,
    path: string,
    body: unknown,
    ctx: CallContext,
    okStatuses: readonly number[] = [200],
    extraTimeoutMs = 0,
  ): Promise<{ status: number; body: unknown }> {
    let token: string;
    try {
      token = await this.#tokenProvider();
    } catch (e) {
      throw new GatehouseApiError(0, 'token_unavailable', `could not obtain an ID token: ${e instanceof Error ? e.message : String(e)}`);
    }
    token = String(token).trim();
    // Only a token can go in the header: fetch refuses a value with a newline, CR or NUL and quotes
    // the whole value in its error — the token itself, into a message that reaches the agent.
    if (!TOKEN.test(token)) {
      throw new GatehouseApiError(0, 'token_unavailable', 'the ID token is not one token (it is empty, or holds spaces or control characters): not sent');
    }
    const model = ctx.model ?? this.#options.model;
    const runId = ctx.runId ?? this.#options.runId;
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    for (const [name, value] of [['x-agent-model', model], ['x-agent-run-id', runId]] as const) {
      if (!value) continue;
      // The value is not quoted back: it can be anything an MCP client called itself.
      if (!HEADER_VALUE.test(value)) {
        throw new GatehouseApiError(0, 'bad_request', `${name} must be printable ASCII, at most ${MAX_HEADER_VALUE} characters (an MCP server takes it from the client's clientInfo unless --model is given): not sent`);
      }
      headers[name] = value;
    }
    if (body !== undefined) headers['content-type'] = 'application/json';
    const timeout = AbortSignal.timeout((this.#options.timeoutMs ?? 30_000) + extraTimeoutMs);
    let res: Response;
    try {
      res = await (this.#options.fetch ?? fetch)(`${this.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: ctx.signal ? AbortSignal.any([ctx.signal, timeout]) : timeout,
        // Gatehouse never redirects: following one would send the statement, its parameters and
        // (to the same origin) the token wherever the Location points.
        redirect: 'manual',
      });
    } catch (e) {
      // Only the cause's code: fetch's own message can quote a request header (the token).
      throw new GatehouseApiError(0, 'unreachable', `cannot reach Gatehouse at ${this.url} (${failureCode(e)})`);
    }
    if (res.type === 'opaqueredirect' || (res.status >= 300 && res.status < 400)) {
      await res.body?.cancel().catch(() => {});
      throw new GatehouseApiError(res.status, 'unexpected_response', `Gatehouse at ${this.url} answered ${res.status}, a redirect: not followed (point the client at the URL that answers)`);
    }
    const text = await readCapped(res, this.#options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, this.url);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new GatehouseApiError(res.status, 'unexpected_response', `Gatehouse at ${this.url} answered ${res.status} with something that is not JSON`);
    }
    const error = ErrorBodySchema.safeParse(parsed);
    if (error.success) {
      const { code, message, details } = error.data.error;
      throw new GatehouseApiError(res.status, code, message, { sessionId: error.data.sessionId, details });
    }
    if (!okStatuses.includes(res.status)) {
      // An error answer this client cannot read (a newer server's code, a proxy's page).
      const raw = parsed as { error?: { code?: unknown; message?: unknown }; sessionId?: unknown } | null;
      const code = typeof raw?.error?.code === 'string' ? raw.error.code : `http_${res.status}`;
      const message = typeof raw?.error?.message === 'string' ? raw.error.message : `request failed with HTTP ${res.status}`;
      throw new GatehouseApiError(res.status, code, message, { sessionId: typeof raw?.sessionId === 'string' ? raw.sessionId : undefined });
    }
    return { status: res.status, body: parsed };
  }
}

/** RFC 6750 b64token, and the characters of a JWT: what may follow `Bearer `. */
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const MAX_HEADER_VALUE = 512;
/** Printable ASCII: what every HTTP stack passes through unchanged, and the log records as sent. */
const HEADER_VALUE = new RegExp(`^[\\x20-\\x7e]{1,${MAX_HEADER_VALUE}}$`);

/**
 * One path segment: percent-encoded, and never `.` or `..`, which a URL parser resolves as a dot
 * segment (`/v1/sessions/..` is `/v1/`, `/v1/approvals/../approve` is `/v1/approve`).
 */
function segment(value: string, what: string): string {
  const encoded = encodeURIComponent(value);
  if (encoded === '' || encoded === '.' || encoded === '..') throw new GatehouseApiError(0, 'bad_request', `a ${what} cannot be empty, "." or ".."`);
  return encoded;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** The body as text, read no further than `max` bytes: an answer without end must not take the process's memory. */
async function readCapped(res: Response, max: number, url: string): Promise<string> {
  const tooLarge = () => new GatehouseApiError(res.status, 'unexpected_response', `Gatehouse at ${url} answered more than ${max} bytes: not read`);
  try {
    return (await readBounded(res, max)).toString('utf8');
  } catch (e) {
    if (e instanceof BodyTooLarge) throw tooLarge();
    throw new GatehouseApiError(0, 'unreachable', `the answer from Gatehouse at ${url} broke off (${failureCode(e)})`);
  }
}

function failureCode(e: unknown): string {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) return e.name;
  const cause = e instanceof Error ? (e.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === 'string' ? cause.code : 'request failed';
}

function parse<S extends z.ZodType>(schema: S, body: unknown, status: number): z.infer<S> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  throw new GatehouseApiError(status, 'unexpected_response', `the answer does not match the API contract: ${first?.path.join('.') || '(body)'}: ${first?.message}`);
}
