// Approvals believed only from the log (issue 14). The approval store is a cache for listing and
// locking: whoever holds the query path's database rights can UPDATE a row to `approved`, INSERT
// a row the gateway never created, or append a perfectly chained `approval.granted` to the session
// log. So before anything runs, a redemption re-reads the requesting session and checks:
//
//   - exactly one `approval.requested` for this id, in a session whose request came from the
//     caller presenting it, with the digest (an HMAC the store cannot compute) of the statement
//     presented now;
//   - the row agrees with that record in every field the decision depends on;
//   - every `approval.granted` / `approval.rejected` for this id carries a valid signature of the
//     approval desk's key, over this approval and this digest;
//   - the signed approvals come from distinct people (normalised), none of them the requester,
//     each admitted by one of the approver patterns logged with the request, before the logged
//     expiry — at least the logged quorum of them; and no signed rejection.
//
// Any disagreement refuses with `approval_mismatch` and a `reason` naming the check; the caller
// records it as the redemption session's decision.
import { GatehouseError, isGatehouseError } from '../errors.ts';
import type { EventType, SessionEvent } from '../audit/events.ts';
import { dataOf, schemaIssue } from '../audit/event-schema.ts';
import { emailKey, normalForm, subjectKey } from '../identity/normalise.ts';
import { principalMatches } from '../policy/index.ts';
import canonicalize from 'canonicalize';
import type { Analysis } from '../sql/analysis.ts';
import { approvalDigest } from './digest.ts';
import { admittedNow, type ApproverPolicy } from './approvers-now.ts';
import type { BoundRelations } from './relations.ts';
import { samePerson, samePrincipal } from './people.ts';
import type { Approval, Param, Person } from './types.ts';
import { voteSignatureValid, type SignedVote } from './vote-signature.ts';

/** What the session log says about one approval. */
export interface LoggedApproval {
  readonly approvalId: string;
  readonly sessionId: string;
  readonly requester: Person;
  readonly connection: string;
  readonly sql: string;
  readonly params: readonly Param[];
  readonly digest: string;
  readonly rule: string;
  readonly approvers: readonly string[];
  readonly quorum: number;
  readonly expiresAt: string;
  readonly policySha256: string;
}

export type MismatchReason =
  | 'not_in_log'
  | 'event_malformed'
  | 'requested_twice'
  | 'row_disagrees'
  /** The row is not an approval as the gateway writes it (record.ts): never acted on. */
  | 'row_malformed'
  | 'digest_not_statement'
  /** The statement, as analysed now, is not what its approvers were shown (another class, other reasons). */
  | 'analysis_changed'
  | 'vote_unsigned'
  | 'vote_signature_invalid'
  | 'vote_for_other_statement'
  | 'vote_event_disagrees'
  | 'vote_repeated'
  | 'vote_by_requester'
  | 'vote_not_approver'
  | 'vote_after_expiry'
  | 'quorum_not_in_log'
  | 'row_vote_not_in_log'
  | 'expiry_beyond_ttl'
  /** Fewer signed approvals than the quorum come from people the policy in force still admits. */
  | 'vote_approver_revoked';

export function mismatch(approvalId: string, reason: MismatchReason, message: string, more: Record<string, unknown> = {}): GatehouseError {
  return new GatehouseError('approval_mismatch', `approval ${approvalId} does not match the session log: ${message}`, { approvalId, reason, ...more });
}

/** The event types a redemption reads; every one of them must fit the event schema. */
const READ: ReadonlySet<EventType> = new Set(['request', 'decision', 'approval.requested', 'approval.granted', 'approval.rejected', 'approval.redeemed']);

/**
 * A session whose events the redemption reads do not all fit the event schema
 * (shared/audit/event-schema.ts) is not believed at all: a malformed copy of a request or a vote
 * must not be skipped as if it were not there.
 */
function checkSchema(events: readonly SessionEvent[], approvalId: string, sessionId: string): void {
  for (const e of events) {
    if (!READ.has(e.type)) continue;
    const issue = schemaIssue(e);
    if (issue) throw mismatch(approvalId, 'event_malformed', `event #${e.seq} (${e.type}) of session ${sessionId} does not fit the event schema (${issue.field})`, { event: { seq: e.seq, type: e.type }, field: issue.field });
  }
}

