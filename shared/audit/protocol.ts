// The order in which the gateway writes a session's events (docs/outcomes.md#the-order-of-events).
// The session log is append-only, but whoever holds its INSERT right can append anything to any
// session: an `execution.rolled_back` after a write's `execution.committed` (hiding the write), an
// `execution.started … committed` after a `deny` (claiming a DROP ran), a second `decision`.
// Chains, the Merkle log and checkpoints prove such events were appended, not that the gateway
// wrote them. The gateway writes a session in one order only; a session that leaves it is not
// read as saying anything: its status is `unknown` (status.ts) and `evidence verify` and
// `sessions show` name the first event out of order (`event_out_of_protocol`).
//
// Votes and redemptions are the approval desk's and the redeeming session's to write, after the
// `approval.requested`; which of them count is decided by signatures (approvals/proven-status.ts),
// so among themselves they may come in any order — but nothing else may follow them.
import type { SessionEvent } from './events.ts';
import { dataOf } from './event-schema.ts';

/** The first event the gateway would not have written where it stands. */
export interface ProtocolBreak {
  readonly seq: number;
  readonly type: string;
  readonly message: string;
}

const APPROVAL_PART: ReadonlySet<string> = new Set(['approval.requested', 'approval.granted', 'approval.rejected', 'approval.redeemed']);

/** What a closed execution says became of it: `execution.committed`, `rolled_back`, or an `abandoned`'s outcome. */
type Outcome = 'committed' | 'rolled_back' | 'unknown';

/**
 * Where a session stands: what it may hold next. `settled:…` is an execution closed by the
 * gateway (`by-gateway`: committed or rolled_back) or by reconciliation (`by-reconciler`:
 * abandoned), with the outcome it said.
 */
type Phase =
  | 'start'
  | 'requested'
  | 'analyzed'
  | 'allowed'
  | 'held'
  | 'deciding'
  | 'running'
  | 'result'
  | 'reading'
  | 'read'
  | 'legacy'
  | `settled:${Outcome}:${'by-gateway' | 'by-reconciler'}`
  | 'closed';


/** The session's events in seq order; `seq` defaults to the position. */
export function protocolBreak(events: readonly (Pick<SessionEvent, 'type' | 'data'> & { readonly seq?: number })[]): ProtocolBreak | undefined {
  let phase: Phase = 'start';
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const next = successor(phase, e);
    if (next === undefined) {
      const seq = e.seq ?? i;
      const prev = events[i - 1];
      const where = prev === undefined ? 'start a session' : `follow ${prev.type}`;
      return { seq, type: e.type, message: `event ${seq} (${e.type}) cannot ${where}: the gateway never writes a session in this order` };
    }
    phase = next;
  }
  return undefined;
}

function successor(phase: Phase, e: Pick<SessionEvent, 'type' | 'data'>): Phase | undefined {
  switch (phase) {
    case 'start': {
      if (e.type !== 'request') return undefined;
      const request = dataOf(e, 'request');
      if (request === undefined) return undefined;
      // Refused before analysis (a bad body, an unknown connection): nothing follows.
      return request.rejected ? 'closed' : 'requested';
    }
    case 'requested':
      // An agent model the policy refuses is decided before analysis.
      if (e.type === 'decision') return afterDecision(e);
      if (e.type !== 'analysis') return undefined;
      return analysed(e);
    case 'analyzed':
      return e.type === 'decision' ? afterDecision(e) : undefined;
    case 'allowed':
      // A read (started READ ONLY) and a write close differently. A start whose data does not say
      // readOnly: true is taken for a write (the wider set: fail closed is not failing honest logs).
      if (e.type === 'execution.started') return dataOf(e, 'execution.started')?.readOnly === true ? 'reading' : 'running';
      // Failed before it started (a redemption whose "used" could not commit); logs older than
      // the outcome protocol recorded one completion.
      return e.type === 'execution.failed' || e.type === 'execution.completed' ? 'closed' : undefined;
    case 'held':
      return e.type === 'approval.requested' ? 'deciding' : undefined;
    case 'deciding':
      // A second approval.requested is never the gateway's either, but it is the approval part's
      // to judge: only the first counts (proven-status.ts), and redemption refuses it.
      return APPROVAL_PART.has(e.type) ? 'deciding' : undefined;
    case 'reading':
      // A read (READ ONLY) is never committed and never has a write's outcome to settle.
      if (e.type === 'execution.result') return 'read';
      if (e.type === 'execution.failed') return 'closed';
      if (e.type === 'execution.completed') return 'legacy';
      // Versions f50c118 … ae7c6ea said rolled_back (not failed) for a read whose result could
      // not be recorded; reconciliation closes one left running as rolled_back (basis read_only).
      if (e.type === 'execution.rolled_back') return 'closed';
      return e.type === 'execution.abandoned' ? startedCloser(e) : undefined;
    case 'read':
      // A read's result is its end: the rows were answered, and reconciliation never closes a
      // read's result (reconcile.ts judge, in every version). Only versions f50c118 … ae7c6ea,
      // which sent a read's COMMIT after recording its result, appended rolled_back when that
      // COMMIT failed (and then answered no rows). No `abandoned`, no `committed`: either would
      // be a claim about a read that reconciliation and the gateway never make.
      if (e.type === 'execution.rolled_back') return 'closed';
      // The result append committed on the store but its answer was lost (the connection broke,
      // the client's bound passed): the gateway could not know it was durable, answered no rows,
      // and said so — `failed`, with the log's own error and nothing else
      // (test/outcomes/fault-attacks.e2e.test.ts). Any other failure after a result is not the gateway's.
      return e.type === 'execution.failed' && dataOf(e, 'execution.failed')?.error?.code === 'audit_unavailable' ? 'closed' : undefined;
    case 'running':
      if (e.type === 'execution.result') return 'result';
      if (e.type === 'execution.failed') return 'closed';
      if (e.type === 'execution.completed') return 'legacy';
      // Closed without a result: rolled back (its result could not be recorded) or abandoned. A
      // write is committed only after its result is durable: never `committed` here.
      if (e.type === 'execution.rolled_back') return closer(e, undefined);
      return e.type === 'execution.abandoned' ? startedCloser(e) : undefined;
    case 'result':
      return closer(e, undefined);
    case 'legacy':
      // Versions before the outcome protocol (cb5431a … 05d6b7a) wrote execution.completed
      // before COMMIT and, when COMMIT (or anything after the completion) then failed,
      // execution.failed after it. `failed` is what those versions said (and what exports they
      // made counted); nothing follows it.
      return e.type === 'execution.failed' ? 'closed' : undefined;
    case 'closed':
      return undefined;
    default:
      return closer(e, phase);
  }
}

