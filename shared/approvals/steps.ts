// Step 5 of the request path (docs/design.md#the-request-path): a statement the policy holds for people. Two ways in:
//
// hold    — no approvalId: store the approval and, in the same atomic step, record the session's
//           request, analysis, decision and `approval.requested` (the approval becomes visible
//           only once its session says so). Then publish it; answer 202.
// redeem  — the bot presents an approvalId: check it against this exact statement and caller and
//           mark it used, in the store's atomic read-check-write, recording this (new) session's
//           decision — "allow, approved by approval X" — before the mark commits. Of any number
//           of concurrent attempts exactly one gets `approved → used`; the rest are refused (409),
//           and each refusal is recorded as its own session. The row is only a cache: before the
//           decision is recorded, the requesting session is re-read and the approval believed
//           only as the log and the desk's signatures say (logged.ts, issue 14).
import type { EventDraft } from '../audit/events.ts';
import { executionFailedEvent } from '../audit/drafts.ts';
import { GatehouseError, isGatehouseError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { Decision } from '../policy/types.ts';
import type { Analysis } from '../sql/analysis.ts';
import type { ApprovalNotifier, ApprovalStore, VoteSigner } from './ports.ts';
import type { SessionRecorder } from '../kernel/record.ts';
import { approvalDigest } from './digest.ts';
import { checkAnalysisUnchanged, checkApproversNow, checkDigestIsStatement, checkLifetime, checkNotRedeemed, checkQuorum, checkRedeemedFirst, checkRelationsUnchanged, checkRowAgrees, loggedApproval, loggedRelations, verifiedVotes } from './logged.ts';
import { approvalRedeemedEvent, approvalRequestedEvent, redeemedDecision, refusedRedemptionDecision, storeDownDecision, unresolvedDecision } from './events.ts';
import { exponentialBackoff, publishApproval, type PublishDeps } from './publish.ts';
import { openApproval, redeem } from './state.ts';
import type { Approval, Param } from './types.ts';
import type { PlanEstimate } from '../blast-radius/types.ts';
import type { ApproverPolicy } from './approvers-now.ts';
import type { BoundRelations } from './relations.ts';

export interface ApprovalWorkflowOptions {
  readonly store: ApprovalStore;
  readonly notifier: ApprovalNotifier;
  /** `https://gatehouse.example` → review links `…/v1/approvals/ID`. */
  readonly reviewUrl: (approvalId: string) => string;
  readonly clock?: () => Date;
  readonly newApprovalId?: () => string;
  /** Backoff between republish attempts; default 5 s doubling to 5 min. */
  readonly backoffMs?: (attempts: number) => number;
  readonly log?: (message: string) => void;
  /** The session log, re-read at every redemption: the approval store alone is never believed. */
  readonly sessions: SessionRecorder;
  /** The approval desk's key; the query path uses only its public half, to verify votes. */
  readonly signer: Pick<VoteSigner, 'publicKeyPem'>;
  /** The statement-digest key (digest.ts), which the approval store does not hold. */
  readonly digestKey: () => Promise<Uint8Array>;
}

export interface ApprovalWorkflow extends PublishDeps {
  readonly newApprovalId: () => string;
  readonly sessions: SessionRecorder;
  readonly signer: Pick<VoteSigner, 'publicKeyPem'>;
  readonly digestKey: () => Promise<Uint8Array>;
}

export function createApprovalWorkflow(options: ApprovalWorkflowOptions): ApprovalWorkflow {
  const { store, notifier, reviewUrl } = options;
  if (!store || !notifier) throw new TypeError('createApprovalWorkflow: store and notifier are required');
  if (typeof reviewUrl !== 'function') throw new TypeError('createApprovalWorkflow: reviewUrl must be a function');
  if (!options.sessions || !options.signer || typeof options.digestKey !== 'function') {
    throw new TypeError('createApprovalWorkflow: sessions, signer and digestKey are required (approvals are believed only from the log)');
  }
  return {
    sessions: options.sessions,
    signer: options.signer,
    digestKey: options.digestKey,
    store,
    notifier,
    reviewUrl,
    clock: options.clock ?? (() => new Date()),
    newApprovalId: options.newApprovalId ?? (() => crypto.randomUUID()),
    backoffMs: options.backoffMs ?? exponentialBackoff(),
    log: options.log ?? ((m) => console.error(`[gatehouse] ${m}`)),
  };
}

export interface StepInput {
  readonly sessionId: string;
  readonly principal: Principal;
  readonly agent: { readonly model?: string; readonly runId?: string };
  readonly connection: string;
  readonly sql: string;
  readonly params: readonly Param[];
  readonly analysis: Analysis;
  /** The policy's approve decision for this statement. */
  readonly decision: Decision;
  /** Appends request, analysis, this decision and `more` to the session, in one append. */
  readonly recordDecision: (decision: Decision, more?: readonly EventDraft[]) => Promise<void>;
  /** Appends further events to the session. */
  readonly recordAfter: (drafts: readonly EventDraft[]) => Promise<void>;
  /** Who may approve under the policy in force: a redemption counts only votes it still admits (approvers-now.ts). */
  readonly approverPolicy: ApproverPolicy;
  /**
   * What the statement's unqualified relation names resolve to on its connection now
   * (relations.ts): recorded when it is held, compared when it is redeemed. Throws when the
   * target cannot say.
   */
  readonly relations: () => Promise<BoundRelations>;
  /** The blast radius for approvers (shared/blast-radius); never throws. */
  readonly estimate?: () => Promise<PlanEstimate>;
}

export type StepOutcome =
  | { readonly kind: 'held'; readonly approval: Approval; readonly decision: Decision }
  | { readonly kind: 'released'; readonly approval: Approval; readonly decision: Decision }
  /** Recorded already; the caller answers with `error` and the session id. */
  | { readonly kind: 'refused'; readonly error: GatehouseError };

export async function holdForApproval(w: ApprovalWorkflow, s: StepInput): Promise<StepOutcome> {
  let digest: string;
  const id = w.newApprovalId();
  try {
    digest = statementDigest(await readDigestKey(w), s, { approvalId: id, sessionId: s.sessionId });
  } catch (e) {
    // Without the key no approval can be bound to its statement: nothing is held, nothing runs.
    const error = asUnavailable(e);
    await s.recordDecision(storeDownDecision(s.decision, error));
    return { kind: 'refused', error };
  }
  // Which relations its names mean now: a redemption must find the same ones (relations.ts). An
  // approval that could not be bound to them is not held (fail closed): the target is down anyway.
  let relations: BoundRelations;
  try {
    relations = await s.relations();
  } catch (e) {
    const error = new GatehouseError('database_unavailable', 'the relations the statement names could not be resolved on the target: nothing was held', undefined, { cause: e });
    await s.recordDecision(unresolvedDecision(s.decision, error));
    return { kind: 'refused', error };
  }
  // Before the approval exists: it is stored, recorded and announced with its estimate.
  const estimate = s.estimate ? await s.estimate() : undefined;
  const opened = openApproval({
    digest,
    id,
    sessionId: s.sessionId,
    principal: s.principal,
    agent: s.agent,
    connection: s.connection,
    sql: s.sql,
    params: s.params,
    analysis: s.analysis,
    decision: s.decision,
    now: w.clock(),
    // The request publishes right after the commit; the republisher steps in only if it did not.
    republishAfterMs: w.backoffMs(1),
  });
  const approval: Approval = { ...(estimate ? { ...opened, estimate } : opened), relations };
  let recorded = false;
  try {
    await w.store.create(approval, async () => {
      await s.recordDecision(s.decision, [approvalRequestedEvent(approval)]);
      recorded = true;
    });
  } catch (e) {
    if (recorded) {
      // The session says approval.requested but the store may not hold it (COMMIT failed):
      // nothing is published; the bot gets 503 and asks again.
      return { kind: 'refused', error: asUnavailable(e) };
    }
    if (!isGatehouseError(e, 'approvals_unavailable')) throw e; // the log itself failed: SessionError, 503
    await s.recordDecision(storeDownDecision(s.decision, e));
    return { kind: 'refused', error: e };
  }
  // After the commit, so nobody is told of an approval that is not recorded. Never throws.
  await publishApproval(w, approval);
  return { kind: 'held', approval, decision: s.decision };
}

export async function redeemApproval(w: ApprovalWorkflow, s: StepInput, approvalId: string): Promise<StepOutcome> {
  let recorded = false;
  let allowed: Decision | undefined;
  let after: Approval | undefined;
  try {
    const digestKey = await readDigestKey(w);
    let before: Approval | undefined;
    let now: Date | undefined;
    let digest: string | undefined;
    after = await w.store.update(
      approvalId,
      (a) => {
        // The clock is read once the row's lock is held, not before waiting for it: a redemption
        // presented a moment before expiry and held up on the lock (by anyone with the store's
        // UPDATE right, for as long as they like) ran after it (attack review of issue 14).
        now = w.clock();
        before = a;
        // The digest binds the approval id and its requesting session (digest.ts): the row names
        // the session, and a row pointed at a copy of it no longer matches.
        digest = statementDigest(digestKey, s, { approvalId, sessionId: a.sessionId });
        return redeem(a, { ...s, sessionId: s.sessionId, now, digest });
      },
      async (used) => {
        // Still holding the approval's lock: a rejection cannot slip in between this check and "used".
        const grantedBy = await believeOnlyTheLog(w, before!, digest!, now!, digestKey, s);
        allowed = redeemedDecision(s.decision, used, grantedBy);
        await s.recordDecision(allowed);
        recorded = true;
        // The log's own record that it was used: checked by every later redemption (logged.ts).
        await w.sessions.append(used.sessionId, [approvalRedeemedEvent(used, s.sessionId)]);
        // And the log, not the store's lock, decides who used it: this redemption runs only if the
        // first approval.redeemed of this approval names its own session (logged.ts).
        await checkFirstRedemption(w, used, s.sessionId);
      },
    );
  } catch (e) {
    if (recorded) {
      // Recorded as allowed, but whether "used" committed is unknown: running now could run it
      // twice. Nothing runs; the session says why. (approval_used: another redemption is the
      // log's first — it did not commit here.)
      const error = isGatehouseError(e, 'approval_used') ? e : asUnavailable(e);
      await s.recordAfter([executionFailedEvent(error)]);
      return { kind: 'refused', error };
    }
    if (!isGatehouseError(e)) throw e;
    if (e.code === 'approvals_unavailable') {
      await s.recordDecision(storeDownDecision(s.decision, e));
      return { kind: 'refused', error: e };
    }
    if (!e.code.startsWith('approval_')) throw e; // not a refusal of this approval (the log failed)
    await s.recordDecision(refusedRedemptionDecision(s.decision, approvalId, e));
    return { kind: 'refused', error: e };
  }
  if (after === undefined || allowed === undefined) {
    const error = new GatehouseError('approval_unknown', `no approval ${JSON.stringify(approvalId.slice(0, 100))}`, { approvalId });
    await s.recordDecision(refusedRedemptionDecision(s.decision, approvalId, error));
    return { kind: 'refused', error };
  }
  return { kind: 'released', approval: after, decision: allowed };
}

async function readDigestKey(w: Pick<ApprovalWorkflow, 'digestKey'>): Promise<Uint8Array> {
  try {
    return await w.digestKey();
  } catch (e) {
    throw new GatehouseError('approvals_unavailable', 'the approval digest key could not be read', undefined, { cause: e });
  }
}

function statementDigest(key: Uint8Array, s: StepInput, approval: { approvalId: string; sessionId: string }): string {
  return approvalDigest(key, { ...approval, connection: s.connection, sql: s.sql, params: s.params, requester: s.principal });
}

/** logged.ts: the approval as the log and the desk's signatures say, or a coded refusal. */
async function believeOnlyTheLog(w: ApprovalWorkflow, row: Approval, digest: string, now: Date, digestKey: Uint8Array, s: StepInput) {
  let events;
  try {
    events = await w.sessions.read(row.sessionId);
  } catch (e) {
    throw new GatehouseError('approvals_unavailable', 'the session log could not be read to check the approval', undefined, { cause: e });
  }
  const logged = loggedApproval(events, row.id, row.sessionId);
  checkDigestIsStatement(logged, digestKey);
  checkRowAgrees(row, logged);
  checkNotRedeemed(events, logged);
  if (logged.digest !== digest) {
    throw new GatehouseError('approval_mismatch', `approval ${row.id} was given for another statement`, { approvalId: row.id, reason: 'row_disagrees', differs: ['digest'] });
  }
  // The same text, but does it still mean what the approvers were shown? (search_path, catalog, `functions:`)
  checkAnalysisUnchanged(events, logged, s.analysis);
  const then = loggedRelations(events, logged);
  if (then !== undefined) checkRelationsUnchanged(logged, then, await relationsNow(s));
  const votes = verifiedVotes(events, logged, await w.signer.publicKeyPem());
  checkQuorum(logged, votes, row, now);
  checkLifetime(logged, votes, s.decision.ttlMs);
  // Signed under the policy the desk decided by; counted only if the policy in force still admits them.
  return checkApproversNow(logged, votes, s.decision.approvers ?? [], s.approverPolicy);
}

async function checkFirstRedemption(w: ApprovalWorkflow, used: Approval, sessionId: string): Promise<void> {
  let events;
  try {
    events = await w.sessions.read(used.sessionId);
  } catch (e) {
    throw new GatehouseError('approvals_unavailable', 'the session log could not be read back after the redemption was recorded', undefined, { cause: e });
  }
  checkRedeemedFirst(events, used.id, sessionId);
}

async function relationsNow(s: StepInput): Promise<BoundRelations> {
  try {
    return await s.relations();
  } catch (e) {
    throw new GatehouseError('approvals_unavailable', 'the target could not say what the statement\'s relations resolve to now: nothing ran', undefined, { cause: e });
  }
}

function asUnavailable(e: unknown): GatehouseError {
  if (isGatehouseError(e, 'approvals_unavailable')) return e;
  return new GatehouseError('approvals_unavailable', 'approval store unavailable', undefined, { cause: e });
}