/** The approval as the requesting session recorded it, or approval_mismatch (`not_in_log`, `requested_twice`, `event_malformed`). */
export function loggedApproval(events: readonly SessionEvent[], approvalId: string, sessionId: string): LoggedApproval {
  checkSchema(events, approvalId, sessionId);
  const requested = events.filter((e) => dataOf(e, 'approval.requested')?.approvalId === approvalId);
  if (requested.length === 0) throw mismatch(approvalId, 'not_in_log', `no approval.requested event for it in session ${sessionId}`);
  if (requested.length > 1) throw mismatch(approvalId, 'requested_twice', `session ${sessionId} requests it more than once`);
  const r = requested[0]!;
  const d = dataOf(r, 'approval.requested')!;
  // The request and decision that led to it: the session's own, before the approval.requested.
  const requestEvent = events.find((e) => e.type === 'request' && e.seq < r.seq);
  const decisionEvent = [...events].reverse().find((e) => e.type === 'decision' && e.seq < r.seq);
  const request = requestEvent && dataOf(requestEvent, 'request');
  const decision = decisionEvent && dataOf(decisionEvent, 'decision');
  const issuer = request?.principal?.issuer;
  const subject = request?.principal?.subject;
  const { quorum, approvers } = d;
  const params = request?.params ?? [];
  const fields = {
    connection: request?.connection,
    sql: request?.sql,
    digest: d.digest,
    rule: d.rule,
    expiresAt: d.expiresAt,
    policySha256: decision?.policySha256,
  };
  const incomplete =
    issuer === undefined ||
    subject === undefined ||
    Object.values(fields).some((v) => v === undefined) ||
    !(quorum !== undefined && quorum >= 1) ||
    !(approvers !== undefined && approvers.length > 0) ||
    decision?.action !== 'approve';
  if (incomplete) throw mismatch(approvalId, 'not_in_log', `session ${sessionId} does not record a complete request for it`);
  const email = request?.principal?.email;
  return {
    approvalId,
    sessionId,
    requester: { issuer, subject, ...(email === undefined ? {} : { email }) },
    connection: fields.connection!,
    sql: fields.sql!,
    params: params as Param[],
    digest: fields.digest!,
    rule: fields.rule!,
    approvers: [...approvers],
    quorum,
    expiresAt: fields.expiresAt!,
    policySha256: fields.policySha256!,
  };
}

/**
 * The logged statement is the one the logged digest is over. The digest (an HMAC the store and
 * the log cannot compute) binds the approval to one statement; which session holds the approval's
 * request is only what the row's `sessionId` says. A copy of the requesting session with other
 * SQL and the same digest, and the row pointed at it, would show a reviewer harmless SQL — agreed
 * by the log, signed by the desk — and run the statement the digest is over (attack review of
 * issue 14). Recomputing the digest from what the log shows refuses that copy.
 */
export function checkDigestIsStatement(logged: LoggedApproval, digestKey: Uint8Array): void {
  // Over this approval id and this session too (digest.ts): a copy of a genuine request in another
  // session, or under another id, is not the approval the gateway opened.
  const digest = approvalDigest(digestKey, { approvalId: logged.approvalId, sessionId: logged.sessionId, connection: logged.connection, sql: logged.sql, params: logged.params, requester: logged.requester });
  if (digest !== logged.digest) {
    throw mismatch(logged.approvalId, 'digest_not_statement', `session ${logged.sessionId} records a request whose statement (or approval id, or session) is not the one the approval's digest is over`);
  }
}

/** The row must say what the log says about everything a decision depends on. */
export function checkRowAgrees(row: Approval, logged: LoggedApproval): void {
  const differs: string[] = [];
  if (row.sessionId !== logged.sessionId) differs.push('sessionId');
  if (row.digest !== logged.digest) differs.push('digest');
  if (row.connection !== logged.connection) differs.push('connection');
  if (row.sql !== logged.sql) differs.push('sql');
  if (JSON.stringify(row.params) !== JSON.stringify(logged.params)) differs.push('params');
  // The email too: the desk's self-approval check reads the requester, and a row whose email was
  // removed let the requester's second account (same mailbox, another subject) be signed for.
  if (!samePrincipal(row.requester, logged.requester)) differs.push('requester');
  else if (row.requester.email !== logged.requester.email) differs.push('requester.email');
  if (row.rule !== logged.rule) differs.push('rule');
  if (JSON.stringify(row.approvers) !== JSON.stringify(logged.approvers)) differs.push('approvers');
  if (row.quorum !== logged.quorum) differs.push('quorum');
  if (Date.parse(row.expiresAt) !== Date.parse(logged.expiresAt)) differs.push('expiresAt');
  if (row.policySha256 !== logged.policySha256) differs.push('policySha256');
  if (differs.length > 0) throw mismatch(row.id, 'row_disagrees', `the approval store differs from the log in ${differs.join(', ')}`, { differs });
}

