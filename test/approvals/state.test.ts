// The approval state machine, digest, message and comment rules, without any store: every rule
// of issue 4 that can be decided from the record and the clock alone.
import test from 'ava';
import { approvalCount, castVote, redeem, statusAt } from '../../shared/approvals/state.ts';
import { approvalMessage, parseApprovalNotice } from '../../shared/approvals/message.ts';
import { parseDecisionBody } from '../../shared/approvals/comment.ts';
import { voteEvent } from '../../shared/approvals/events.ts';
import { statusAfter } from '../../shared/audit/status.ts';
import { alice, approveDecision, at, bob, bot, digestOf, held, mallory, OTHER, otherBot, T0 } from './fixtures.ts';

const vote = (verdict: 'approve' | 'reject', by = alice, minutes = 1) => ({ by, verdict, comment: 'looked at it', now: at(minutes) });
const redeemAs = (principal = bot, over: Record<string, unknown> = {}) => {
  const r = {
    principal,
    connection: 'main',
    sql: 'UPDATE notes SET body = $1 WHERE id = $2',
    params: ['x', 1] as (string | number)[],
    decision: approveDecision(),
    sessionId: 'session-2',
    now: at(2),
    ...over,
  };
  return { ...r, digest: digestOf({ connection: r.connection, sql: r.sql, params: r.params, requester: r.principal }) };
};

test('a new approval is pending, bound to a digest of connection, SQL, params and requester, expiring after the ttl', (t) => {
  const a = held();
  t.is(a.state, 'pending');
  t.is(a.expiresAt, at(30).toISOString());
  t.is(a.digest, digestOf({ connection: 'main', sql: a.sql, params: ['x', 1], requester: bot }));
  t.not(a.digest, digestOf({ connection: 'main', sql: a.sql, params: ['x', '1'], requester: bot }), 'a number and a string differ');
  t.not(a.digest, digestOf({ connection: 'main', sql: a.sql, params: ['x', 1], requester: otherBot }));
  t.is(a.notification.state, 'pending');
});

test('self-approval is refused, also under another issuer with the same email', (t) => {
  const a = held({ approvers: ['group:dba', 'group:review-bots'] });
  t.throws(() => castVote(a, vote('approve', bot)), { code: 'self_approval' });
  const sameEmailElsewhere = { issuer: OTHER, subject: 'different-sub', email: 'REVIEW-BOT@acme.iam', groups: ['dba'] };
  t.throws(() => castVote(a, vote('approve', sameEmailElsewhere)), { code: 'self_approval' });
  t.throws(() => castVote(a, vote('reject', bot)), { code: 'self_approval' } as never, 'nor may it reject its own');
});

test('only members of the approver groups may decide', (t) => {
  t.throws(() => castVote(held(), vote('approve', mallory)), { code: 'approver_not_allowed' });
  t.throws(() => castVote(held({ approvers: ['email:carol@acme.com'] }), vote('approve', alice)), { code: 'approver_not_allowed' });
  // Grants compare emails by emailKey(): the domain's case never matters, the local part's only
  // for providers known to ignore it (shared/identity/normalise.ts).
  t.is(castVote(held({ approvers: ['email:alice@ACME.com'] }), vote('approve', alice)).state, 'approved');
  t.throws(() => castVote(held({ approvers: ['email:ALICE@acme.com'] }), vote('approve', alice)), { code: 'approver_not_allowed' });
  const gmail = { ...alice, subject: 'g-1', email: 'alice.smith@gmail.com' };
  t.is(castVote(held({ approvers: ['email:Alice.Smith@GMAIL.com'] }), vote('approve', gmail)).state, 'approved');
});

test('quorum 2 needs two distinct people: the same approver twice counts once, also under another issuer', (t) => {
  let a = held({ quorum: 2 });
  a = castVote(a, vote('approve', alice));
  t.is(a.state, 'pending');
  t.is(approvalCount(a), 1);
  t.throws(() => castVote(a, vote('approve', alice)), { code: 'approval_already_decided' });
  const aliceElsewhere = { issuer: OTHER, subject: 'a-123', email: 'alice@acme.com', groups: ['dba'] };
  t.throws(() => castVote(a, vote('approve', aliceElsewhere)), { code: 'approval_already_decided' });
  a = castVote(a, vote('approve', bob));
  t.is(a.state, 'approved');
  t.is(approvalCount(a), 2);
  t.throws(() => castVote(a, vote('approve', { ...bob, subject: 'carl', email: 'carl@acme.com' })), { code: 'approval_already_decided' });
});

test('one rejection ends it, also after the quorum approved and before it is used', (t) => {
  const rejected = castVote(held({ quorum: 2 }), vote('reject', alice));
  t.is(rejected.state, 'rejected');
  t.throws(() => castVote(rejected, vote('approve', bob)), { code: 'approval_rejected' });
  const approved = castVote(held(), vote('approve', alice));
  t.is(castVote(approved, vote('reject', bob)).state, 'rejected');
});

