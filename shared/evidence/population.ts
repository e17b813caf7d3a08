// population.csv: one row per statement (one session = one request), what an auditor samples
// from in a Type II test. The first columns are the ones the issue names, in its order.
import { csvLine } from './csv.ts';
import type { ApprovalFact } from './approvals.ts';
import { decisionOf, maskedColumns, riskClass, type SessionFacts } from './facts.ts';
import { displayName } from './identity.ts';

export const POPULATION_COLUMNS = [
  'time',
  'session',
  'principal',
  'groups',
  'agent_model',
  'connection',
  'risk_class',
  'decision',
  'rule',
  'approvers',
  'executed',
  'row_count',
  'masked_columns',
  // Beyond the list: what a tester needs to follow a row back without opening the files.
  'status',
  'error_code',
  'agent_run_id',
  'policy_sha256',
  'result_sha256',
  'sql',
] as const;

export function populationHeader(): string {
  return csvLine(POPULATION_COLUMNS);
}

export function populationRow(f: SessionFacts, approvals: readonly ApprovalFact[]): string {
  // Who approved: from the approval events (here, or in the session that asked) and from the
  // redemption's own decision, which names the approvers even when the asking session is
  // outside the export's range.
  const approvers = [
    ...approvals.filter((a) => a.step === 'granted').map((a) => displayName(a.by) || '(unnamed)'),
    ...(f.decision?.approval?.refusedCode ? [] : (f.decision?.approval?.grantedBy ?? []).map(displayName)),
  ].filter(Boolean);
  const row: Record<(typeof POPULATION_COLUMNS)[number], unknown> = {
    time: f.startedAt,
    session: f.sessionId,
    principal: displayName(f.principal),
    groups: (f.principal?.groups ?? []).join(';'),
    agent_model: f.agent.model,
    connection: f.connection,
    risk_class: riskClass(f),
    decision: decisionOf(f),
    rule: f.decision?.rule,
    approvers: [...new Set(approvers)].join(';'),
    // `unknown` is not `no`: a write whose COMMIT nobody can vouch for is an exception to look at.
    executed: executedCell(f.execution?.outcome),
    row_count: f.execution?.outcome === 'completed' ? f.execution.rowCount : '',
    masked_columns: maskedColumns(f).join(';'),
    status: f.status,
    error_code: f.rejected?.code ?? f.execution?.error?.code,
    agent_run_id: f.agent.runId,
    policy_sha256: f.decision?.policySha256,
    result_sha256: f.execution?.resultSha256,
    sql: f.sql,
  };
  return csvLine(POPULATION_COLUMNS.map((c) => row[c]));
}

function executedCell(outcome: NonNullable<SessionFacts['execution']>['outcome'] | undefined): string {
  if (outcome === 'completed') return 'yes';
  if (outcome === 'unknown' || outcome === 'running') return 'unknown';
  return 'no';
}
