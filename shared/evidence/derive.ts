// From one session's events to its lines in sessions.jsonl, approvals.jsonl and population.csv,
// and to the export's counts. Export runs this over the store; verify runs it again over
// events.jsonl and compares digests — so these files are provably derived from the verified
// events, not merely listed in the manifest. Deterministic: same events in, same bytes out.
import type { ChainProblem } from '../audit/chain.ts';
import type { SessionEvent } from '../audit/events.ts';
import { RISK_CLASSES } from '../sql/analysis.ts';
import { ApprovalIndex, type ApprovalFact } from './approvals.ts';
import { approvalsFor, decisionOf, maskedColumns, riskClass, sessionFacts, type SessionFacts } from './facts.ts';
import { displayName } from './identity.ts';
import { populationRow } from './population.ts';

export interface Counts {
  sessions: number;
  events: number;
  approvalEvents: number;
  populationRows: number;
  byDecision: Record<string, number>;
  byRiskClass: Record<string, number>;
  byStatus: Record<string, number>;
  /** Decisions by the rule that made them (`agents.*` for the agent-model checks). */
  byRule: Record<string, number>;
  executed: number;
  failedExecutions: number;
  /** Ran, then rolled back (the result could not be recorded, COMMIT failed, or reconciliation proved it). */
  rolledBack?: number;
  /** Writes whose COMMIT nobody can vouch for, and statements never closed: each a SOC 2 exception. */
  unknownOutcomes?: number;
  rejectedRequests: number;
  chainsBroken: number;
  distinctPrincipals: number;
  distinctAgentModels: number;
  maskedStatements: number;
  maskedColumns: number;
  /** Executed statements of a class that changes data, schema or privileges. */
  changesExecuted: number;
  changesExecutedWithApproval: number;
  approvalsRequested: number;
  approvalsGranted: number;
  approvalsRejected: number;
  /** An approval whose recorded time is after the statement started: should never happen. */
  approvalsAfterExecution: number;
}

export interface PolicyVersion {
  sha256: string;
  sessions: number;
  firstSeen: string;
  lastSeen: string;
}

export interface Derived {
  readonly facts: SessionFacts;
  /** Approvals that count for this statement, here or in the session that asked. */
  readonly approvals: readonly ApprovalFact[];
  readonly sessionLine: string;
  readonly approvalLines: readonly string[];
  readonly populationLine: string;
}

const CHANGE_CLASSES = new Set(['write', 'destructive', 'ddl', 'privilege']);

/** A session's lines in sessions.jsonl and approvals.jsonl: they depend on its own events only. */
export function sessionLines(facts: SessionFacts, problems: readonly ChainProblem[]): Pick<Derived, 'sessionLine' | 'approvalLines'> {
  const masked = maskedColumns(facts);
  const sessionLine = jsonLine({
    sessionId: facts.sessionId,
    startedAt: facts.startedAt,
    lastAt: facts.lastAt,
    events: facts.events,
    head: facts.head,
    status: facts.status,
    chain: problems.length === 0 ? 'verified' : 'broken',
    chainProblems: problems.length ? problems : undefined,
    principal: displayName(facts.principal) || undefined,
    issuer: facts.principal?.issuer,
    subject: facts.principal?.subject,
    groups: facts.principal?.groups,
    agentModel: facts.agent.model,
    agentRunId: facts.agent.runId,
    connection: facts.connection,
    riskClass: riskClass(facts),
    decision: decisionOf(facts),
    rule: facts.decision?.rule,
    policySha256: facts.decision?.policySha256,
    approvalId: facts.approvalId,
    executed: facts.execution?.outcome === 'completed',
    outcome: facts.execution?.outcome,
    rowCount: facts.execution?.rowCount,
    maskedColumns: masked.length ? masked : undefined,
    errorCode: facts.rejected?.code ?? facts.execution?.error?.code,
  });
  const approvalLines = facts.approvals.map((a) =>
    jsonLine({
      approvalId: a.approvalId,
      event: `approval.${a.step}`,
      sessionId: a.sessionId,
      seq: a.seq,
      at: a.at,
      approver: a.by,
      comment: a.comment,
      approvers: a.approvers?.length ? a.approvers : undefined,
      quorum: a.quorum,
      expiresAt: a.expiresAt,
      requester: displayName(facts.principal) || undefined,
      agentModel: facts.agent.model,
      connection: facts.connection,
      riskClass: riskClass(facts),
      rule: facts.decision?.rule,
      sql: facts.sql,
      hash: a.hash,
    }),
  );
  return { sessionLine, approvalLines };
}