/** What of an analysis its approvers read; all of it must be the same at redemption. */
const ANALYSIS_FIELDS = ['pgType', 'kind', 'class', 'reasons', 'tables', 'columns', 'functions', 'fingerprint'] as const;

/**
 * The statement presented now must mean what its approvers were shown: the requesting session's
 * own analysis (before its approval.requested) and the one made now agree in every field. The
 * digest binds the text; what the text calls is the target's catalog's and the policy's
 * `functions:` — a function of the same name in a schema searched first, a new overload, a
 * function the policy no longer vouches for. A `SELECT tally($1)` approved as a read then ran, on
 * another instance, as `unknown` in a read-write transaction, and the shadowing function's INSERT
 * committed (attack review of issues 4 and 14, fourth round). The bot asks again; its approvers
 * see what it means now.
 */
export function checkAnalysisUnchanged(events: readonly SessionEvent[], logged: LoggedApproval, now: Analysis): void {
  const requestedAt = events.findIndex((e) => dataOf(e, 'approval.requested')?.approvalId === logged.approvalId);
  const shown = events
    .slice(0, Math.max(requestedAt, 0))
    .map((e) => dataOf(e, 'analysis'))
    .findLast((d) => d !== undefined) as Partial<Record<(typeof ANALYSIS_FIELDS)[number], unknown>> | undefined;
  const differs = ANALYSIS_FIELDS.filter((f) => shown === undefined || canonicalize(shown[f] ?? null) !== canonicalize(now[f] ?? null));
  if (differs.length > 0) {
    const was = typeof shown?.class === 'string' ? shown.class : '?';
    throw mismatch(logged.approvalId, 'analysis_changed', `the statement now analyses as ${now.class}${was === now.class ? ' with other findings' : ''}, not as the ${was} its approvers were shown; ask for a new approval`, {
      differs,
      class: { approved: was, now: now.class },
    });
  }
}

/** What the requesting session's approval.requested recorded its relation names to resolve to; undefined for approvals from before it did. */
export function loggedRelations(events: readonly SessionEvent[], logged: LoggedApproval): BoundRelations | undefined {
  const d = events.map((e) => dataOf(e, 'approval.requested')).find((x) => x?.approvalId === logged.approvalId);
  return d?.relations;
}

/**
 * The relations and functions the statement names are now what they were when it was held
 * (relations.ts): another schema found first, a table dropped and created again, a trigger, rule
 * or row security policy added or changed, a function replaced or overloaded — none of it is what
 * the approvers were asked about: approval_mismatch `analysis_changed`, `differs` naming
 * `relations` and/or `routines`, `names` the names.
 */
export function checkRelationsUnchanged(logged: LoggedApproval, then: BoundRelations, now: BoundRelations): void {
  const moved = (a: Readonly<Record<string, string | null>>, b: Readonly<Record<string, string | null>>) =>
    [...new Set([...Object.keys(a), ...Object.keys(b)])].sort().filter((n) => !(Object.hasOwn(a, n) && Object.hasOwn(b, n) && a[n] === b[n]));
  const relations = moved(then.relations ?? {}, now.relations);
  const routines = moved(then.routines ?? {}, now.routines);
  // Recorded since the fourth attack review; an approval held before it has none to compare.
  const path = then.searchPath !== undefined && JSON.stringify(then.searchPath) !== JSON.stringify(now.searchPath ?? null);
  const differs = [...(relations.length > 0 ? ['relations'] : []), ...(routines.length > 0 ? ['routines'] : []), ...(path ? ['search_path'] : [])];
  if (differs.length > 0) {
    const names = [...relations, ...routines.map((r) => `${r}()`), ...(path ? ['search_path'] : [])];
    throw mismatch(logged.approvalId, 'analysis_changed', `what it names is not what it was when it was approved (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}); ask for a new approval`, {
      differs,
      names,
    });
  }
}

