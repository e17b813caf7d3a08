// Typed builders for each session event, so every event of one type has one shape. The shapes
// are what `sessions show`, `evidence export` and auditors read: change them only additively.
import { createHash } from 'node:crypto';
import type { GatehouseError } from '../errors.ts';
import { updateWithResultJson } from '../result-json.ts';
import type { Principal } from '../identity/principal.ts';
import type { Decision } from '../policy/types.ts';
import type { Analysis } from '../sql/analysis.ts';
import type { StatementResult } from '../target-port.ts';
import type { EventDraft } from './events.ts';
import { eventDraft } from './event-schema.ts';

export interface AgentInfo {
  readonly model?: string;
  readonly runId?: string;
  readonly traceparent?: string;
}

export interface RequestFacts {
  /** `approve` / `reject`: a person's decision on an approval that was refused (recorded as a session of its own).
   * `connections` / `describe_table`: an agent reading the catalog (shared/describe). */
  readonly endpoint: 'query' | 'analyze' | 'approve' | 'reject' | 'connections' | 'describe_table';
  readonly principal: Principal;
  readonly agent: AgentInfo;
  readonly connection?: string;
  readonly sql?: string;
  readonly params?: readonly unknown[];
  readonly maxRows?: number;
  readonly approvalId?: string;
}

export function requestEvent(facts: RequestFacts, rejected?: GatehouseError): EventDraft {
  return eventDraft('request', {
    endpoint: facts.endpoint,
    principal: principalRecord(facts.principal),
    agent: { ...facts.agent },
    connection: facts.connection,
    sql: facts.sql,
    params: facts.params,
    maxRows: facts.maxRows,
    approvalId: facts.approvalId,
    // A request refused before analysis is still a session: what was wrong, with its stable code.
    rejected: rejected ? { code: rejected.code, message: rejected.message } : undefined,
  });
}

export function analysisEvent(analysis: Analysis): EventDraft {
  return eventDraft('analysis', { ...analysis });
}

export function analysisFailedEvent(error: GatehouseError): EventDraft {
  return eventDraft('analysis', { error: { code: error.code, message: error.message, ...error.details } });
}

export function decisionEvent(decision: Decision): EventDraft {
  return eventDraft('decision', { ...decision });
}

export function executionStartedEvent(facts: {
  connection: string;
  readOnly: boolean;
  maxRows: number;
  statementTimeoutMs: number;
  maxResultBytes?: number;
  /** The gateway process that runs it: reconciliation leaves its own in-flight sessions alone. */
  instanceId?: string;
}): EventDraft {
  return eventDraft('execution.started', { ...facts });
}

/** What the masking step adds to the record: its decisions, never a raw value. */
export interface MaskingRecord {
  readonly decisions: readonly unknown[];
  /** HMAC-SHA256 of the raw result under a key derived from the masking key: the key holder can
   * confirm what the database returned; the log itself never holds the raw PII. */
  readonly rawHmacSha256: string;
}

/**
 * Before COMMIT: `result` is the result as returned to the bot, already masked. For a write,
 * `txid` is the target's transaction id, so reconciliation can later ask the target whether it
 * committed (pg_xact_status) when the gateway died before saying so.
 */
export function executionResultEvent(result: StatementResult, masking?: MaskingRecord): EventDraft {
  return eventDraft('execution.result', {
    command: result.command,
    rowCount: result.rowCount,
    truncated: result.truncated,
    truncatedBy: result.truncatedBy,
    cellsOmitted: result.cellsOmitted || undefined,
    txid: result.txid,
    durationMs: result.durationMs,
    columns: result.fields.map((f) => ({ name: f.name, type: f.type, tableID: f.tableID, columnID: f.columnID })),
    // The result exactly as returned to the bot, and its digest, so a replay shows what the bot saw.
    rows: result.rows,
    resultSha256: resultDigest(result),
    masking: masking?.decisions,
    rawHmacSha256: masking?.rawHmacSha256,
  });
}

/** After COMMIT succeeded. */
export function executionCommittedEvent(): EventDraft {
  return eventDraft('execution.committed', {});
}

/** The statement ran but did not become durable: why, with a stable code. */
export function executionRolledBackEvent(error: GatehouseError): EventDraft {
  return eventDraft('execution.rolled_back', { reason: { code: error.code, message: error.message } });
}

export type AbandonedOutcome = 'committed' | 'rolled_back' | 'unknown';

/** Reconciliation's record of a session whose gateway is gone: what is known, and how. */
export function executionAbandonedEvent(facts: {
  outcome: AbandonedOutcome;
  /** How the outcome is known: `target_transaction_status`, `protocol`, `read_only`, or `none`. */
  basis: string;
  lastEvent: string;
  readOnly?: boolean;
  txid?: string;
  instanceId?: string;
  reconciledBy: string;
}): EventDraft {
  return eventDraft('execution.abandoned', { ...facts });
}

export function executionFailedEvent(error: GatehouseError): EventDraft {
  return eventDraft('execution.failed', { error: { code: error.code, message: error.message, ...error.details } });
}

export function principalRecord(p: Principal): Record<string, unknown> {
  return { issuer: p.issuer, subject: p.subject, email: p.email, groups: [...p.groups] };
}

export function resultDigest(result: Pick<StatementResult, 'fields' | 'rows'>): string {
  return updateWithResultJson(createHash('sha256'), result.fields.map((f) => f.name), result.rows).digest('hex');
}
