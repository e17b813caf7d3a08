// The order in which the gateway writes a session (shared/audit/protocol.ts): every shape the
// gateway writes follows it; what a writer with the log's INSERT right appends out of it is named
// at the first event out of order, and the status says `unknown` rather than what the last event
// claims.
import test from 'ava';
import type { EventType, SessionStatus } from '../../shared/audit/events.ts';
import { protocolBreak } from '../../shared/audit/protocol.ts';
import { sessionStatus } from '../../shared/audit/status.ts';

type Ev = { seq: number; type: EventType; data: Record<string, unknown> };
const E = (type: EventType, data: Record<string, unknown> = {}) => ({ type, data });
const session = (...es: { type: EventType; data: Record<string, unknown> }[]): Ev[] => es.map((e, seq) => ({ seq, ...e }));

const request = E('request', { endpoint: 'query', connection: 'main', sql: 'SELECT 1' });
const refused = E('request', { endpoint: 'query', rejected: { code: 'bad_request', message: 'no sql' } });
const analysis = E('analysis', { class: 'write', reasons: [] });
const unparsable = E('analysis', { error: { code: 'sql_parse_error', message: 'syntax error' } });
const allow = E('decision', { action: 'allow', rule: 'r' });
const deny = E('decision', { action: 'deny', rule: null });
const approve = E('decision', { action: 'approve', rule: 'r' });
const requested = E('approval.requested', { approvalId: 'a1' });
const granted = E('approval.granted', { approvalId: 'a1' });
const rejected = E('approval.rejected', { approvalId: 'a1' });
const redeemed = E('approval.redeemed', { approvalId: 'a1', sessionId: 's2' });
const started = E('execution.started', { connection: 'main', readOnly: false });
const readStarted = E('execution.started', { connection: 'main', readOnly: true });
const result = E('execution.result', {});
const committed = E('execution.committed', {});
const rolledBack = E('execution.rolled_back', {});
const abandoned = E('execution.abandoned', { outcome: 'committed' });
const abandonedRolledBack = E('execution.abandoned', { outcome: 'rolled_back' });
const abandonedUnknown = E('execution.abandoned', { outcome: 'unknown' });
const failed = E('execution.failed', {});
const completed = E('execution.completed', {});

const genuine: [string, Ev[], SessionStatus][] = [
  ['refused before analysis', session(refused), 'rejected_request'],
  ['a connections listing', session(request), 'received'],
  ['an agent model refused', session(request, deny), 'denied'],
  ['unparsable SQL', session(request, unparsable), 'rejected_request'],
  ['denied', session(request, analysis, deny), 'denied'],
  ['analyze only', session(request, analysis, allow), 'decided'],
  ['a read', session(request, analysis, allow, started, result), 'result'],
  ['a committed write', session(request, analysis, allow, started, result, committed), 'committed'],
  ['a write rolled back after its result', session(request, analysis, allow, started, result, rolledBack), 'rolled_back'],
  ['a write whose result could not be recorded', session(request, analysis, allow, started, rolledBack), 'rolled_back'],
  ['reconciled after the result', session(request, analysis, allow, started, result, abandoned), 'committed'],
  ['reconciled while running', session(request, analysis, allow, started, abandonedRolledBack), 'rolled_back'],
  ['a read, READ ONLY', session(request, analysis, allow, readStarted, result), 'result'],
  ['a read that failed', session(request, analysis, allow, readStarted, failed), 'failed'],
  ['a read reconciled while running', session(request, analysis, allow, readStarted, abandonedRolledBack), 'rolled_back'],
  // Versions f50c118 … ae7c6ea: a read whose result could not be recorded, or whose COMMIT (sent after its result) failed.
  ['a read rolled back before its result (f50c118 … ae7c6ea)', session(request, analysis, allow, readStarted, rolledBack), 'rolled_back'],
  ['a read rolled back after its result (f50c118 … ae7c6ea)', session(request, analysis, allow, readStarted, result, rolledBack), 'rolled_back'],
  // The read's result append committed but its answer was lost: no rows answered (test/outcomes/fault-attacks.e2e.test.ts).
  ['a read whose result was stored, its answer lost', session(request, analysis, allow, readStarted, result, E('execution.failed', { error: { code: 'audit_unavailable', message: 'session log unavailable' } })), 'failed'],
  ['failed while running', session(request, analysis, allow, started, failed), 'failed'],
  ['failed before it started (a redemption)', session(request, analysis, allow, failed), 'failed'],
  ['a legacy completion', session(request, analysis, allow, started, completed), 'executed'],
  // Versions before the outcome protocol (cb5431a … 05d6b7a): COMMIT failed after the completion was recorded.
  ['a legacy completion whose COMMIT failed', session(request, analysis, allow, started, completed, failed), 'failed'],
  // Two reconcilers read the session open and each closed it (docs/outcomes.md: they say the same).
  ['reconciled twice after the result', session(request, analysis, allow, started, result, abandoned, abandoned), 'committed'],
  ['reconciled twice while running', session(request, analysis, allow, started, abandonedRolledBack, abandonedRolledBack), 'rolled_back'],
  ['reconciled twice, outcome unknown both times', session(request, analysis, allow, started, result, abandonedUnknown, abandonedUnknown), 'unknown'],
  // A COMMIT slower than the timeout plus grace: reconciliation and the gateway both close it, in either order.
  ['committed, then reconciled as committed', session(request, analysis, allow, started, result, committed, abandoned), 'committed'],
  ['reconciled as committed, then committed', session(request, analysis, allow, started, result, abandoned, committed), 'committed'],
  ['reconciled as rolled back, then rolled back', session(request, analysis, allow, started, result, abandonedRolledBack, rolledBack), 'rolled_back'],
  ['held', session(request, analysis, approve, requested), 'pending_approval'],
  ['approved by two, redeemed', session(request, analysis, approve, requested, granted, granted, redeemed), 'approved'],
  ['rejected', session(request, analysis, approve, requested, rejected), 'rejected'],
];

