// Attack review of issue 14: one request, one approval, one run. The statement digest is an HMAC
// the query path's database rights cannot compute, but it was computed over the statement alone:
// whoever holds INSERT on the session log and the approval store could copy a genuine request —
// digest and all — into a session of their own under a new approval id (or, once the genuine one
// was used, under the same id), with a row to match. The copy is the same statement, its log
// agreed, the desk signed real reviewers' votes for it — and the statement approved once ran
// twice. Now the digest binds the approval id and the requesting session too: a copy is
// `digest_not_statement` everywhere (show, list, the desk, redemption).
import test from 'ava';
import type { SessionEvent } from '../../shared/audit/events.ts';
import { gatewayForFile } from './bot-approval-policy.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const model = { 'x-agent-model': 'gemini-2.5-pro-002' };

const gateway = gatewayForFile();

const auth = async (sub: string) => ({ authorization: `Bearer ${await gateway().token(sub, { email: sub, groups: sub === BOT ? [] : ['dba'] })}` });
const ran = async (tag: string) => Number((await gateway().sql('SELECT count(*) AS n FROM runs WHERE tag = $1', [tag])).rows[0].n);
const store = () => gateway().runtime.approvals!.store;
const sessions = () => gateway().runtime.sessions;

async function held(tag: string, params: unknown[] = []) {
  const sql = params.length > 0 ? 'INSERT INTO runs (tag) VALUES ($1)' : `INSERT INTO runs (tag) VALUES ('${tag}')`;
  const r = await gateway().post('/v1/query', { connection: 'main', sql, params }, { ...(await auth(BOT)), ...model });
  if (r.status !== 202) throw new Error(`expected 202, got ${r.status} ${JSON.stringify(r.body)}`);
  return { sql, params, id: r.body.approval.id as string, sessionId: r.body.sessionId as string };
}
const redeem = async (h: { sql: string; params: unknown[] }, id: string) => gateway().post('/v1/query', { connection: 'main', sql: h.sql, params: h.params, approvalId: id }, { ...(await auth(BOT)), ...model });
const approve = async (id: string, who = 'alice@acme.com') => gateway().post(`/v1/approvals/${id}/approve`, { comment: 'ok' }, await auth(who));
const standing = async (id: string) => (await gateway().get(`/v1/approvals/${id}`, await auth('alice@acme.com'))).body.approval.log;

/** What INSERT on the session log allows: a session of one's own holding a copy of the request, chain and all. */
async function copySession(events: readonly SessionEvent[], approvalId: string): Promise<string> {
  const sessionId = `copy-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const kept = events.filter((e) => ['request', 'analysis', 'decision', 'approval.requested'].includes(e.type));
  await sessions().append(sessionId, kept.map((e) => ({ type: e.type, data: e.type === 'approval.requested' ? { ...(e.data as object), approvalId } : e.data })));
  return sessionId;
}

for (const [label, params] of [['literal SQL', []], ['a parameter', ['dup-param']]] as const) {
  test(`a copy of a genuine request under a new approval id (${label}) is not proven, not signed and runs nothing: the statement runs once`, async (t) => {
    const tag = params.length > 0 ? 'dup-param' : `dup-new-id`;
    const h = await held(tag, [...params]);
    const genuine = (await store().get(h.id))!;
    const id = `copy-${Date.now()}`;
    const copy = await copySession(await sessions().read(h.sessionId), id);
    await store().create({ ...genuine, id, sessionId: copy });
    t.like(await standing(id), { agrees: false, reason: 'digest_not_statement' });
    const listed = (await gateway().get('/v1/approvals?status=pending&limit=999', await auth('alice@acme.com'))).body.approvals as { id: string; log: unknown }[];
    t.like(listed.find((a) => a.id === id), { log: { agrees: false, reason: 'digest_not_statement' } });
    const vote = await approve(id);
    t.is(vote.status, 409, JSON.stringify(vote.body));
    t.is(vote.body.error?.details?.reason, 'digest_not_statement');
    t.false((await sessions().read(copy)).some((e) => e.type === 'approval.granted'), 'the desk signed nothing for the copy');
    t.is((await approve(h.id)).status, 200);
    t.is((await redeem(h, h.id)).status, 200);
    const second = await redeem(h, id);
    t.is(second.status, 409, JSON.stringify(second.body));
    t.is(second.body.error?.code, 'approval_mismatch');
    t.is(await ran(tag), 1, 'approved once, run once');
  });
}

test('a used approval copied into another session under the same id, its row set back to pending, is not signed again and runs nothing', async (t) => {
  const h = await held('dup-same-id');
  t.is((await approve(h.id)).status, 200);
  t.is((await redeem(h, h.id)).status, 200);
  t.is(await ran('dup-same-id'), 1);
  const copy = await copySession(await sessions().read(h.sessionId), h.id); // without its approval.redeemed
  await store().update(h.id, (a) => {
    const { redemption: _used, ...rest } = a;
    return { ...rest, sessionId: copy, state: 'pending', votes: [] };
  });
  t.like(await standing(h.id), { agrees: false, reason: 'digest_not_statement' });
  const vote = await approve(h.id, 'bob@acme.com');
  t.is(vote.status, 409, JSON.stringify(vote.body));
  t.false((await sessions().read(copy)).some((e) => e.type === 'approval.granted'), 'the desk signed nothing for the copy');
  const again = await redeem(h, h.id);
  t.is(again.status, 409, JSON.stringify(again.body));
  t.is(await ran('dup-same-id'), 1, 'approved once, run once');
});
