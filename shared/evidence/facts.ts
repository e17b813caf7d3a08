// One session's events, read into the facts an auditor asks about: who, what, what was decided
// and by which rule, who approved, what ran and what masking hid. Export, verify, replay, the
// report and the sample pages all read sessions through this one function, so they cannot
// disagree about what a session says.
import type { SessionEvent } from '../audit/events.ts';
import { protocolBreak } from '../audit/protocol.ts';
import { statusAfter } from '../audit/status.ts';
import { dataOf } from '../audit/event-schema.ts';
import { approvalFact, isApprovalEvent, type ApprovalFact } from './approvals.ts';
import { field, list, text } from './guards.ts';
import type { Identity } from './identity.ts';
import { columnFacts, type ColumnFact } from './masking.ts';

export interface SessionFacts {
  readonly sessionId: string;
  readonly startedAt: string;
  readonly lastAt: string;
  readonly events: number;
  readonly head: string;
  readonly status: string;
  readonly endpoint?: string;
  readonly principal?: Identity;
  readonly agent: { readonly model?: string; readonly runId?: string; readonly traceparent?: string };
  readonly connection?: string;
  readonly sql?: string;
  readonly params?: readonly unknown[];
  readonly approvalId?: string;
  /** Refused before anything was decided (bad body, unparsable SQL, …), with its stable code. */
  readonly rejected?: { readonly code: string; readonly message?: string };
  readonly analysis?: {
    readonly kind?: string;
    readonly class?: string;
    readonly reasons: readonly string[];
    readonly tablesRead: readonly string[];
    readonly tablesWritten: readonly string[];
    readonly functions: readonly string[];
    readonly fingerprint?: string;
  };
  readonly decision?: {
    readonly action?: string;
    readonly rule?: string;
    readonly reasons: readonly string[];
    readonly policySha256?: string;
    readonly approvers: readonly string[];
    readonly quorum?: number;
    /**
     * A redemption: the statement ran (or was refused) on approval `id`, asked for in session
     * `sessionId`, granted by these people — recorded in this session's own decision.
     */
    readonly approval?: {
      readonly id?: string;
      readonly sessionId?: string;
      readonly grantedBy: readonly Identity[];
      readonly refusedCode?: string;
    };
  };
  /** Approval events in this session (asked for here). */
  readonly approvals: readonly ApprovalFact[];
  readonly execution?: {
    /**
     * `completed`: a read's result, or a write that committed. `rolled_back`: ran, then not kept.
     * `unknown`: a write whose COMMIT nobody can vouch for — closed by reconciliation as unknown, or
     * not closed yet (result without committed, started without anything): a SOC 2 exception.
     */
    readonly outcome: 'running' | 'completed' | 'failed' | 'rolled_back' | 'unknown';
    readonly startedAt?: string;
    readonly finishedAt?: string;
    readonly readOnly?: boolean;
    readonly maxRows?: number;
    readonly statementTimeoutMs?: number;
    readonly command?: string;
    readonly rowCount?: number;
    readonly truncated?: boolean;
    readonly durationMs?: number;
    readonly columns: readonly ColumnFact[];
    readonly resultSha256?: string;
    /** Keyed digest of the raw (unmasked) result: the masking-key holder can confirm what the database returned. */
    readonly rawHmacSha256?: string;
    readonly error?: { readonly code?: string; readonly message?: string };
  };
}