/** An approval the log says was used already is used, whatever the row says (a reset to `approved`). */
export function checkNotRedeemed(events: readonly SessionEvent[], logged: LoggedApproval): void {
  checkSchema(events, logged.approvalId, logged.sessionId);
  const used = events.map((e) => dataOf(e, 'approval.redeemed')).find((d) => d?.approvalId === logged.approvalId);
  if (used) {
    throw new GatehouseError('approval_used', `approval ${logged.approvalId} was used already (session ${used.sessionId})`, {
      approvalId: logged.approvalId,
      status: 'used',
      reason: 'redeemed_in_log',
    });
  }
}

/**
 * After appending its approval.redeemed, a redemption reads the requesting session back and runs
 * only if the first approval.redeemed of this approval names its own session. The approval
 * store's lock is what keeps two redemptions apart — and on Firestore that lock is a lease in the
 * approval's own document, which the query path's rights can write: cleared while one redemption
 * was past its log check, restored after a second instance had redeemed, it let both run (attack
 * review of issues 4 and 14, fourth round; test/approvals/lease-broken.e2e.test.ts). The session
 * log orders appends to one session: of any number of redemptions exactly one is first, whatever
 * the store says. One appended by someone else first (the log's INSERT right) refuses every
 * redemption: fail closed.
 */
export function checkRedeemedFirst(events: readonly SessionEvent[], approvalId: string, sessionId: string): void {
  const first = events.map((e) => dataOf(e, 'approval.redeemed')).find((d) => d?.approvalId === approvalId);
  if (first?.sessionId !== sessionId) {
    throw new GatehouseError('approval_used', `approval ${approvalId} was used already (session ${first?.sessionId ?? '?'}): the log records another redemption first`, {
      approvalId,
      status: 'used',
      reason: 'redeemed_in_log',
    });
  }
}

/** Every vote event for this approval, each verified against the desk's public key; one bad one refuses. */
export function verifiedVotes(events: readonly SessionEvent[], logged: LoggedApproval, publicKeyPem: string): SignedVote[] {
  checkSchema(events, logged.approvalId, logged.sessionId);
  const votes: SignedVote[] = [];
  for (const e of events) {
    const d = dataOf(e, 'approval.granted') ?? dataOf(e, 'approval.rejected');
    if (d === undefined || d.approvalId !== logged.approvalId) continue;
    const at = { seq: e.seq, type: e.type };
    const { vote, signature } = d;
    if (vote === undefined || signature === undefined) throw mismatch(logged.approvalId, 'vote_unsigned', `event #${e.seq} (${e.type}) is not signed by the approval desk`, { event: at });
    if (!voteSignatureValid(publicKeyPem, vote, signature)) {
      throw mismatch(logged.approvalId, 'vote_signature_invalid', `the signature of event #${e.seq} (${e.type}) does not verify with the approval desk's key`, { event: at });
    }
    const v = vote as SignedVote;
    const verdictFits = (e.type === 'approval.granted') === (v.verdict === 'approve');
    if (v.approvalId !== logged.approvalId || v.sessionId !== logged.sessionId || v.digest !== logged.digest || !verdictFits) {
      throw mismatch(logged.approvalId, 'vote_for_other_statement', `event #${e.seq} carries a signed vote for another approval, session, statement or verdict`, { event: at });
    }
    // The fields people read (sessions show, approvals.jsonl, population.csv) must name the person
    // who signed: a genuine vote copied into an event that shows someone else would make the log
    // claim a vote that never happened (attack review of issue 14).
    if (!shownIsSigner(d.approver, v)) {
      throw mismatch(logged.approvalId, 'vote_event_disagrees', `event #${e.seq} (${e.type}) shows another approver than the one who signed its vote`, { event: at });
    }
    votes.push(v);
  }
  return votes;
}

/**
 * The vote events for this approval that verifiedVotes would accept one by one, the others left
 * out: only for the desk's check of a rejection (review.ts), never to count an approval.
 */
