// A session's status is never stored: it is read off its last event, so it cannot disagree with
// the chain, and every adapter (and `sessions list`, and the long poll) derives it the same way.
// A store's listing reads only the last event (statusAfter); what people are shown re-reads the
// whole session (sessionStatus), which also checks the order of its events.
import type { SessionEvent, SessionStatus } from './events.ts';
import { dataOf } from './event-schema.ts';
import { protocolBreak } from './protocol.ts';

type StatusInput = Pick<SessionEvent, 'type' | 'data'>;

/**
 * The status after `events` (the whole session, in seq order). A session with no events yet
 * counts as received; one whose events leave the order the gateway writes them in (protocol.ts:
 * a `rolled_back` appended after a write's `committed`, execution after a `deny`) says nothing
 * about what happened: `unknown`.
 */
export function sessionStatus(events: readonly StatusInput[]): SessionStatus {
  const last = events[events.length - 1];
  if (!last) return 'received';
  return protocolBreak(events) ? 'unknown' : statusAfter(last);
}

/** The status a session is in when `event` is its last one. */
export function statusAfter(event: StatusInput): SessionStatus {
  switch (event.type) {
    case 'request':
      // A request refused before analysis (bad body, unknown model) still opens a session.
      return dataOf(event, 'request')?.rejected ? 'rejected_request' : 'received';
    case 'analysis':
      // SQL that could not be parsed ends the session here: nothing is decided, nothing runs.
      return dataOf(event, 'analysis')?.error ? 'rejected_request' : 'analyzed';
    case 'decision': {
      const action = dataOf(event, 'decision')?.action;
      if (action === 'deny') return 'denied';
      if (action === 'approve') return 'pending_approval';
      if (action === 'allow') return 'decided';
      // An action this code does not know (or a decision that does not fit its schema) is not an allow.
      return 'denied';
    }
    case 'approval.requested':
      return 'pending_approval';
    case 'approval.granted': {
      // One approver of a quorum of several: still waiting for the others.
      // A vote that does not fit its schema approves nothing (older votes have no quorumMet: met).
      const vote = dataOf(event, 'approval.granted');
      return vote === undefined || vote.quorumMet === false ? 'pending_approval' : 'approved';
    }
    case 'approval.rejected':
      return 'rejected';
    case 'approval.redeemed':
      // The approved statement ran (or was let through) in another session, named in the event.
      return 'approved';
    case 'execution.started':
      return 'running';
    case 'execution.result':
      // Not data-dependent on purpose: a listing never fetches result rows. A read is complete
      // here; a write stays in doubt until committed, rolled_back or abandoned follows.
      return 'result';
    case 'execution.committed':
      return 'committed';
    case 'execution.rolled_back':
      return 'rolled_back';
    case 'execution.abandoned':
      // Only an outcome reconciliation proved counts; anything else is unknown, never a success.
      switch (dataOf(event, 'execution.abandoned')?.outcome) {
        case 'committed':
          return 'committed';
        case 'rolled_back':
          return 'rolled_back';
        default:
          return 'unknown';
      }
    case 'execution.completed':
      return 'executed';
    case 'execution.failed':
      return 'failed';
    default:
      return unknownType(event.type);
  }
}

function unknownType(type: never): SessionStatus {
  // Only a store edited behind the log's back can hold another type. Throwing here would let one
  // planted event take down every listing and long poll that reads the session; guessing would
  // claim something. The status is `unknown`, and verify names the event (event_modified).
  void type;
  return 'unknown';
}