export function sessionFacts(events: readonly SessionEvent[]): SessionFacts {
  const first = events[0];
  const last = events.at(-1);
  if (!first || !last) throw new TypeError('sessionFacts: a session has at least one event');
  const byType = (type: SessionEvent['type']) => events.find((e) => e.type === type);
  // Typed through the event schema (shared/audit/event-schema.ts): an event that does not fit it
  // contributes nothing here, and `evidence verify` names it (event_schema).
  const requestEvent = byType('request');
  const analysisEvent = byType('analysis');
  const decisionEvent = byType('decision');
  const request = requestEvent && dataOf(requestEvent, 'request');
  const analysisData = analysisEvent && dataOf(analysisEvent, 'analysis');
  const decisionData = decisionEvent && dataOf(decisionEvent, 'decision');
  const started = byType('execution.started');
  const startedData = started && dataOf(started, 'execution.started');
  // execution.result since the outcome protocol; execution.completed in older logs (result and
  // COMMIT in one record, written before COMMIT: read as committed, which is what it claimed).
  const completed = byType('execution.result') ?? byType('execution.completed');
  const completedData = completed && (dataOf(completed, 'execution.result') ?? dataOf(completed, 'execution.completed'));
  const failed = byType('execution.failed');
  const failedData = failed && dataOf(failed, 'execution.failed');

  const outOfOrder = protocolBreak(events) !== undefined;
  const rejected = request?.rejected ?? analysisData?.error;
  const agent = request?.agent;
  return {
    sessionId: first.sessionId,
    startedAt: first.at,
    lastAt: last.at,
    events: events.length,
    head: last.hash,
    // Out of the gateway's order (an unknown type included): nothing the last event says is believed.
    status: outOfOrder ? 'unknown' : statusAfter(last),
    endpoint: request?.endpoint,
    principal: request?.principal && principalIdentity(request.principal),
    agent: {
      model: agent?.model,
      runId: agent?.runId,
      traceparent: agent?.traceparent,
    },
    connection: request?.connection,
    sql: request?.sql,
    params: request?.params,
    approvalId: request?.approvalId,
    rejected: rejected ? { code: rejected.code, message: rejected.message } : undefined,
    analysis:
      analysisData && !analysisData.error
        ? {
            kind: analysisData.kind,
            class: analysisData.class,
            reasons: analysisData.reasons ?? [],
            tablesRead: analysisData.tables?.read ?? [],
            tablesWritten: analysisData.tables?.written ?? [],
            functions: analysisData.functions ?? [],
            fingerprint: analysisData.fingerprint,
          }
        : undefined,
    decision: decisionData
      ? {
          action: decisionData.action,
          rule: decisionData.rule ?? undefined,
          reasons: decisionData.reasons ?? [],
          policySha256: decisionData.policySha256,
          approvers: decisionData.approvers ?? [],
          quorum: decisionData.quorum,
          approval: decisionData.approval && {
            id: decisionData.approval.id,
            sessionId: decisionData.approval.sessionId,
            grantedBy: (decisionData.approval.grantedBy ?? []).map((p) => ({ issuer: p.issuer, subject: p.subject, email: p.email, groups: [] })),
            refusedCode: decisionData.approval.error?.code,
          },
        }
      : undefined,
    approvals: events.filter(isApprovalEvent).map(approvalFact),
    execution:
      started || completed || failed
        ? {
            outcome: executionOutcome(events, startedData?.readOnly, outOfOrder),
            startedAt: started?.at,
            finishedAt: (failed ?? events.findLast((e) => OUTCOME_EVENTS.has(e.type)) ?? completed)?.at,
            readOnly: startedData?.readOnly,
            maxRows: startedData?.maxRows,
            statementTimeoutMs: startedData?.statementTimeoutMs,
            command: completedData?.command,
            rowCount: completedData?.rowCount,
            truncated: completedData?.truncated,
            durationMs: completedData?.durationMs,
            columns: completed ? columnFacts(completed.data) : [],
            resultSha256: completedData?.resultSha256,
            rawHmacSha256: completedData?.rawHmacSha256,
            error: failed ? { code: failedData?.error?.code, message: failedData?.error?.message } : undefined,
          }
        : undefined,
  };
}

const OUTCOME_EVENTS: ReadonlySet<string> = new Set(['execution.committed', 'execution.rolled_back', 'execution.abandoned']);

/** What became of the statement, by the outcome protocol (docs/outcomes.md). */
function executionOutcome(events: readonly SessionEvent[], readOnly: boolean | undefined, outOfOrder: boolean): NonNullable<SessionFacts['execution']>['outcome'] {
  // Events out of the gateway's order (a rolled_back appended after a committed, execution after
  // a deny) prove no outcome either way (shared/audit/protocol.ts).
  if (outOfOrder) return 'unknown';
  const has = (type: string) => events.some((e) => e.type === type);
  if (has('execution.failed')) return 'failed';
  if (has('execution.rolled_back')) return 'rolled_back';
  const abandoned = events.find((e) => e.type === 'execution.abandoned');
  const outcome = abandoned && dataOf(abandoned, 'execution.abandoned')?.outcome;
  if (has('execution.committed') || outcome === 'committed') return 'completed';
  if (outcome === 'rolled_back') return 'rolled_back';
  if (abandoned) return 'unknown';
  if (has('execution.completed')) return 'completed';
  if (has('execution.result')) return readOnly === true ? 'completed' : 'unknown';
  return 'running';
}

/** The rows stored in `execution.result` (`execution.completed` in older logs): the result exactly as the bot received it. */
export function storedResult(events: readonly SessionEvent[]): { columns: string[]; rows: unknown[][] } | undefined {
  const completed = events.find((e) => e.type === 'execution.result') ?? events.find((e) => e.type === 'execution.completed');
  if (!completed) return undefined;
  const columns = list(field(completed.data, 'columns')).map((c, i) => text(field(c, 'name')) ?? `column ${i + 1}`);
  const rows = list(field(completed.data, 'rows')).map((r) => (Array.isArray(r) ? [...r] : [r]));
  return { columns, rows };
}

/** Approvals that count for this statement: asked for in this session, or named by its request. */
export function approvalsFor(facts: SessionFacts, elsewhere: readonly ApprovalFact[]): ApprovalFact[] {
  const own = new Set(facts.approvals.map((a) => `${a.sessionId}#${a.seq}`));
  return [...facts.approvals, ...elsewhere.filter((a) => !own.has(`${a.sessionId}#${a.seq}`))];
}

export function riskClass(f: SessionFacts): string {
  return f.analysis?.class ?? 'none';
}

export function decisionOf(f: SessionFacts): string {
  return f.decision?.action ?? 'none';
}

/** The masked columns, as `name (strategy)`. */
export function maskedColumns(f: SessionFacts): string[] {
  return (f.execution?.columns ?? []).filter((c) => c.masked).map((c) => (c.mask ? `${c.name} (${c.mask})` : c.name));
}

/** The requester as recorded (drafts.ts principalRecord): none when it names nobody. */
function principalIdentity(p: { issuer?: string; subject?: string; email?: string; groups?: readonly string[] }): Identity | undefined {
  if (p.issuer === undefined && p.subject === undefined && p.email === undefined) return undefined;
  return { issuer: p.issuer, subject: p.subject, email: p.email, groups: [...(p.groups ?? [])] };
}

