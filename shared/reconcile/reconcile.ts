// Closing sessions whose gateway went away mid-statement (docs/outcomes.md, "Reconciliation").
// A session whose last event is execution.started or a write's execution.result, older than its
// statement timeout plus a grace period and not running in this process, gets one
// execution.abandoned event saying what is known of its outcome, and how it is known:
//
//   last event          evidence                                      outcome
//   execution.result    target's txid_status(txid) = committed          committed
//   (a write)           txid_status = aborted                           rolled_back
//                       txid_status = in progress                       left open (still running)
//                       no txid, unknown txid, target unreachable       unknown / retried later
//   execution.started   read-only transaction                           rolled_back (nothing to keep)
//   (no result)         a write: COMMIT is only ever sent after         rolled_back
//                       execution.result is durable, and the result
//                       is appended right after execution.started or
//                       not at all (compare-and-append), as this
//                       event is appended right after the event it
//                       judged: whichever lands first, the other is
//                       refused (session_moved), so age is not relied on
//
// It runs on a timer in the gateway, once at start-up, from `gatehouse sessions reconcile`, and
// on GCP from the scheduled POST /v1/approvals/republish.
import { executionAbandonedEvent, type AbandonedOutcome } from '../audit/drafts.ts';
import type { SessionEvent, SessionSummary } from '../audit/events.ts';
import { dataOf } from '../audit/event-schema.ts';
import { verifyChain, type ChainProblem } from '../audit/chain.ts';
import { protocolBreak } from '../audit/protocol.ts';
import type { SessionLog, TargetDatabase } from '../ports.ts';

export interface ReconcileDeps {
  readonly sessions: SessionLog;
  readonly target: Pick<TargetDatabase, 'transactionStatus'>;
  readonly clock?: () => Date;
  /** Sessions this process is executing right now: never closed under its feet. */
  readonly inFlight?: ReadonlySet<string>;
  /**
   * Added to the statement's own timeout before a session counts as abandoned: covers masking,
   * the result append (bounded by the store's statement timeout) and COMMIT. Default 60 s.
   */
  readonly graceMs?: number;
  /** Who closes it, recorded in the event: `gateway <instanceId>`, `cli`, `scheduler`. */
  readonly reconciledBy: string;
  /**
   * Sessions a previous pass found complete (reads end at `result`, which a listing cannot tell
   * from a write's): not read again. The caller owns and bounds it.
   */
  readonly settled?: Set<string>;
}

export interface ReconcileWindow {
  /** Sessions started at or after this instant are examined. */
  readonly since: Date;
  /** At most this many sessions are listed in one pass; default 10,000. */
  readonly maxSessions?: number;
}

export interface ReconcileReport {
  readonly examined: number;
  readonly closed: { committed: number; rolled_back: number; unknown: number };
  /**
   * listingTampered: listed rows whose copies disagree with their hashed first event
   * (shared/audit/listing-check.ts) — never closed on the word of a row the log does not back;
   * `sessions list` and evidence export name them.
   */
  readonly skipped: { inFlight: number; tooRecent: number; inProgress: number; listingTampered: number; sessionTampered: number };
  /**
   * Open-looking sessions whose chain does not hold or whose events leave the gateway's order
   * (the first problem's code: hash_mismatch, link_broken, seq_gap, wrong_session,
   * event_out_of_protocol): never closed — the log's INSERT right alone can append an
   * `execution.started` or `execution.result` to any session, and the reconciler would otherwise
   * put the gateway's word (and, for a result, the target's answer about a transaction id the
   * writer chose) on it. At most MAX_NAMED are named; skipped.sessionTampered counts them all.
   */
  readonly tamperedSessions: readonly { sessionId: string; code: TamperCode }[];
  /**
   * Present when the pass stopped at maxSessions before the end of the window: the sessions
   * listed after `after` were not examined. The log's INSERT right alone can fill the start of a
   * window with sessions of its own; a pass that stopped there in silence left every genuine
   * abandoned session after them open, pass after pass.
   */
  readonly truncated?: { readonly listed: number; readonly after: string };
  /** Sessions that could not be closed this time (log or target unavailable); retried next pass. */
  readonly errors: number;
  readonly closedSessions: readonly { sessionId: string; outcome: AbandonedOutcome; basis: string }[];
}

export type TamperCode = ChainProblem['kind'] | 'event_out_of_protocol';
const MAX_NAMED = 100;
const OPEN: ReadonlySet<string> = new Set(['running', 'result']);
const PAGE = 200;
const DEFAULT_TIMEOUT_MS = 5_000;