/**
 * Reconciliation closing a session left at `execution.started`: always `rolled_back` (reconcile.ts
 * judge: a read kept nothing; a write is committed only after its result is durable, and none
 * was). An `abandoned` there saying committed or unknown is not reconciliation's: it would make a
 * statement that never produced a result read as committed.
 */
function startedCloser(e: Pick<SessionEvent, 'type' | 'data'>): Phase | undefined {
  return dataOf(e, 'execution.abandoned')?.outcome === 'rolled_back' ? closer(e, undefined) : undefined;
}

/**
 * An execution closed: `execution.committed` or `execution.rolled_back` (the gateway's),
 * `execution.abandoned` (reconciliation's). After the first closing event, one more may follow only
 * as the gateway and reconciliation race on the same session, and only saying the same outcome:
 *   - two reconcilers (two gateways' timers, a gateway and `gatehouse sessions reconcile`, the
 *     scheduled pass on GCP; or a pass whose append failed and the next pass) both read the
 *     session open and each append an `execution.abandoned` (docs/outcomes.md, Reconciliation);
 *   - a write whose COMMIT took longer than its timeout plus the grace period (COMMIT is not under
 *     the gateway's deadline: a synchronous standby that does not answer holds it, while
 *     txid_status already says committed): reconciliation appends `abandoned` (committed) and the
 *     gateway its `execution.committed`, in either order.
 * Never two of the gateway's own (it writes one outcome), and never two that disagree: a
 * `rolled_back` after a `committed`, an `abandoned` (rolled_back) after a `committed`, is what
 * only the log's INSERT right writes.
 */
function closer(e: Pick<SessionEvent, 'type' | 'data'>, phase: Phase | undefined): Phase | undefined {
  let said: Outcome;
  let by: 'by-gateway' | 'by-reconciler';
  if (e.type === 'execution.committed' || e.type === 'execution.rolled_back') {
    said = e.type === 'execution.committed' ? 'committed' : 'rolled_back';
    by = 'by-gateway';
  } else if (e.type === 'execution.abandoned') {
    const outcome = dataOf(e, 'execution.abandoned')?.outcome;
    if (outcome === undefined) return undefined;
    said = outcome;
    by = 'by-reconciler';
  } else {
    return undefined;
  }
  if (phase === undefined) return `settled:${said}:${by}`;
  const [, before, closedBy] = phase.split(':');
  if (before !== said) return undefined;
  // The gateway writes one outcome: a second of its own is never a race.
  if (by === 'by-gateway' && closedBy === 'by-gateway') return undefined;
  return by === 'by-gateway' ? `settled:${said}:by-gateway` : phase;
}

function analysed(e: Pick<SessionEvent, 'type' | 'data'>): Phase | undefined {
  const analysis = dataOf(e, 'analysis');
  if (analysis === undefined) return undefined;
  // SQL that could not be analysed ends the session.
  return analysis.error ? 'closed' : 'analyzed';
}

function afterDecision(e: Pick<SessionEvent, 'type' | 'data'>): Phase | undefined {
  const decision = dataOf(e, 'decision');
  if (decision === undefined) return undefined;
  if (decision.action === 'allow') return 'allowed';
  if (decision.action === 'approve') return 'held';
  // deny, and any action this code does not know: nothing follows.
  return 'closed';
}
