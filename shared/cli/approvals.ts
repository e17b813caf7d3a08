// `gatehouse approvals list|show|approve|reject`: a client of the approvals API (functions/
// approvals.ts) with the caller's own token — the CLI holds no privilege of its own, so a person
// decides as exactly who their token says they are, and is refused exactly as over HTTP.
import { Gatehouse, type ApprovalView } from '../client/index.ts';
import type { Verdict } from '../approvals/types.ts';
import { describeEstimate } from '../blast-radius/describe.ts';
import { cell, table } from './format.ts';

export { DEFAULT_GATEHOUSE_URL } from '../client/index.ts';

export interface ApprovalsClientOptions {
  readonly url: string;
  readonly token: string;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

// One HTTP client in the repository (shared/client): its errors carry the stable code and the
// session id, and its message says "[code] message (recorded as session …)".
const client = (o: ApprovalsClientOptions) => new Gatehouse({ url: o.url, token: o.token, fetch: o.fetch, timeoutMs: o.timeoutMs });

export async function listApprovalsCommand(o: ApprovalsClientOptions, status: string, json: boolean): Promise<string> {
  const { approvals, truncated } = await client(o).approvalList({ status });
  if (json) return JSON.stringify(approvals, null, 2);
  // Rows may be left out (the store held more than the desk reads, e.g. rows written behind its
  // back that nobody may decide): said, never an empty list that looks complete.
  const more = truncated ? `\ntruncated: approvals may have been left out of this listing (more than were read or listed)` : '';
  if (approvals.length === 0) return `no ${status === 'all' ? '' : `${status} `}approvals visible to you${more}`;
  // The store is a cache anyone with its write rights can edit: each row says whether the log
  // proves it, before the SQL (which is what an edited row would dress up).
  return (
    table(
      ['id', 'status', 'votes', 'log', 'requester', 'connection', 'risk', 'expires', 'sql'],
      approvals.map((a) => [a.id, a.status, `${a.approvals}/${a.quorum}`, logCell(a.log), a.requester, a.connection, a.risk, a.expiresAt, a.sql]),
    ) + more
  );
}

export async function showApprovalCommand(o: ApprovalsClientOptions, id: string, json: boolean): Promise<string> {
  const approval = await client(o).approval(id);
  return json ? JSON.stringify(approval, null, 2) : describe(approval);
}

export async function decideApprovalCommand(o: ApprovalsClientOptions, id: string, verdict: Verdict, comment: string, json: boolean): Promise<string> {
  const out = await client(o).decide(id, verdict, comment);
  if (json) return JSON.stringify(out, null, 2);
  const a = out.approval;
  const done = verdict === 'reject' ? 'rejected' : a.status === 'approved' ? 'approved' : `approval recorded (${a.approvals} of ${a.quorum})`;
  return `${id}: ${done}; status ${a.status}; recorded in session ${out.sessionId}`;
}

function logCell(log: { agrees: boolean; reason?: string } | undefined): string {
  if (log === undefined) return 'unchecked'; // a gateway from before listings checked the log
  return log.agrees ? 'proven' : `NOT PROVEN (${log.reason ?? 'unknown'})`;
}

function describe(a: ApprovalView): string {
  const n = a.notification;
  const lines = [
    // First, and loud: the store is a cache; what the log does not prove is not so (issue 14).
    ...(a.log && !a.log.agrees ? [`WARNING     the session log does not prove this approval (${a.log.reason}): ${a.log.message}`] : []),
    `approval    ${a.id}`,
    `status      ${a.status} (${a.approvals} of ${a.quorum} approval(s))`,
    `session     ${a.sessionId}`,
    ...(a.log?.agrees ? [`log         agrees (${a.log.signedVotes} vote(s) signed by the approval desk)`] : []),
    `requester   ${a.requester.email ?? a.requester.subject} (${a.requester.issuer})${a.agent.model ? `, model ${a.agent.model}` : ''}`,
    `connection  ${a.connection}`,
    `risk        ${a.risk.class}`,
    ...a.risk.reasons.map((r) => `            ${r}`),
    `rule        ${a.rule}: ${a.quorum} of ${a.approvers.join(', ')}`,
    `created     ${a.createdAt}`,
    `expires     ${a.expiresAt}`,
    `sql         ${a.sql}`,
    `params      ${cell(a.params)}`,
    `estimate    ${describeEstimate(a.estimate)}`,
    `notified    ${n.state === 'published' ? `published (message ${n.messageId ?? '?'})` : `pending (${n.attempts} attempt(s)${n.lastError ? `, last: ${n.lastError}` : ''})`}`,
  ];
  if (a.redemption) lines.push(`used        ${a.redemption.at} in session ${a.redemption.sessionId}`);
  if (a.votes.length > 0) {
    lines.push('votes');
    for (const v of a.votes) lines.push(`  ${v.verdict.padEnd(7)} ${v.by.email ?? v.by.subject}  ${v.at}  ${JSON.stringify(v.comment)}`);
  }
  return lines.join('\n');
}
