// The approval state machine, pure: every function takes the current record and the clock's
// "now" and returns the next record or throws a coded refusal. The store runs these inside its
// atomic read-check-write, so the check and the change can never be split by a concurrent one.
//
//   pending ──quorum distinct approvals──▶ approved ──presented by its bot──▶ used
//      │                                      │
//      └──────────── one rejection ───────────┴──▶ rejected
//   pending / approved past expiresAt: expired (derived, never stored)
import { GatehouseError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { Decision } from '../policy/types.ts';
import type { Analysis } from '../sql/analysis.ts';
import { displayName, matchingApprover, personOf, requesterOf, samePerson, samePrincipal } from './people.ts';
import type { Approval, ApprovalStatus, Param, Verdict } from './types.ts';

export const MAX_COMMENT_LENGTH = 2000;

export function statusAt(a: Approval, now: Date): ApprovalStatus {
  if ((a.state === 'pending' || a.state === 'approved') && now.getTime() >= Date.parse(a.expiresAt)) return 'expired';
  return a.state;
}

/** Distinct people who approved. Votes are refused from someone who voted already, so each counts once. */
export function approvalCount(a: Approval): number {
  return a.votes.filter((v) => v.verdict === 'approve').length;
}

export interface OpenInput {
  readonly id: string;
  readonly sessionId: string;
  readonly principal: Principal;
  readonly agent: { readonly model?: string; readonly runId?: string };
  readonly connection: string;
  readonly sql: string;
  readonly params: readonly Param[];
  readonly analysis: Analysis;
  readonly decision: Decision;
  readonly now: Date;
  /** approvalDigest() of this statement and requester, under the digest key (steps.ts computes it). */
  readonly digest: string;
  /** The first publish attempt is the request's own; the republisher waits this long before its first. */
  readonly republishAfterMs: number;
}

export function openApproval(input: OpenInput): Approval {
  const { decision, now } = input;
  if (decision.action !== 'approve' || decision.rule === null) throw new TypeError('openApproval: the decision is not an approve decision');
  const ttlMs = decision.ttlMs ?? 0;
  if (!(ttlMs > 0)) throw new TypeError('openApproval: the rule has no ttl');
  const approvers = decision.approvers ?? [];
  // The schema refuses these already; a policy built another way must not yield an approval
  // nobody can give.
  if (approvers.length === 0) throw new TypeError('openApproval: the rule names no approvers');
  const requester = requesterOf(input.principal);
  return {
    id: input.id,
    sessionId: input.sessionId,
    state: 'pending',
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
    requester,
    agent: { ...(input.agent.model ? { model: input.agent.model } : {}), ...(input.agent.runId ? { runId: input.agent.runId } : {}) },
    connection: input.connection,
    sql: input.sql,
    params: [...input.params],
    digest: input.digest,
    analysis: input.analysis,
    rule: decision.rule,
    policySha256: decision.policySha256,
    approvers: [...approvers],
    quorum: decision.quorum ?? 1,
    votes: [],
    notification: { state: 'pending', attempts: 0, nextAttemptAt: new Date(now.getTime() + input.republishAfterMs).toISOString() },
    delivery: { posted: {}, handled: [] },
  };
}

export interface VoteInput {
  readonly by: Principal;
  readonly verdict: Verdict;
  readonly comment: string;
  readonly now: Date;
}

/** Records one person's decision, or refuses it: who first (403), then whether it can still be decided (409). */
export function castVote(a: Approval, v: VoteInput): Approval {
  const by = personOf(v.by);
  if (samePerson(by, a.requester)) {
    throw new GatehouseError('self_approval', 'the requester cannot decide its own approval (also not under another issuer with the same email)', { approvalId: a.id });
  }
  if (matchingApprover(a.approvers, v.by) === undefined) {
    throw new GatehouseError('approver_not_allowed', `only ${a.approvers.join(', ')} may decide this approval`, { approvalId: a.id });
  }
  const status = statusAt(a, v.now);
  refuseClosed(a, status);
  if (status === 'approved' && v.verdict === 'approve') {
    throw new GatehouseError('approval_already_decided', `approval ${a.id} is already approved`, { approvalId: a.id, status });
  }
  const earlier = a.votes.find((x) => samePerson(x.by, by));
  if (earlier) {
    throw new GatehouseError('approval_already_decided', `${displayName(by)} already decided approval ${a.id}; a quorum counts distinct people`, {
      approvalId: a.id,
    });
  }
  const votes = [...a.votes, { verdict: v.verdict, by, comment: v.comment, at: v.now.toISOString() }];
  // One rejection ends it — also after the quorum approved, as long as the bot has not run it:
  // a second reviewer who spots a problem can still stop the statement.
  if (v.verdict === 'reject') return { ...a, votes, state: 'rejected' };
  const next = { ...a, votes };
  return approvalCount(next) >= a.quorum ? { ...next, state: 'approved' } : next;
}

export interface RedeemInput {
  readonly principal: Principal;
  readonly connection: string;
  readonly sql: string;
  readonly params: readonly Param[];
  /** What the policy decides for this statement now. */
  readonly decision: Decision;
  readonly sessionId: string;
  readonly now: Date;
  /** approvalDigest() of the statement presented now, with the presenting caller as requester. */
  readonly digest: string;
}

/** Checks that this bot may run this statement on this approval now, and marks it used. */
export function redeem(a: Approval, r: RedeemInput): Approval {
  if (!samePrincipal(a.requester, r.principal)) {
    // Nothing about the approval is told to a caller it was not issued to.
    throw new GatehouseError('approval_mismatch', `approval ${a.id} was not issued to this caller`, { approvalId: a.id });
  }
  if (r.digest !== a.digest) {
    const differs = [
      r.connection !== a.connection ? 'connection' : undefined,
      r.sql !== a.sql ? 'sql' : undefined,
      JSON.stringify(r.params) !== JSON.stringify(a.params) ? 'params' : undefined,
    ].filter((x): x is string => x !== undefined);
    if (differs.length === 0) {
      // The same statement, but the digest (over the approval id and its session too, digest.ts)
      // is not this approval's in the session the row names: a row pointed at a copy of it.
      throw new GatehouseError('approval_mismatch', `approval ${a.id} does not match the session log: its digest is not over this approval in session ${a.sessionId}`, {
        approvalId: a.id,
        reason: 'digest_not_statement',
      });
    }
    throw new GatehouseError('approval_mismatch', `approval ${a.id} was given for another statement (${differs.join(', ')} differ)`, {
      approvalId: a.id,
      differs,
    });
  }
  // An approval answers the rule that asked for it. If the policy now wants a larger quorum, or
  // no longer trusts someone who could have given this approval, it no longer suffices.
  const d = r.decision;
  const sameRule = d.rule === a.rule && (d.quorum ?? 1) <= a.quorum && a.approvers.every((p) => (d.approvers ?? []).includes(p));
  if (!sameRule) {
    throw new GatehouseError('approval_mismatch', `the policy now requires a different approval for this statement (rule ${JSON.stringify(d.rule)})`, {
      approvalId: a.id,
    });
  }
  const status = statusAt(a, r.now);
  refuseClosed(a, status);
  if (status === 'pending') {
    throw new GatehouseError('approval_pending', `approval ${a.id} has ${approvalCount(a)} of ${a.quorum} approval(s); wait for the decision`, {
      approvalId: a.id,
      status,
    });
  }
  return { ...a, state: 'used', redemption: { at: r.now.toISOString(), sessionId: r.sessionId } };
}

function refuseClosed(a: Approval, status: ApprovalStatus): void {
  const details = { approvalId: a.id, status };
  if (status === 'expired') throw new GatehouseError('approval_expired', `approval ${a.id} expired at ${a.expiresAt}`, details);
  if (status === 'used') throw new GatehouseError('approval_used', `approval ${a.id} was used already (session ${a.redemption?.sessionId ?? '?'})`, details);
  if (status === 'rejected') throw new GatehouseError('approval_rejected', `approval ${a.id} was rejected`, details);
}