export async function reconcile(deps: ReconcileDeps, window: ReconcileWindow): Promise<ReconcileReport> {
  const clock = deps.clock ?? (() => new Date());
  const graceMs = deps.graceMs ?? 60_000;
  const maxSessions = window.maxSessions ?? 10_000;
  const report = {
    examined: 0,
    closed: { committed: 0, rolled_back: 0, unknown: 0 },
    skipped: { inFlight: 0, tooRecent: 0, inProgress: 0, listingTampered: 0, sessionTampered: 0 },
    tamperedSessions: [] as { sessionId: string; code: TamperCode }[],
    errors: 0,
    closedSessions: [] as { sessionId: string; outcome: AbandonedOutcome; basis: string }[],
  };
  let truncated: ReconcileReport['truncated'];
  let after: string | undefined;
  let listed = 0;
  for (;;) {
    const page: SessionSummary[] = await deps.sessions.list({ from: window.since, limit: PAGE, ...(after ? { after } : {}) });
    for (const s of page) {
      if (s.listingTampered !== undefined) {
        report.skipped.listingTampered++;
        continue;
      }
      if (!OPEN.has(s.status) || deps.settled?.has(s.sessionId)) continue;
      report.examined++;
      if (deps.inFlight?.has(s.sessionId)) {
        report.skipped.inFlight++;
        continue;
      }
      try {
        const events = await deps.sessions.read(s.sessionId);
        const code = tamperCode(s.sessionId, events);
        if (code !== undefined) {
          report.skipped.sessionTampered++;
          if (report.tamperedSessions.length < MAX_NAMED) report.tamperedSessions.push({ sessionId: s.sessionId, code });
          continue;
        }
        const verdict = await judge(deps, events, clock(), graceMs);
        if (verdict.kind !== 'close') {
          if (verdict.kind === 'open') deps.settled?.add(s.sessionId);
          if (verdict.kind === 'tooRecent') report.skipped.tooRecent++;
          if (verdict.kind === 'inProgress') report.skipped.inProgress++;
          continue;
        }
        // A judgement made at execution.started rests on age alone: right after that event, or
        // not at all. A gateway still running the statement (this process's in-flight set cannot
        // see another instance's) appends its result there first, and this judgement is then
        // about a session that has moved (session_moved): counted as an error, judged again next
        // pass. A judgement at a result rests on the target's txid_status, true whenever it lands
        // (docs/outcomes.md: it may follow the gateway's own closing event, saying the same).
        const judged = events.at(-1)!;
        const placement = judged.type === 'execution.started' ? { after: { seq: judged.seq, hash: judged.hash } } : undefined;
        await deps.sessions.append(s.sessionId, [executionAbandonedEvent({ ...verdict.facts, reconciledBy: deps.reconciledBy })], placement);
        report.closed[verdict.facts.outcome]++;
        report.closedSessions.push({ sessionId: s.sessionId, outcome: verdict.facts.outcome, basis: verdict.facts.basis });
      } catch {
        report.errors++;
      }
    }
    listed += page.length;
    if (page.length < PAGE) break;
    after = page.at(-1)!.sessionId;
    if (listed >= maxSessions) {
      truncated = { listed, after };
      break;
    }
  }
  return truncated ? { ...report, truncated } : report;
}

/** Why the log does not back this session (its chain, then its order of events), or undefined. */
function tamperCode(sessionId: string, events: readonly SessionEvent[]): TamperCode | undefined {
  try {
    const problem = verifyChain(sessionId, events)[0];
    if (problem) return problem.kind;
  } catch {
    // An event no hash can even be computed over (not JSON-serialisable) does not hold either.
    return 'hash_mismatch';
  }
  return protocolBreak(events) ? 'event_out_of_protocol' : undefined;
}

type Facts = Omit<Parameters<typeof executionAbandonedEvent>[0], 'reconciledBy'>;
type Verdict = { kind: 'close'; facts: Facts } | { kind: 'open' } | { kind: 'tooRecent' } | { kind: 'inProgress' };

/** What is known of one session's outcome, from its events and (for a write) the target. */
export async function judge(deps: Pick<ReconcileDeps, 'target'>, events: readonly SessionEvent[], now: Date, graceMs: number): Promise<Verdict> {
  const last = events.at(-1);
  if (!last || (last.type !== 'execution.started' && last.type !== 'execution.result')) return { kind: 'open' };
  // Typed through the event schema: an event that does not fit it says nothing (fail closed:
  // not read-only, the default timeout, no transaction id — the outcome is then unknown).
  const startedEvent = events.find((e) => e.type === 'execution.started');
  const requestEvent = events.find((e) => e.type === 'request');
  const started = startedEvent && dataOf(startedEvent, 'execution.started');
  const request = requestEvent && dataOf(requestEvent, 'request');
  const readOnly = started?.readOnly === true;
  // A read is complete at its result: nothing to commit, nothing to close.
  if (last.type === 'execution.result' && readOnly) return { kind: 'open' };
  const timeoutMs = started?.statementTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (now.getTime() - Date.parse(last.at) < timeoutMs + graceMs) return { kind: 'tooRecent' };
  const instanceId = started?.instanceId;
  const base = { lastEvent: last.type, readOnly, ...(instanceId ? { instanceId } : {}) };

  if (last.type === 'execution.started') {
    return { kind: 'close', facts: { ...base, outcome: 'rolled_back', basis: readOnly ? 'read_only' : 'protocol' } };
  }
  const txid = dataOf(last, 'execution.result')?.txid ?? undefined;
  const connection = request?.connection;
  if (!txid || !connection || !deps.target.transactionStatus) {
    return { kind: 'close', facts: { ...base, outcome: 'unknown', basis: txid ? 'target_not_asked' : 'no_transaction_id' } };
  }
  // Throws when the target is unreachable: the session stays open and the next pass asks again.
  const status = await deps.target.transactionStatus(connection, txid);
  if (status === 'in progress') return { kind: 'inProgress' };
  const outcome: AbandonedOutcome = status === 'committed' ? 'committed' : status === 'aborted' ? 'rolled_back' : 'unknown';
  return { kind: 'close', facts: { ...base, txid, outcome, basis: status ? 'target_transaction_status' : 'target_forgot_transaction' } };
}