/** The approval id whose decisions (from any session) count for this statement; undefined: its own only. */
export function approvalLookup(facts: SessionFacts): string | undefined {
  return facts.decision?.approval?.id ?? facts.approvalId;
}

/** Sessions in file order → the export's lines and counts (the approval index links sessions). */
export class Deriver {
  readonly tally = new Tally();
  readonly #approvals = new ApprovalIndex();

  get counts(): Counts {
    return this.tally.counts;
  }

  add(events: readonly SessionEvent[], problems: readonly ChainProblem[]): Derived {
    const facts = sessionFacts(events);
    for (const a of facts.approvals) this.#approvals.add(a);
    const approvals = approvalsFor(facts, this.#approvals.get(approvalLookup(facts)));
    this.tally.addSession(facts, problems);
    this.tally.addApprovals(facts, approvals);
    return { facts, approvals, ...sessionLines(facts, problems), populationLine: populationRow(facts, approvals) };
  }

  /** Policy versions seen in decisions, in the order first seen. */
  policyVersions(): PolicyVersion[] {
    return this.tally.policyVersions();
  }
}

/** A Tally as plain data, to carry from a worker thread and merge in file order. */
export interface TallySnapshot {
  readonly counts: Counts;
  readonly policies: readonly PolicyVersion[];
  readonly principals: readonly string[];
  readonly models: readonly string[];
}

/**
 * The export's counts, session by session. Split in two because of the one thing that crosses
 * sessions — approvals: `addSession` counts what a session's own events say, `addApprovals` what
 * the approvals that count for it add. Tallies of consecutive runs of sessions merge (in file
 * order) into exactly the tally of the whole run: counts add up, keys and policy versions keep the
 * order they were first seen in.
 */
export class Tally {
  readonly counts: Counts = emptyCounts();
  readonly #policies = new Map<string, PolicyVersion>();
  readonly #principals = new Set<string>();
  readonly #models = new Set<string>();

  addSession(f: SessionFacts, problems: readonly ChainProblem[]): void {
    const c = this.counts;
    c.sessions++;
    c.populationRows++;
    c.events += f.events;
    c.approvalEvents += f.approvals.length;
    bump(c.byDecision, decisionOf(f));
    bump(c.byRiskClass, riskClass(f));
    bump(c.byStatus, f.status);
    if (f.decision) bump(c.byRule, f.decision.rule ?? '(no rule matched)');
    if (problems.length) c.chainsBroken++;
    if (f.rejected) c.rejectedRequests++;
    if (f.execution?.outcome === 'failed') c.failedExecutions++;
    if (f.execution?.outcome === 'rolled_back') c.rolledBack = (c.rolledBack ?? 0) + 1;
    if (f.execution?.outcome === 'unknown' || f.execution?.outcome === 'running') c.unknownOutcomes = (c.unknownOutcomes ?? 0) + 1;
    const who = displayName(f.principal);
    if (who) this.#principals.add(`${f.principal?.issuer ?? ''} ${who}`);
    if (f.agent.model) this.#models.add(f.agent.model);
    c.distinctPrincipals = this.#principals.size;
    c.distinctAgentModels = this.#models.size;
    for (const a of f.approvals) {
      if (a.step === 'requested') c.approvalsRequested++;
      if (a.step === 'granted') c.approvalsGranted++;
      if (a.step === 'rejected') c.approvalsRejected++;
    }
    const policy = f.decision?.policySha256;
    if (policy) this.#policy(policy, 1, f.startedAt, f.startedAt);
    if (f.execution?.outcome !== 'completed') return;
    c.executed++;
    const masked = maskedColumns(f).length;
    if (masked) {
      c.maskedStatements++;
      c.maskedColumns += masked;
    }
    if (CHANGE_CLASSES.has(riskClass(f))) c.changesExecuted++;
  }

