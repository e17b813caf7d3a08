// The message published to the approvals topic for each new approval (issue 4): a JSON body for
// whoever fans it out to people (functions/notify.ts), and attributes a subscription can filter
// on without parsing the body. The parameters are not in it: they can hold personal data, and a
// Slack channel is a wider audience than the review page, which shows them to approvers only.
import { z } from 'zod';
import type { RiskClass } from '../sql/analysis.ts';
import { RISK_CLASSES } from '../sql/analysis.ts';
import type { Approval } from './types.ts';
import type { PlanEstimate } from '../blast-radius/types.ts';

export const MESSAGE_KIND = 'gatehouse.approval.requested';

export interface ApprovalNotice {
  readonly kind: typeof MESSAGE_KIND;
  readonly approvalId: string;
  readonly sessionId: string;
  readonly requester: { readonly issuer: string; readonly subject: string; readonly email?: string };
  readonly model?: string;
  readonly connection: string;
  readonly sql: string;
  readonly risk: { readonly class: RiskClass; readonly reasons: readonly string[] };
  readonly rule: string;
  readonly approvers: readonly string[];
  readonly quorum: number;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly reviewUrl: string;
  /** The planner's estimate (shared/blast-radius): counts and names, never a value. */
  readonly estimate?: PlanEstimate;
}

export interface OutgoingMessage {
  readonly body: ApprovalNotice;
  /** Pub/Sub attributes: string values only. */
  readonly attributes: Readonly<Record<string, string>>;
}

export function approvalMessage(a: Approval, reviewUrl: string): OutgoingMessage {
  const { issuer, subject, email } = a.requester;
  const body: ApprovalNotice = {
    kind: MESSAGE_KIND,
    approvalId: a.id,
    sessionId: a.sessionId,
    requester: email === undefined ? { issuer, subject } : { issuer, subject, email },
    ...(a.agent.model ? { model: a.agent.model } : {}),
    connection: a.connection,
    sql: a.sql,
    risk: { class: a.analysis.class, reasons: [...a.analysis.reasons] },
    rule: a.rule,
    approvers: [...a.approvers],
    quorum: a.quorum,
    createdAt: a.createdAt,
    expiresAt: a.expiresAt,
    reviewUrl,
    ...(a.estimate ? { estimate: a.estimate } : {}),
  };
  return { body, attributes: { connection: a.connection, riskClass: a.analysis.class, approvalId: a.id } };
}

/** The review link: the approval's resource under the approvals API. */
export function reviewUrlFor(publicUrl: string, approvalId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/v1/approvals/${encodeURIComponent(approvalId)}`;
}

const noticeSchema = z.object({
  kind: z.literal(MESSAGE_KIND),
  approvalId: z.string().min(1).max(200),
  sessionId: z.string().min(1).max(200),
  requester: z.object({ issuer: z.string(), subject: z.string(), email: z.string().optional() }),
  model: z.string().optional(),
  connection: z.string(),
  sql: z.string(),
  risk: z.object({ class: z.enum(RISK_CLASSES), reasons: z.array(z.string()) }),
  rule: z.string(),
  approvers: z.array(z.string()),
  quorum: z.int().positive(),
  createdAt: z.string(),
  expiresAt: z.string(),
  reviewUrl: z.string(),
  estimate: z
    .object({
      state: z.enum(['estimated', 'unavailable']),
      rows: z.number().optional(),
      topNode: z.string().optional(),
      totalCost: z.number().optional(),
      tables: z.array(z.string()).optional(),
      reason: z.string().optional(),
    })
    .optional(),
});

/** A message body from the topic, narrowed from `unknown`; undefined when it is not one of ours. */
export function parseApprovalNotice(data: unknown): ApprovalNotice | undefined {
  const parsed = noticeSchema.safeParse(data);
  return parsed.success ? (parsed.data as ApprovalNotice) : undefined;
}