for (const [name, events, status] of genuine) {
  test(`the gateway's own order: ${name}`, (t) => {
    t.is(protocolBreak(events), undefined);
    t.is(sessionStatus(events), status);
  });
}

const appended: [string, Ev[], number][] = [
  ['rolled_back appended after a committed write', session(request, analysis, allow, started, result, committed, rolledBack), 6],
  ['failed appended after a committed write', session(request, analysis, allow, started, result, committed, failed), 6],
  ['committed appended after a rollback', session(request, analysis, allow, started, result, rolledBack, committed), 6],
  ['an execution appended to a denied session', session(request, analysis, deny, started, result, committed), 3],
  ['a committed appended straight after a deny', session(request, analysis, deny, committed), 3],
  ['an execution of a statement held for approval', session(request, analysis, approve, requested, granted, started, result, committed), 5],
  ['a vote appended to a finished write', session(request, analysis, allow, started, result, committed, granted), 6],
  ['a second request', session(request, request, analysis, allow), 1],
  ['a second decision', session(request, analysis, deny, allow, started), 3],
  ['a result without a start', session(request, analysis, allow, result, committed), 3],
  ['a commit without a result', session(request, analysis, allow, started, committed), 4],
  ['a session that does not start with a request', session(analysis, allow, started, result), 0],
  ['an execution after unparsable SQL', session(request, unparsable, allow, started), 2],
  ['anything after a refused request', session(refused, analysis, allow), 1],
  ['a request whose data fits no schema', [{ seq: 0, type: 'request' as EventType, data: null as unknown as Record<string, unknown> }], 0],
  ['a write that never produced a result reconciled as committed', session(request, analysis, allow, started, abandoned), 4],
  ['a write that never produced a result reconciled as unknown', session(request, analysis, allow, started, abandonedUnknown), 4],
  ['a read reconciled as committed while running', session(request, analysis, allow, readStarted, abandoned), 4],
  ['a read\'s result reconciled (reconciliation never closes one)', session(request, analysis, allow, readStarted, result, abandonedRolledBack), 5],
  ['a read\'s result committed', session(request, analysis, allow, readStarted, result, committed), 5],
  ['a read\'s result failed for another reason than the log', session(request, analysis, allow, readStarted, result, E('execution.failed', { error: { code: 'execution_failed', message: 'x' } })), 5],
  ['a read\'s result failed without saying why', session(request, analysis, allow, readStarted, result, failed), 5],
  ['a read committed without a result', session(request, analysis, allow, readStarted, committed), 4],
  ['a reconciliation appended again with another outcome', session(request, analysis, allow, started, result, abandoned, abandonedRolledBack), 6],
  ['an unknown reconciliation turned into committed', session(request, analysis, allow, started, result, abandonedUnknown, abandoned), 6],
  ['a reconciliation contradicting a committed write', session(request, analysis, allow, started, result, committed, abandonedRolledBack), 6],
  ['a committed after a reconciliation that found it rolled back', session(request, analysis, allow, started, result, abandonedRolledBack, committed), 6],
  ['anything after a legacy completion but its failure', session(request, analysis, allow, started, completed, rolledBack), 5],
  ['something after a legacy completion\'s failure', session(request, analysis, allow, started, completed, failed, completed), 6],
  ['a second committed around a reconciliation', session(request, analysis, allow, started, result, committed, abandoned, committed), 7],
];

for (const [name, events, seq] of appended) {
  test(`out of order, named at its first event: ${name}`, (t) => {
    const found = protocolBreak(events);
    t.is(found?.seq, seq);
    t.is(found?.type, events[seq]!.type);
    t.regex(found!.message, /the gateway never writes a session in this order/);
    t.is(sessionStatus(events), 'unknown', 'the last event claims something; nothing is believed');
  });
}

// The same appends in other spellings: a writer does not have to use the gateway's own casing,
// data shapes or action names, and none of them may read as an outcome.
const spelled: [string, Ev[], number][] = [
  ['an action spelled ALLOW', session(request, analysis, E('decision', { action: 'ALLOW' }), started, result, committed), 3],
  ['a type spelled Execution.committed', session(request, analysis, allow, started, result, { type: 'Execution.committed' as EventType, data: {} }), 5],
  ['a decision whose data is an array', session(request, analysis, { type: 'decision', data: ['allow'] as unknown as Record<string, unknown> }, started), 2],
  ['a request carrying its own allow decision', session(E('request', { action: 'allow' }), started, result, committed), 1],
];

for (const [name, events, seq] of spelled) {
  test(`out of order in another spelling: ${name}`, (t) => {
    t.is(protocolBreak(events)?.seq, seq);
    t.is(sessionStatus(events), 'unknown');
  });
}
