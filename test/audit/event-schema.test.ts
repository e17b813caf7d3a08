// The one event schema (shared/audit/event-schema.ts): every writer's events fit it, readers get
// fields by name or nothing (never a guess, never a crash), and a stored event that does not fit
// it is a verification problem with its own stable code.
import test from 'ava';
import { chainEvents } from '../../shared/audit/chain.ts';
import * as ev from '../../shared/audit/drafts.ts';
import { dataOf, EVENT_DATA, schemaIssue } from '../../shared/audit/event-schema.ts';
import { EVENT_TYPES, type EventDraft, type SessionEvent } from '../../shared/audit/events.ts';
import { sessionStatus } from '../../shared/audit/status.ts';
import { checkNotRedeemed, loggedApproval, verifiedVotes } from '../../shared/approvals/logged.ts';
import { approvalFact } from '../../shared/evidence/approvals.ts';
import { sessionFacts } from '../../shared/evidence/facts.ts';
import { checkSessionBlock } from '../../shared/evidence/verify-session.ts';
import { GatehouseError } from '../../shared/errors.ts';

import { alice, analysis, dana, error, otherDrafts, writtenSession } from './written-events.ts';

/** As the log stores them: JSON round trip, seq, hash. */
const stored = (sessionId: string, drafts: readonly EventDraft[]) => chainEvents(sessionId, null, drafts, new Date('2030-01-01T00:01:00Z'));

test('every event type has a schema, and nothing else does', (t) => {
  t.deepEqual(Object.keys(EVENT_DATA).sort(), [...EVENT_TYPES].sort());
});

test("every writer's events fit the schema, as written and as stored", (t) => {
  const drafts = [...writtenSession().drafts, ...otherDrafts()];
  t.true(new Set(drafts.map((d) => d.type)).size >= EVENT_TYPES.length - 1, 'every type but the pre-protocol execution.completed is written here');
  for (const e of stored('s-1', drafts)) t.is(schemaIssue(e), undefined, `${e.type} ${JSON.stringify(schemaIssue(e))}`);
  // The pre-protocol record, as older logs hold it.
  t.is(schemaIssue({ type: 'execution.completed', data: { command: 'SELECT', rowCount: 1, rows: [[1]], columns: [{ name: 'a' }] } }), undefined);
});

test('readers get the fields by name, typed', (t) => {
  const events = stored('s-1', writtenSession().drafts);
  t.is(dataOf(events[0]!, 'request')?.principal?.subject, 'alice');
  t.deepEqual(dataOf(events[1]!, 'analysis')?.tables?.written, ['public.orders']);
  t.is(dataOf(events[2]!, 'decision')?.action, 'approve');
  t.is(dataOf(events[3]!, 'approval.requested')?.quorum, 1);
  t.is(dataOf(events[4]!, 'approval.granted')?.approver?.subject, 'dana');
  t.is(dataOf(events[5]!, 'approval.rejected')?.comment, 'no');
  t.is(dataOf(events[6]!, 'approval.redeemed')?.sessionId, 's-2');
  t.is(dataOf(events[0]!, 'decision'), undefined, 'another type is not read as this one');
  // The evidence reader names the approver the writer wrote.
  t.is(approvalFact(events[4]!).by?.subject, 'dana');
  t.deepEqual(approvalFact(events[3]!).approvers, ['group:dba']);
});

// What a store edited behind the log's back (or a buggy writer) could hold, each with the field named.
const malformed: [string, Pick<SessionEvent, 'type' | 'data'>, string][] = [
  ['a decision without an action', { type: 'decision', data: { rule: 'r' } }, 'data.action'],
  ['a decision whose action is not text', { type: 'decision', data: { action: 1 } }, 'data.action'],
  ['an approval vote with no approval id', { type: 'approval.granted', data: { approver: { issuer: 'i', subject: 's' } } }, 'data.approvalId'],
  ['an approval id that is a number', { type: 'approval.requested', data: { approvalId: 7 } }, 'data.approvalId'],
  ['an approver without a subject', { type: 'approval.rejected', data: { approvalId: 'a', approver: { issuer: 'i' } } }, 'data.approver.subject'],
  ['a principal that is a string', { type: 'request', data: { principal: 'alice' } }, 'data.principal'],
  ['params that are not a list', { type: 'request', data: { sql: 'SELECT $1', params: { 0: 1 } } }, 'data.params'],
  ['result rows that are not rows', { type: 'execution.result', data: { rows: [1, 2] } }, 'data.rows'],
  ['a negative row count', { type: 'execution.result', data: { rowCount: -1 } }, 'data.rowCount'],
  ['an outcome reconciliation never writes', { type: 'execution.abandoned', data: { outcome: 'COMMITTED' } }, 'data.outcome'],
  ['a redemption without the session that used it', { type: 'approval.redeemed', data: { approvalId: 'a' } }, 'data.sessionId'],
  ['a failure whose error has no code', { type: 'execution.failed', data: { error: { message: 'x' } } }, 'data.error.code'],
  ['data that is not an object', { type: 'execution.committed', data: [] as never }, 'data'],
  ['a type nobody writes', { type: 'execution.teleported' as never, data: {} }, 'type'],
];