export function provenVotes(events: readonly SessionEvent[], logged: LoggedApproval, publicKeyPem: string): SignedVote[] {
  return events.flatMap((e) => {
    try {
      return verifiedVotes([e], logged, publicKeyPem);
    } catch (err) {
      if (isGatehouseError(err, 'approval_mismatch')) return [];
      throw err;
    }
  });
}

/** The event's readable approver is exactly the person who signed its vote (normalised as the desk signs). */
export function shownIsSigner(shown: Partial<Person> | undefined, v: SignedVote): boolean {
  const a = v.approver as Partial<SignedVote['approver']> | undefined;
  if (shown === undefined || typeof shown.issuer !== 'string' || typeof shown.subject !== 'string' || a === undefined) return false;
  if (normalForm(shown.issuer) !== a.issuer || subjectKey(shown.subject) !== a.subject) return false;
  return typeof shown.email === 'string' ? a.email === emailKey(shown.email) : shown.email === undefined && a.email === undefined;
}

/**
 * The people whose signed approvals make the quorum, or a refusal: approval_rejected for a signed
 * rejection, approval_expired past the logged expiry, approval_mismatch for everything else.
 */
export function checkQuorum(logged: LoggedApproval, votes: readonly SignedVote[], row: Approval, now: Date): Person[] {
  const id = logged.approvalId;
  const people = signedApprovers(logged, votes);
  if (now.getTime() >= Date.parse(logged.expiresAt)) throw new GatehouseError('approval_expired', `approval ${id} expired at ${logged.expiresAt}`, { approvalId: id, status: 'expired' });
  if (people.length < logged.quorum) {
    throw mismatch(id, 'quorum_not_in_log', `the log holds ${people.length} signed approval(s) of the ${logged.quorum} required`, { signed: people.length, quorum: logged.quorum });
  }
  // A vote the store shows but the log does not: the store was written to behind the desk's back.
  for (const rv of row.votes) {
    if (rv.verdict === 'approve' && !people.some((p) => samePerson(p, rv.by))) {
      throw mismatch(id, 'row_vote_not_in_log', 'the approval store lists an approval the log has no signed vote for');
    }
  }
  return people;
}

/** Every vote the row lists is one the log holds signed, by the same person with the same verdict. */
export function checkRowVotesSigned(row: Approval, votes: readonly SignedVote[]): void {
  for (const rv of row.votes) {
    const signed = votes.some((v) => v.verdict === rv.verdict && samePerson(rv.by, { issuer: v.approver.issuer, subject: v.approver.subject, ...(v.approver.email ? { email: v.approver.email } : {}) }));
    if (!signed) throw mismatch(row.id, 'row_vote_not_in_log', `the approval store lists a vote (${rv.verdict} by ${rv.by.email ?? rv.by.subject}) the log has no signed vote for`);
  }
}

/**
 * The distinct people whose signed approvals count, whatever the time now: approval_rejected for a
 * signed rejection, approval_mismatch for a vote by the requester, by someone the request's
 * approvers do not admit, cast after the logged expiry, or repeated.
 */
export function signedApprovers(logged: LoggedApproval, votes: readonly SignedVote[]): Person[] {
  const id = logged.approvalId;
  const expiresAt = Date.parse(logged.expiresAt);
  if (votes.some((v) => v.verdict === 'reject')) {
    throw new GatehouseError('approval_rejected', `approval ${id} was rejected`, { approvalId: id, status: 'rejected' });
  }
  const people: Person[] = [];
  for (const v of votes) {
    const person: Person = { issuer: v.approver.issuer, subject: v.approver.subject, ...(v.approver.email ? { email: v.approver.email } : {}) };
    if (samePerson(person, logged.requester)) throw mismatch(id, 'vote_by_requester', 'a signed vote comes from the requester itself');
    const admitted = logged.approvers.includes(v.as) && principalMatches(v.as, { ...person, groups: [...v.approver.groups] });
    if (!admitted) throw mismatch(id, 'vote_not_approver', `a signed vote comes from someone the request's approvers (${logged.approvers.join(', ')}) do not admit`);
    if (!(Date.parse(v.at) < expiresAt)) throw mismatch(id, 'vote_after_expiry', 'a signed vote was cast after the approval expired');
    // The desk never signs a second vote by one person (castVote refuses it), so two in the log
    // are a replayed event — whose unsigned fields (comment, quorumMet, state) may say anything:
    // refused, not counted once (attack review of issue 14).
    if (people.some((p) => samePerson(p, person))) throw mismatch(id, 'vote_repeated', 'the log holds more than one signed vote by the same person');
    people.push(person);
  }
  return people;
}

