// The people's side of approvals (functions/approvals.ts): list, show, approve, reject. Callers
// are authenticated by the same verifier as bots (ID tokens from the policy's issuers).
//
// A decision is one atomic read-check-write of the approval, and its `approval.granted` /
// `approval.rejected` event is appended to the REQUESTING session before the change commits: a
// decision the log cannot record does not happen, and the bot's long poll on that session wakes.
// A refused decision (not an approver, the requester itself, unknown/expired/used/rejected, no
// comment) is recorded too — as a session of its own, opened by the person who tried.
import { randomUUID } from 'node:crypto';
import { requestEvent } from '../audit/drafts.ts';
import type { EventDraft } from '../audit/events.ts';
import { GatehouseError, isGatehouseError } from '../errors.ts';
import type { Principal } from '../identity/principal.ts';
import type { ApprovalQuery, ApprovalStore, VoteSigner } from './ports.ts';
import { checkDigestIsStatement, checkRowAgrees, checkRowVotesSigned, checkVoteAgainstLog, loggedApproval, provenVotes, verifiedVotes, type LoggedApproval } from './logged.ts';
import type { SessionEvent } from '../audit/events.ts';
import { isMalformedRow } from './record.ts';
import { checkRowShown } from './row-shown.ts';
import { signedVoteOf, signVote } from './vote-signature.ts';
import { asGatehouseError, authenticate as verifyCaller, recordOrFail, SessionError, type BodyReader, type Caller, type SessionRecorder } from '../kernel/index.ts';
import { parseDecisionBody } from './comment.ts';
import type { RepublishResult } from './publish.ts';
import { voteEvent } from './events.ts';
import { matchingApprover, personOf, samePrincipal } from './people.ts';
import { castVote } from './state.ts';
import { APPROVAL_STATUSES, type Approval, type ApprovalStatus, type Verdict, type Vote } from './types.ts';
import { approvalSummary, approvalView, type ApprovalSummary, type ApprovalView } from './view.ts';

export interface ReviewDeskDeps {
  readonly verifyToken: (token: string) => Promise<Principal>;
  readonly store: ApprovalStore;
  readonly sessions: SessionRecorder;
  readonly clock?: () => Date;
  readonly newSessionId?: () => string;
  /** Members see every approval; others see the ones they may decide, and their own. */
  readonly auditorGroups?: readonly string[];
  /** What masking would do to the statement's result (lineage alone), shown to reviewers. */
  readonly maskingPreview?: (sql: string) => readonly unknown[];
  /** A republish pass now (publish.ts); what POST /v1/approvals/republish runs. */
  readonly republish?: () => Promise<RepublishResult | undefined>;
  /** The desk's own key: every vote event carries its signature (vote-signature.ts, issue 14). */
  readonly signer: VoteSigner;
  /** sha256 of the policy in force, signed into each vote (whose groups admitted the approver). */
  readonly policySha256: string;
  /**
   * The statement-digest key (digest.ts): the desk shows and signs only a logged request whose
   * statement is the one the approval's digest is over (logged.ts checkDigestIsStatement).
   */
  readonly digestKey: () => Promise<Uint8Array>;
}

/** GET /v1/approvals/:id's and each listed row's `log`: whether the session log proves the row (every vote signed by the desk). */
export type LogStanding = { readonly agrees: true; readonly signedVotes: number } | { readonly agrees: false; readonly reason: string; readonly message: string };

export type StatusFilter = ApprovalStatus | 'all';
export const STATUS_FILTERS: readonly StatusFilter[] = [...APPROVAL_STATUSES, 'all'];

/**
 * Rows of the store a listing reads, at most: as many as `limit` allows (999), and one more to
 * tell whether there are more — the stores' own bound (1,000). They are read before the caller's
 * visibility is applied (the store cannot evaluate approver patterns), so a listing says
 * `truncated` when the store held more.
 */
const MAX_READ = 999;
/** Session reads a listing keeps in flight to check its rows against the log. */
const LOG_READS_IN_FLIGHT = 8;

/** fn over items, at most `width` at a time, answers in the items' order. */
async function mapBounded<T, R>(items: readonly T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}