for (const [what, event, field] of malformed) {
  test(`malformed: ${what} → named, and readers get nothing`, (t) => {
    const issue = schemaIssue(event);
    t.is(issue?.field, field, JSON.stringify(issue));
    t.is(dataOf(event, event.type), undefined);
  });
}

test('readers never throw, whatever the data is', (t) => {
  for (const data of [null, undefined, 'x', 42, [], Object.create(null), { __proto__: { action: 'allow' } }, JSON.parse('{"__proto__":{"action":"allow"}}')]) {
    for (const type of EVENT_TYPES) {
      t.notThrows(() => dataOf({ type, data }, type));
      t.notThrows(() => schemaIssue({ type, data }));
    }
    // A decision whose action only an inherited property would supply is no allow.
    t.not(sessionStatus([{ type: 'decision', data }]), 'decided');
  }
});

test('evidence verify: a chained, correctly hashed event that does not fit its schema is event_schema, not event_modified', (t) => {
  const events = stored('s-9', [ev.requestEvent({ endpoint: 'query', principal: alice, agent: {} }), { type: 'decision', data: { action: 'allow', approvers: 'group:dba' } }]);
  const found = events.map((event, i) => ({ event, line: i + 1 }));
  const { problems } = checkSessionBlock('s-9', found, { events: 2, head: events[1]!.hash });
  t.deepEqual(problems.map((p) => [p.kind, p.seq, p.field]), [['event_schema', 1, 'data.approvers']]);
  t.regex(problems[0]!.message, /does not fit its schema/);
  // And the readers built on the same events do not crash on it.
  t.notThrows(() => sessionFacts(events));
  t.is(sessionFacts(events).decision, undefined);
});

test('redemption: a malformed copy of the approval request is not skipped — the log is refused (event_malformed)', (t) => {
  const { drafts, publicKeyPem } = writtenSession();
  const events = stored('s-1', drafts.slice(0, 5));
  const logged = loggedApproval(events, 'appr-1', 's-1');
  t.is(logged.quorum, 1);
  t.is(verifiedVotes(events, logged, publicKeyPem).length, 1);
  // Appended after the genuine one, perfectly chained: a second request whose quorum is text.
  const forged = chainEvents('s-1', events.at(-1)!, [{ type: 'approval.requested', data: { approvalId: 'appr-1', quorum: '0' } }], new Date());
  const tampered = [...events, ...forged];
  for (const read of [() => loggedApproval(tampered, 'appr-1', 's-1'), () => verifiedVotes(tampered, logged, publicKeyPem), () => checkNotRedeemed(tampered, logged)]) {
    const e = t.throws(read) as GatehouseError;
    t.is(e.code, 'approval_mismatch');
    t.is(e.details?.reason, 'event_malformed');
  }
});

test('redemption: a vote spelled another way (`by` for `approver`, `id` for `approvalId`) is not read as a vote', (t) => {
  const { drafts } = writtenSession();
  const events = stored('s-1', drafts.slice(0, 4));
  const logged = loggedApproval(events, 'appr-1', 's-1');
  // Not by the approval desk's writer: fits no schema, so the whole log is refused rather than guessed at.
  const odd = chainEvents('s-1', events.at(-1)!, [{ type: 'approval.granted', data: { id: 'appr-1', by: { issuer: 'i', subject: 'mallory' } } }], new Date());
  t.is((t.throws(() => verifiedVotes([...events, ...odd], logged, 'unused')) as GatehouseError).details?.reason, 'event_malformed');
  t.is(approvalFact(odd[0]!).by, undefined, 'evidence names no approver the writer did not write');
  t.is(approvalFact(odd[0]!).approvalId, undefined);
});
