// The ttl bound of a redemption (logged.ts checkLifetime): an approval lives at most the rule's
// ttl (as the policy says at redemption) after its first signed approval, whatever expiry its
// approval.requested claims. The digest now keeps the query path's rights from writing such an
// approval.requested (test/approvals/duplicate-approval.e2e.test.ts); this bound stays behind it,
// and also holds a genuine approval to a ttl the policy has since shortened.
import test from 'ava';
import { checkLifetime, type LoggedApproval } from '../../shared/approvals/logged.ts';
import type { SignedVote } from '../../shared/approvals/vote-signature.ts';
import { isGatehouseError } from '../../shared/errors.ts';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const MIN = 60_000;
const logged = (expiresAt: number): LoggedApproval => ({
  approvalId: 'ap-1', sessionId: 's-1', requester: { issuer: 'i', subject: 'bot' }, connection: 'main', sql: 'UPDATE t SET x = 1', params: [],
  digest: 'd', rule: 'r', approvers: ['group:dba'], quorum: 1, expiresAt: new Date(expiresAt).toISOString(), policySha256: 'p',
});
const vote = (at: number, verdict: 'approve' | 'reject' = 'approve') => ({ verdict, at: new Date(at).toISOString() }) as unknown as SignedVote;
const refusedAs = (t: import('ava').ExecutionContext, f: () => void, label: string) => {
  const e = t.throws(f, undefined, label);
  t.true(isGatehouseError(e, 'approval_mismatch'), label);
  t.is((e as { details?: { reason?: string } }).details?.reason, 'expiry_beyond_ttl', label);
};

test('a genuine approval passes: expiry = creation + ttl, first vote after creation', (t) => {
  t.notThrows(() => checkLifetime(logged(T0 + 10 * MIN), [vote(T0 + 1)], 10 * MIN));
  t.notThrows(() => checkLifetime(logged(T0 + 10 * MIN), [vote(T0 + 9 * MIN), vote(T0 + 1 * MIN)], 10 * MIN), 'the earliest vote counts, in any order');
  t.notThrows(() => checkLifetime(logged(T0 + 10 * MIN), [vote(T0)], 10 * MIN), 'exactly ttl after the first vote');
});

test('an expiry beyond the ttl after the first signed approval is refused: ten years, one millisecond, a shortened policy ttl', (t) => {
  refusedAs(t, () => checkLifetime(logged(T0 + 10 * 365 * 24 * 60 * MIN), [vote(T0 + MIN)], 10 * MIN), 'ten years');
  refusedAs(t, () => checkLifetime(logged(T0 + 10 * MIN + 1), [vote(T0)], 10 * MIN), 'one millisecond over');
  refusedAs(t, () => checkLifetime(logged(T0 + 10 * MIN), [vote(T0 + MIN)], 5 * MIN), 'the policy now allows 5m');
});

test('fails closed: no ttl in the decision, no signed approval, only rejections, an unparseable time', (t) => {
  refusedAs(t, () => checkLifetime(logged(T0 + MIN), [vote(T0)], undefined), 'no ttl');
  refusedAs(t, () => checkLifetime(logged(T0 + MIN), [vote(T0)], 0), 'ttl 0');
  refusedAs(t, () => checkLifetime(logged(T0 + MIN), [], 10 * MIN), 'no votes');
  refusedAs(t, () => checkLifetime(logged(T0 + MIN), [vote(T0, 'reject')], 10 * MIN), 'only a rejection');
  refusedAs(t, () => checkLifetime(logged(T0 + MIN), [{ verdict: 'approve', at: 'not a time' } as unknown as SignedVote], 10 * MIN), 'unparseable vote time');
  refusedAs(t, () => checkLifetime({ ...logged(T0), expiresAt: 'never' }, [vote(T0)], 10 * MIN), 'unparseable expiry');
});