/**
 * The desk's own rules (state.ts castVote) applied to what the log holds signed, not to the row:
 * the row's requester, votes and state are a cache the query path's UPDATE right can edit. Without
 * this, a row wiped of a signed vote or rejection (or of the requester's email) had the desk sign
 * a second vote by one person, an approval after a rejection, or a self-approval — none of which
 * a redemption counts, but each one the desk's signature in the log (attack review of issue 14).
 */
export function checkVoteAgainstLog(logged: LoggedApproval, votes: readonly SignedVote[], by: Person, verdict: 'approve' | 'reject'): void {
  const id = logged.approvalId;
  if (samePerson(by, logged.requester)) {
    throw new GatehouseError('self_approval', 'the requester cannot decide its own approval (also not under another issuer with the same email)', { approvalId: id });
  }
  // approval_rejected for a signed rejection; approval_mismatch for a signed vote a redemption would refuse.
  const people = signedApprovers(logged, votes);
  if (people.some((p) => samePerson(p, by))) {
    throw new GatehouseError('approval_already_decided', `${by.email ?? by.subject} already decided approval ${id} (a vote the log holds signed); a quorum counts distinct people`, { approvalId: id });
  }
  if (verdict === 'approve' && people.length >= logged.quorum) {
    throw new GatehouseError('approval_already_decided', `approval ${id} is already approved (the log holds a signed quorum)`, { approvalId: id, status: 'approved' });
  }
}

/**
 * The signed approvals that count at redemption are those whose signers the policy in force still
 * admits (approvers-now.ts): a vote is signed with the groups of the policy the desk decided under,
 * and a policy that has since removed the approver from the group — or stopped trusting their
 * issuer — must not let that vote run the statement. At least the logged quorum of them, or
 * approval_mismatch `vote_approver_revoked`. Returns the people who count.
 */
export function checkApproversNow(logged: LoggedApproval, votes: readonly SignedVote[], approvers: readonly string[], policy: ApproverPolicy): Person[] {
  const approvals = votes.filter((v) => v.verdict === 'approve');
  const admitted = approvals.filter((v) => admittedNow(policy, approvers, v));
  if (admitted.length < logged.quorum) {
    throw mismatch(logged.approvalId, 'vote_approver_revoked', `${approvals.length - admitted.length} of its ${approvals.length} signed approval(s) come from people the policy in force no longer admits as approvers (${approvers.join(', ')}); ${admitted.length} of the ${logged.quorum} required remain — ask for a new approval`, {
      signed: approvals.length,
      admittedNow: admitted.length,
      quorum: logged.quorum,
    });
  }
  return admitted.map((v) => ({ issuer: v.approver.issuer, subject: v.approver.subject, ...(v.approver.email ? { email: v.approver.email } : {}) }));
}

/**
 * An approval lives at most the rule's ttl (the policy in force at redemption) after its first
 * signed approval. Its logged expiry is the writer's word: whoever holds the session log's INSERT
 * right can copy a genuine request (digest and all) into a session of their own whose
 * approval.requested expires in ten years, and the store's row to match; the policy bounds its
 * rule, quorum and approvers at redemption (state.ts redeem), but nothing bounded its lifetime, and
 * one real vote made it redeemable for years (attack review of issue 14). The votes' times are the
 * desk's, signed; a genuine approval's first vote comes after its creation, so it always passes.
 */
export function checkLifetime(logged: LoggedApproval, votes: readonly SignedVote[], ttlMs: number | undefined): void {
  const first = Math.min(...votes.filter((v) => v.verdict === 'approve').map((v) => Date.parse(v.at)));
  const expiresAt = Date.parse(logged.expiresAt);
  if (!(ttlMs !== undefined && ttlMs > 0 && Number.isFinite(first) && expiresAt <= first + ttlMs)) {
    throw mismatch(logged.approvalId, 'expiry_beyond_ttl', `its logged expiry is later than the rule's ttl after its first signed approval`, { expiresAt: logged.expiresAt });
  }
}