  /** What the approvals that count for this statement (approvalsFor) add to the counts. */
  addApprovals(f: SessionFacts, approvals: readonly ApprovalFact[]): void {
    if (f.execution?.outcome !== 'completed') return;
    const c = this.counts;
    const granted = approvals.filter((a) => a.step === 'granted');
    const redeemed = f.decision?.approval && !f.decision.approval.refusedCode && f.decision.approval.grantedBy.length > 0;
    if (CHANGE_CLASSES.has(riskClass(f)) && (granted.length || redeemed)) c.changesExecutedWithApproval++;
    const ranAt = f.execution.startedAt;
    if (ranAt) c.approvalsAfterExecution += granted.filter((a) => a.at > ranAt).length;
  }

  /** Policy versions seen in decisions, in the order first seen. */
  policyVersions(): PolicyVersion[] {
    return [...this.#policies.values()];
  }

  snapshot(): TallySnapshot {
    return { counts: this.counts, policies: this.policyVersions(), principals: [...this.#principals], models: [...this.#models] };
  }

  /** Adds the tally of the sessions that follow this one's (in file order). */
  merge(next: TallySnapshot): void {
    const c = this.counts as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(next.counts)) {
      if (typeof v === 'number') c[k] = ((c[k] as number | undefined) ?? 0) + v;
      else for (const [key, n] of Object.entries(v as Record<string, number>)) bump(c[k] as Record<string, number>, key, n);
    }
    for (const p of next.principals) this.#principals.add(p);
    for (const m of next.models) this.#models.add(m);
    this.counts.distinctPrincipals = this.#principals.size;
    this.counts.distinctAgentModels = this.#models.size;
    for (const p of next.policies) this.#policy(p.sha256, p.sessions, p.firstSeen, p.lastSeen);
  }

  #policy(sha256: string, sessions: number, firstSeen: string, lastSeen: string): void {
    const v = this.#policies.get(sha256) ?? { sha256, sessions: 0, firstSeen, lastSeen };
    v.sessions += sessions;
    v.lastSeen = lastSeen;
    this.#policies.set(sha256, v);
  }
}

export function emptyCounts(): Counts {
  return {
    sessions: 0,
    events: 0,
    approvalEvents: 0,
    populationRows: 0,
    byDecision: { allow: 0, deny: 0, approve: 0, none: 0 },
    byRiskClass: Object.fromEntries([...RISK_CLASSES, 'none'].map((k) => [k, 0])),
    byStatus: {},
    byRule: {},
    executed: 0,
    failedExecutions: 0,
    rolledBack: 0,
    unknownOutcomes: 0,
    rejectedRequests: 0,
    chainsBroken: 0,
    distinctPrincipals: 0,
    distinctAgentModels: 0,
    maskedStatements: 0,
    maskedColumns: 0,
    changesExecuted: 0,
    changesExecutedWithApproval: 0,
    approvalsRequested: 0,
    approvalsGranted: 0,
    approvalsRejected: 0,
    approvalsAfterExecution: 0,
  };
}

function bump(m: Record<string, number>, key: string, by = 1): void {
  // An own key (even `__proto__`, once defined as one) is a plain data property: assignment is safe.
  if (Object.hasOwn(m, key)) {
    m[key]! += by;
    return;
  }
  // defineProperty, not assignment: a key read from event data may be `__proto__`.
  Object.defineProperty(m, key, { value: by, enumerable: true, writable: true, configurable: true });
}

/** One JSON line; undefined fields drop out, so the bytes do not depend on how a field was absent. */
export function jsonLine(v: unknown): string {
  return `${JSON.stringify(v)}\n`;
}
