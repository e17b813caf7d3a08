// Attack review (second round) of the desk deciding from the log's signed votes: whoever holds the
// session log's INSERT right appends one unsigned `approval.granted` (chained like any other) to a
// pending approval. The desk then refuses every decision on it with `vote_unsigned` — approving
// rightly (a redemption would refuse it anyway), but rejecting too: a reviewer who saw the forged
// vote and wanted to end the request could not, and the bot waited on it until expiry. A rejection
// only ever stops a statement; the desk now signs it whatever unproven votes the log holds beside
// it (the request itself must still be the logged, digest-bound one), and the session reads
// `rejected` at once. Checked here too: the refusals are recorded as the decider's session and
// visible in the listing (NOT PROVEN (vote_unsigned)), nothing runs.
import test from 'ava';
import type { Approval, Vote } from '../../shared/approvals/types.ts';
import { voteEvent } from '../../shared/approvals/events.ts';
import { gatewayForFile } from './bot-approval-policy.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const model = { 'x-agent-model': 'gemini-2.5-pro-002' };

const gateway = gatewayForFile();

const bearer = async (sub: string) => ({ authorization: `Bearer ${await gateway().token(sub, sub === BOT ? {} : { groups: ['dba'], email: sub })}` });
const store = () => gateway().runtime.approvals!.store;
const ran = async (tag: string) => Number((await gateway().sql('SELECT count(*) AS n FROM runs WHERE tag = $1', [tag])).rows[0].n);
const signed = async (sessionId: string) => (await gateway().runtime.sessions.read(sessionId)).filter((e) => (e.type === 'approval.granted' || e.type === 'approval.rejected') && (e.data as { signature?: unknown }).signature !== undefined);

async function heldWithForgedVote(tag: string, verdict: 'approve' | 'reject') {
  const sql = `INSERT INTO runs (tag) VALUES ('${tag}')`;
  const r = await gateway().post('/v1/query', { connection: 'main', sql }, { ...(await bearer(BOT)), ...model });
  if (r.status !== 202) throw new Error(`expected 202, got ${r.status} ${JSON.stringify(r.body)}`);
  const h = { id: r.body.approval.id as string, sessionId: r.body.sessionId as string, sql };
  const row = (await store().get(h.id))!;
  // What the desk would append for mallory's (or anyone's) vote, minus its signature; the row is left as it was.
  const vote: Vote = { verdict, by: { issuer: gateway().issuer, subject: 'mallory@acme.com', email: 'mallory@acme.com' }, comment: 'x', at: new Date().toISOString() };
  const after: Approval = { ...row, votes: [vote], state: verdict === 'approve' ? 'approved' : 'rejected' };
  await gateway().runtime.sessions.append(h.sessionId, [voteEvent(after, vote)]);
  return h;
}

for (const forged of ['approve', 'reject'] as const) {
  test(`an unsigned ${forged} appended to a pending approval: approving is refused and recorded, rejecting is signed and ends it`, async (t) => {
    const h = await heldWithForgedVote(`unsigned-${forged}`, forged);

    const approve = await gateway().post(`/v1/approvals/${h.id}/approve`, { comment: 'ok' }, await bearer('alice@acme.com'));
    t.is(approve.status, 409, JSON.stringify(approve.body));
    t.like(approve.body.error, { code: 'approval_mismatch', details: { reason: 'vote_unsigned' } });
    t.truthy(approve.body.sessionId, 'the refusal is recorded as the decider\'s session');
    t.true((await gateway().runtime.sessions.read(approve.body.sessionId)).some((e) => e.type === 'request'));
    t.is((await signed(h.sessionId)).length, 0, 'no approval signed');

    const listed = await gateway().get('/v1/approvals?status=pending', await bearer('alice@acme.com'));
    t.like((listed.body.approvals as { id: string }[]).find((a) => a.id === h.id), { log: { agrees: false, reason: 'vote_unsigned' } });

    const reject = await gateway().post(`/v1/approvals/${h.id}/reject`, { comment: 'someone forged a vote here' }, await bearer('bob@acme.com'));
    t.is(reject.status, 200, JSON.stringify(reject.body));
    const votes = await signed(h.sessionId);
    t.is(votes.length, 1);
    t.is(votes[0]!.type, 'approval.rejected');
    const session = await gateway().get(`/v1/sessions/${h.sessionId}`, await bearer(BOT));
    t.is(session.body.status, 'rejected', 'the bot waiting on its session is told: rejected');

    // A second rejection by the same person (another spelling) is still refused; nothing runs.
    const again = await gateway().post(`/v1/approvals/${h.id}/reject`, { comment: 'again' }, await bearer('Bob@acme.com'));
    t.is(again.status, 409, JSON.stringify(again.body));
    const run = await gateway().post('/v1/query', { connection: 'main', sql: h.sql, approvalId: h.id }, { ...(await bearer(BOT)), ...model });
    t.is(run.status, 409, JSON.stringify(run.body));
    t.is(await ran(`unsigned-${forged}`), 0);
  });
}