export function createReviewDesk(deps: ReviewDeskDeps) {
  const { store, sessions } = deps;
  const clock = deps.clock ?? (() => new Date());
  const newSessionId = deps.newSessionId ?? randomUUID;
  const auditorGroups = deps.auditorGroups ?? ['auditors'];

  return { list, show, decide, republish };

  /**
   * GET /v1/approvals?status= — oldest first, only what the caller may see. The rows come from the
   * store (the cache listings are for: status filters and order are the store's), and each carries
   * `log`, as show does: a row set to `approved` with a vote nobody cast, or one the gateway never
   * created, was listed exactly like a genuine one (attack review of issue 14).
   */
  async function list(caller: Caller, options: { status?: StatusFilter; limit?: number } = {}): Promise<{ approvals: (ApprovalSummary & { log: LogStanding })[]; truncated: boolean }> {
    const principal = await authenticate(caller);
    const status = options.status ?? 'pending';
    const limit = options.limit ?? 100;
    const now = clock();
    // One row more than is read tells whether the store held more. Until the second attack review
    // of issue 14 the desk read 500 and said nothing of the rest: 500 older rows nobody may
    // decide (the store's INSERT right) emptied every reviewer's pending list, and limit=999 over
    // 600 rows listed 500.
    const found = await store.list({ ...queryFor(status, now), limit: MAX_READ + 1 });
    const visible = found.slice(0, MAX_READ).filter((a) => maySee(principal, a));
    const listed = visible.slice(0, limit);
    const truncated = found.length > MAX_READ || visible.length > limit;
    const standings = await mapBounded(listed, LOG_READS_IN_FLIGHT, (a) => logStanding(a));
    return { approvals: listed.map((a, i) => ({ ...approvalSummary(a, now), log: standings[i]! })), truncated };
  }

  /** GET /v1/approvals/:id — with the analysis. Someone else's answers like a missing one. */
  async function show(caller: Caller, approvalId: string): Promise<{ approval: ApprovalView & { log: LogStanding; masking: readonly unknown[] } }> {
    const principal = await authenticate(caller);
    const notFound = () => new GatehouseError('approval_not_found', `no approval ${approvalId} visible to this caller`);
    let a: Approval | undefined;
    try {
      a = await store.get(approvalId);
    } catch (e) {
      // A malformed row names no requester or approvers to check the caller against: only an
      // auditor (who may see every approval) is told it is there and broken; to anyone else it
      // answers as a missing one, so its existence is not told to whoever asks.
      if (isMalformedRow(e) && !isAuditor(principal)) throw notFound();
      throw e;
    }
    if (!a || !maySee(principal, a)) throw notFound();
    return { approval: { ...approvalView(a, clock()), log: await logStanding(a), masking: deps.maskingPreview?.(a.sql) ?? [] } };
  }

  /** POST /v1/approvals/:id/approve|reject with `{"comment": "..."}`. */
  async function decide(caller: Caller, approvalId: string, verdict: Verdict, body: BodyReader) {
    const principal = await authenticate(caller);
    const refuse = async (error: GatehouseError): Promise<never> => {
      const attempt = newSessionId();
      await record(attempt, [requestEvent({ endpoint: verdict, principal, agent: {}, approvalId }, error)]);
      throw new SessionError(attempt, error);
    };

    let comment: string;
    try {
      comment = parseDecisionBody(body());
    } catch (e) {
      return refuse(asGatehouseError(e));
    }

    let vote: Vote | undefined;
    let before: Approval | undefined;
    let after: Approval | undefined;
    try {
      after = await store.update(
        approvalId,
        (a) => {
          const next = castVote(a, { by: principal, verdict, comment, now: clock() });
          before = a;
          vote = next.votes.at(-1);
          return next;
        },
        async (next) => {
          // The desk signs only what the log requested: a row rewritten behind its back (other
          // SQL shown to the reviewer, another digest) is refused, not signed.
          const { logged, events } = await checkAgainstLog(before!);
          // Whom to sign for is decided by the log's signed votes, not the row's (logged.ts).
          checkVoteAgainstLog(logged, await votesToDecideBy(events, logged, verdict), personOf(principal), verdict);
          const as = matchingApprover(next.approvers, principal)!; // castVote admitted the principal by it
          const signed = signedVoteOf(next, vote!, principal, as, deps.policySha256);
          const signature = await signVote(deps.signer, signed);
          await record(next.sessionId, [voteEvent(next, vote!, { vote: signed, signature })]);
        },
      );
    } catch (e) {
      if (e instanceof SessionError) throw e; // the log could not record it: nothing was decided
      if (isGatehouseError(e)) return refuse(e);
      throw e;
    }
    if (!after) return refuse(new GatehouseError('approval_unknown', `no approval ${approvalId}`, { approvalId }));
    const approval = approvalView(after, clock());
    return { sessionId: after.sessionId, status: approval.status, approval };
  }

  /**
   * POST /v1/approvals/republish — publish the requests still pending now, rather than when this
   * instance's timer next runs: on GCP an instance gets CPU only while it answers, so a scheduler
   * calls this. Any verified caller may: a pass is idempotent and answers only counts.
   */
  async function republish(caller: Caller): Promise<RepublishResult> {
    await authenticate(caller);
    if (!deps.republish) throw new GatehouseError('approvals_unavailable', 'this deployment does not publish approval requests');
    const result = await deps.republish();
    if (!result) throw new GatehouseError('approvals_unavailable', 'the approval store could not be read; nothing was published');
    return result;
  }

  // --- helpers -------------------------------------------------------------------------------

  function authenticate(caller: Caller): Promise<Principal> {
    return verifyCaller(deps.verifyToken, caller);
  }

  async function checkAgainstLog(row: Approval): Promise<{ logged: LoggedApproval; events: SessionEvent[] }> {
    let events;
    try {
      events = await sessions.read(row.sessionId);
    } catch (e) {
      throw new GatehouseError('approvals_unavailable', 'the session log could not be read to check the approval', undefined, { cause: e });
    }
    const logged = loggedApproval(events, row.id, row.sessionId);
    checkDigestIsStatement(logged, await digestKey());
    checkRowAgrees(row, logged);
    return { logged, events };
  }

  /**
   * The log's votes a decision is checked against. Any vote a redemption would refuse (unsigned,
   * another key, copied) refuses an approval. Not a rejection: a rejection only ever stops a
   * statement, and one unsigned vote appended with the log's INSERT right refused every reviewer's
   * rejection too, so the bot waited on a request nobody could end until it expired (second attack
   * review of issue 14). A rejection is checked against the votes that do verify — a signed
   * rejection already there, or one by the same person, still refuses it.
   */
  async function votesToDecideBy(events: readonly SessionEvent[], logged: LoggedApproval, verdict: Verdict) {
    const publicKeyPem = await deps.signer.publicKeyPem();
    try {
      return verifiedVotes(events, logged, publicKeyPem);
    } catch (e) {
      if (verdict !== 'reject' || !isGatehouseError(e, 'approval_mismatch')) throw e;
      return provenVotes(events, logged, publicKeyPem);
    }
  }

  async function digestKey(): Promise<Uint8Array> {
    try {
      return await deps.digestKey();
    } catch (e) {
      throw new GatehouseError('approvals_unavailable', 'the approval digest key could not be read to check the approval', undefined, { cause: e });
    }
  }

  /**
   * Whether the log proves what the row shows (logged.ts): the store is a cache that anyone with
   * its UPDATE right can edit — other SQL, a vote nobody cast. A reviewer sees which.
   */
  async function logStanding(row: Approval): Promise<LogStanding> {
    const key = await digestKey();
    let events;
    try {
      events = await sessions.read(row.sessionId);
    } catch {
      // Not proven, and only this row: the session a row names is the row's word, and whoever can
      // write the store and the log could point a row every reviewer sees at a session the log
      // cannot read (an event whose data is not JSON). That one read failing answered 503 for the
      // whole listing, hiding every genuine approval (second attack review of issue 14). The
      // cause is not echoed: it may quote what was stored.
      return { agrees: false, reason: 'log_unreadable', message: `approval ${row.id}: the session log could not be read to check it (session ${row.sessionId})` };
    }
    try {
      const logged = loggedApproval(events, row.id, row.sessionId);
      checkDigestIsStatement(logged, key);
      checkRowAgrees(row, logged);
      const votes = verifiedVotes(events, logged, await deps.signer.publicKeyPem());
      checkRowVotesSigned(row, votes);
      // Everything else the reviewer is shown: state, votes as cast, analysis, estimate, … (row-shown.ts).
      checkRowShown(row, events, logged, votes);
      return { agrees: true, signedVotes: votes.length };
    } catch (e) {
      if (!isGatehouseError(e, 'approval_mismatch')) throw e;
      return { agrees: false, reason: String((e.details as { reason?: unknown } | undefined)?.reason), message: e.message };
    }
  }

  function isAuditor(principal: Principal): boolean {
    return principal.groups.some((g) => auditorGroups.includes(g));
  }

  function maySee(principal: Principal, a: Approval): boolean {
    if (isAuditor(principal)) return true;
    if (samePrincipal(principal, a.requester)) return true;
    return matchingApprover(a.approvers, principal) !== undefined;
  }

  function record(sessionId: string, drafts: EventDraft[]): Promise<void> {
    // Fail closed, as in the gateway: an unrecorded decision is no decision.
    return recordOrFail(sessions, sessionId, drafts);
  }
}

export type ReviewDesk = ReturnType<typeof createReviewDesk>;

/** Which stored states and expiry bounds make up a status as people see it. */
function queryFor(status: StatusFilter, now: Date): ApprovalQuery {
  switch (status) {
    case 'pending':
    case 'approved':
      return { states: [status], expiresAfter: now };
    case 'expired':
      return { states: ['pending', 'approved'], expiredBy: now };
    case 'rejected':
    case 'used':
      return { states: [status] };
    case 'all':
      return {};
  }
}
