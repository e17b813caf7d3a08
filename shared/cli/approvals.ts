// `gatehouse approvals list|show|approve|reject`: a client of the approvals API (functions/
// approvals.ts) with the caller's own token — the CLI holds no privilege of its own, so a person
// decides as exactly who their token says they are, and is refused exactly as over HTTP.
import type { ApprovalSummary, ApprovalView } from '../approvals/view.ts';
import type { Verdict } from '../approvals/types.ts';
import { cell, table } from './format.ts';

export const DEFAULT_GATEHOUSE_URL = 'http://127.0.0.1:8080';

export interface ApprovalsClientOptions {
  readonly url: string;
  readonly token: string;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

/** An error answer of the API, with its stable code. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly sessionId?: string,
  ) {
    super(`[${code}] ${message}${sessionId ? ` (recorded as session ${sessionId})` : ''}`);
  }
}

export async function listApprovalsCommand(o: ApprovalsClientOptions, status: string, json: boolean): Promise<string> {
  const body = (await call(o, 'GET', `/v1/approvals?status=${encodeURIComponent(status)}`)) as { approvals: ApprovalSummary[] };
  if (json) return JSON.stringify(body.approvals, null, 2);
  if (body.approvals.length === 0) return `no ${status === 'all' ? '' : `${status} `}approvals visible to you`;
  return table(
    ['id', 'status', 'votes', 'requester', 'connection', 'risk', 'expires', 'sql'],
    body.approvals.map((a) => [a.id, a.status, `${a.approvals}/${a.quorum}`, a.requester, a.connection, a.risk, a.expiresAt, a.sql]),
  );
}

export async function showApprovalCommand(o: ApprovalsClientOptions, id: string, json: boolean): Promise<string> {
  const { approval } = (await call(o, 'GET', `/v1/approvals/${encodeURIComponent(id)}`)) as { approval: ApprovalView };
  return json ? JSON.stringify(approval, null, 2) : describe(approval);
}

export async function decideApprovalCommand(o: ApprovalsClientOptions, id: string, verdict: Verdict, comment: string, json: boolean): Promise<string> {
  const out = (await call(o, 'POST', `/v1/approvals/${encodeURIComponent(id)}/${verdict}`, { comment })) as {
    sessionId: string;
    status: string;
    approval: ApprovalView;
  };
  if (json) return JSON.stringify(out, null, 2);
  const a = out.approval;
  const done = verdict === 'reject' ? 'rejected' : a.status === 'approved' ? 'approved' : `approval recorded (${a.approvals} of ${a.quorum})`;
  return `${id}: ${done}; status ${a.status}; recorded in session ${out.sessionId}`;
}

function describe(a: ApprovalView): string {
  const n = a.notification;
  const lines = [
    `approval    ${a.id}`,
    `status      ${a.status} (${a.approvals} of ${a.quorum} approval(s))`,
    `session     ${a.sessionId}`,
    `requester   ${a.requester.email ?? a.requester.subject} (${a.requester.issuer})${a.agent.model ? `, model ${a.agent.model}` : ''}`,
    `connection  ${a.connection}`,
    `risk        ${a.risk.class}`,
    ...a.risk.reasons.map((r) => `            ${r}`),
    `rule        ${a.rule}: ${a.quorum} of ${a.approvers.join(', ')}`,
    `created     ${a.createdAt}`,
    `expires     ${a.expiresAt}`,
    `sql         ${a.sql}`,
    `params      ${cell(a.params)}`,
    `notified    ${n.state === 'published' ? `published (message ${n.messageId ?? '?'})` : `pending (${n.attempts} attempt(s)${n.lastError ? `, last: ${n.lastError}` : ''})`}`,
  ];
  if (a.redemption) lines.push(`used        ${a.redemption.at} in session ${a.redemption.sessionId}`);
  if (a.votes.length > 0) {
    lines.push('votes');
    for (const v of a.votes) lines.push(`  ${v.verdict.padEnd(7)} ${v.by.email ?? v.by.subject}  ${v.at}  ${JSON.stringify(v.comment)}`);
  }
  return lines.join('\n');
}

async function call(o: ApprovalsClientOptions, method: string, path: string, body?: unknown): Promise<unknown> {
  const doFetch = o.fetch ?? fetch;
  let res: Response;
  try {
    res = await doFetch(`${o.url.replace(/\/+$/, '')}${path}`, {
      method,
      headers: { authorization: `Bearer ${o.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(o.timeoutMs ?? 30_000),
    });
  } catch (e) {
    throw new Error(`cannot reach Gatehouse at ${o.url} (${e instanceof Error ? e.message : String(e)}); is \`gatehouse start\` running?`);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`Gatehouse at ${o.url} answered ${res.status} with something that is not JSON`);
  }
  if (!res.ok) {
    const err = (parsed as { error?: { code?: unknown; message?: unknown }; sessionId?: unknown }) ?? {};
    throw new ApiError(
      res.status,
      typeof err.error?.code === 'string' ? err.error.code : `http_${res.status}`,
      typeof err.error?.message === 'string' ? err.error.message : 'request failed',
      typeof err.sessionId === 'string' ? err.sessionId : undefined,
    );
  }
  return parsed;
}
