// Events as every writer builds them (the gateway's drafts, the approval desk's), for tests of the
// event schema and its compiled check.
import { generateKeyPairSync, sign } from 'node:crypto';
import * as ev from '../../shared/audit/drafts.ts';
import type { EventDraft } from '../../shared/audit/events.ts';
import { approvalRedeemedEvent, approvalRequestedEvent, redeemedDecision, refusedRedemptionDecision, voteEvent } from '../../shared/approvals/events.ts';
import { castVote, openApproval } from '../../shared/approvals/state.ts';
import { signedBytes, signedVoteOf } from '../../shared/approvals/vote-signature.ts';
import { GatehouseError } from '../../shared/errors.ts';
import type { Principal } from '../../shared/identity/principal.ts';
import type { Analysis } from '../../shared/sql/analysis.ts';
import type { Decision } from '../../shared/policy/types.ts';

export const alice: Principal = {
  issuer: 'https://issuer.test',
  subject: 'alice',
  email: 'alice@example.com',
  groups: ['bots'],
  token: { iat: 1_700_000_000, sha256: 'a'.repeat(64) },
};
export const dana: Principal = { ...alice, subject: 'dana', email: 'dana@example.com', groups: ['dba'], token: { iat: 1_700_000_001, sha256: 'c'.repeat(64) } };
export const analysis: Analysis = {
  pgType: 'UpdateStmt',
  kind: 'UPDATE',
  class: 'write',
  reasons: ['updates public.orders'],
  tables: { read: [], written: ['public.orders'] },
  columns: ['status'],
  functions: [],
  fingerprint: 'f00d',
};
export const approveDecision: Decision = { action: 'approve', rule: 'writes-need-dba', reasons: ['writes'], policySha256: 'b'.repeat(64), approvers: ['group:dba'], quorum: 1, ttlMs: 60_000 };
export const error = new GatehouseError('sql_unparsable', 'syntax error at or near "SELEC"', { position: 1 });

/** A session as the gateway and the approval desk write it, every builder used at least once. */
export function writtenSession(): { drafts: EventDraft[]; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const approval = openApproval({
    id: 'appr-1',
    sessionId: 's-1',
    principal: alice,
    agent: { model: 'm-1' },
    connection: 'prod',
    sql: 'UPDATE orders SET status = $1',
    params: ['shipped'],
    analysis,
    decision: approveDecision,
    now: new Date('2030-01-01T00:00:00Z'),
    digest: 'd'.repeat(64),
    republishAfterMs: 1000,
  });
  const granted = castVote(approval, { by: dana, verdict: 'approve', comment: 'ok', now: new Date('2030-01-01T00:00:10Z') });
  const vote = signedVoteOf(approval, { verdict: 'approve', by: { issuer: dana.issuer, subject: dana.subject, email: dana.email }, comment: 'ok', at: '2030-01-01T00:00:10.000Z' }, dana, 'group:dba', approveDecision.policySha256);
  const signature = { alg: 'ES256' as const, keyId: 'k1', value: sign('sha256', signedBytes(vote), privateKey).toString('base64') };
  const drafts = [
    ev.requestEvent({ endpoint: 'query', principal: alice, agent: { model: 'm-1', runId: 'r', traceparent: '00-abc-def-01' }, connection: 'prod', sql: approval.sql, params: approval.params, maxRows: 100 }),
    ev.analysisEvent(analysis),
    ev.decisionEvent(approveDecision),
    approvalRequestedEvent(approval),
    voteEvent(granted, granted.votes[0]!, { vote, signature }),
    voteEvent(castVote(approval, { by: dana, verdict: 'reject', comment: 'no', now: new Date('2030-01-01T00:00:10Z') }), { verdict: 'reject', by: { issuer: dana.issuer, subject: dana.subject }, comment: 'no', at: '2030-01-01T00:00:10.000Z' }),
    approvalRedeemedEvent(granted, 's-2'),
  ];
  return { drafts, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** Every other builder: the redemption, the outcome protocol, refusals, reconciliation. */
export function otherDrafts(): EventDraft[] {
  const approval = { id: 'appr-1', sessionId: 's-1', digest: 'd'.repeat(64) } as Parameters<typeof redeemedDecision>[1];
  const result = { command: 'UPDATE', rowCount: 1, truncated: false, txid: '123', fields: [{ name: 'id', dataTypeID: 23, tableID: 16384, columnID: 1, type: 'int4' }], rows: [[1]], durationMs: 2 };
  return [
    ev.requestEvent({ endpoint: 'query', principal: alice, agent: {} }, new GatehouseError('model_required', 'no model')),
    ev.analysisFailedEvent(error),
    ev.decisionEvent(redeemedDecision({ ...approveDecision, action: 'approve' }, approval, [dana])),
    ev.decisionEvent(refusedRedemptionDecision(approveDecision, 'appr-1', new GatehouseError('approval_mismatch', 'x', { reason: 'not_in_log' }))),
    ev.decisionEvent({ action: 'deny', rule: null, reasons: ['no rule matched'], policySha256: 'c'.repeat(64) }),
    ev.executionStartedEvent({ connection: 'prod', readOnly: false, maxRows: 100, statementTimeoutMs: 5000, maxResultBytes: 4 << 20, instanceId: 'i-1' }),
    ev.executionResultEvent({ ...result, truncatedBy: undefined, cellsOmitted: 0 }, { decisions: [{ column: 'id', action: 'none' }], rawHmacSha256: 'e'.repeat(64) }),
    ev.executionResultEvent({ ...result, txid: null, truncated: true, truncatedBy: 'bytes', cellsOmitted: 2 }),
    ev.executionCommittedEvent(),
    ev.executionRolledBackEvent(new GatehouseError('audit_unavailable', 'session log unavailable')),
    ev.executionAbandonedEvent({ outcome: 'unknown', basis: 'none', lastEvent: 'execution.result', readOnly: false, txid: '123', instanceId: 'i-1', reconciledBy: 'r-1' }),
    ev.executionFailedEvent(new GatehouseError('execution_failed', 'division by zero', { sqlState: '22012' })),
  ];
}