test('expiry follows the injected clock exactly; deciding or using an expired approval is refused', (t) => {
  const a = held();
  t.is(statusAt(a, new Date(Date.parse(a.expiresAt) - 1)), 'pending');
  t.is(statusAt(a, new Date(a.expiresAt)), 'expired');
  t.throws(() => castVote(a, vote('approve', alice, 30)), { code: 'approval_expired' });
  const approved = castVote(a, vote('approve', alice, 29));
  t.throws(() => redeem(approved, redeemAs(bot, { now: at(31) })), { code: 'approval_expired' });
});

test('redeem: the same statement by the same bot uses it once; a replay is refused', (t) => {
  const approved = castVote(held(), vote('approve'));
  const used = redeem(approved, redeemAs());
  t.is(used.state, 'used');
  t.deepEqual(used.redemption, { at: at(2).toISOString(), sessionId: 'session-2' });
  t.throws(() => redeem(used, redeemAs()), { code: 'approval_used' });
  t.throws(() => castVote(used, vote('reject', bob)), { code: 'approval_used' });
});

test('redeem refuses other SQL, params, connection, another bot, a pending or rejected approval, and a changed rule', (t) => {
  const approved = castVote(held(), vote('approve'));
  const mismatch = (over: Record<string, unknown>, principal = bot) => t.throws(() => redeem(approved, redeemAs(principal, over)), { code: 'approval_mismatch' });
  t.deepEqual((mismatch({ params: ['x', 2] }) as any).details.differs, ['params']);
  t.deepEqual((mismatch({ sql: 'UPDATE notes SET body = $1 WHERE id = $2 ' }) as any).details.differs, ['sql']);
  t.deepEqual((mismatch({ connection: 'other' }) as any).details.differs, ['connection']);
  const other = mismatch({}, otherBot) as any;
  t.notRegex(other.message, /UPDATE/, 'nothing about the approval is told to another caller');
  mismatch({ decision: approveDecision({ quorum: 2 }) });
  mismatch({ decision: approveDecision({ rule: 'another-rule' }) });
  mismatch({ decision: approveDecision({ approvers: ['group:security'] }) });
  t.is(redeem(approved, redeemAs(bot, { decision: approveDecision({ approvers: ['group:dba', 'group:security'] }) })).state, 'used', 'a wider approver list still covers it');
  t.throws(() => redeem(held(), redeemAs()), { code: 'approval_pending' });
  t.throws(() => redeem(castVote(held(), vote('reject')), redeemAs()), { code: 'approval_rejected' });
});

test('a granted event keeps the session pending until the quorum is met', (t) => {
  const first = castVote(held({ quorum: 2 }), vote('approve', alice));
  t.is(statusAfter(voteEvent(first, first.votes[0]!)), 'pending_approval');
  const second = castVote(first, vote('approve', bob));
  t.is(statusAfter(voteEvent(second, second.votes[1]!)), 'approved');
  const no = castVote(held(), vote('reject', bob));
  t.is(statusAfter(voteEvent(no, no.votes[0]!)), 'rejected');
});

test('the published message: id, requester, model, SQL, risk, expiry, review URL; attributes connection and risk class; no params', (t) => {
  const m = approvalMessage(held(), 'https://gh.example/v1/approvals/ap-1');
  t.like(m.body, {
    approvalId: 'ap-1',
    requester: { issuer: bot.issuer, subject: bot.subject, email: bot.email },
    model: 'gemini-2.5-pro-002',
    sql: 'UPDATE notes SET body = $1 WHERE id = $2',
    risk: { class: 'write' },
    expiresAt: at(30).toISOString(),
    reviewUrl: 'https://gh.example/v1/approvals/ap-1',
  });
  t.deepEqual(m.attributes, { connection: 'main', riskClass: 'write', approvalId: 'ap-1' });
  t.false(JSON.stringify(m.body).includes('"x"'), 'parameters stay on the review page');
  t.deepEqual(parseApprovalNotice(JSON.parse(JSON.stringify(m.body))), m.body);
  t.is(parseApprovalNotice({ kind: 'something else' }), undefined);
});

test('decision body: the comment is required, at most 2000 characters, and nothing else is accepted', (t) => {
  t.is(parseDecisionBody({ comment: 'ok' }), 'ok');
  t.throws(() => parseDecisionBody({}), { code: 'comment_required' });
  t.throws(() => parseDecisionBody({ comment: '   ' }), { code: 'comment_required' });
  t.throws(() => parseDecisionBody({ comment: 'x'.repeat(2001) }), { code: 'comment_too_long' });
  t.is(parseDecisionBody({ comment: 'x'.repeat(2000) }).length, 2000);
  t.throws(() => parseDecisionBody({ comment: 5 }), { code: 'bad_request' });
  t.throws(() => parseDecisionBody({ comment: 'ok', approve: true }), { code: 'bad_request' });
  t.throws(() => parseDecisionBody([]), { code: 'bad_request' });
  t.throws(() => parseDecisionBody({ comment: 'bad \ud800' }), { code: 'bad_request' });
});

test('T0 sanity: the fixtures use the injected time, not the wall clock', (t) => {
  t.is(held().createdAt, T0.toISOString());
});
