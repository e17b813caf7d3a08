// Attack review of the "approvals believed only from the log" views (issue 14), second round.
// The attacker holds the query path's INSERT on the session log (the store's own append, chain
// hashes included) and UPDATE on the approval store, but not the approval desk's key nor the
// digest key. Each test is one hole found: no view (GET /v1/approvals/:id log.agrees, the session
// status in every view, sessions show and replay) may claim what did not happen or crash, and no
// reviewer may be made to approve SQL other than what runs. PostgreSQL store only: the checks
// under test are store-independent.
import test from 'ava';
import type { EventDraft } from '../../shared/audit/events.ts';
import type { Approval } from '../../shared/approvals/types.ts';
import { listSessions, showSession } from '../../shared/cli/sessions.ts';
import { replayCommand } from '../../shared/cli/replay.ts';
import { botApprovalPolicy } from './bot-approval-policy.ts';
import { startTestGateway, TEST_SIGNING_KEY, type TestGateway } from '../helpers/gateway.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const model = { 'x-agent-model': 'gemini-2.5-pro-002' };

const policy = botApprovalPolicy;

const DESK = { pem: TEST_SIGNING_KEY };

register('PostgreSQL store', async () => ({}));

function register(label: string, extra: () => Promise<Record<string, unknown>>): void {
  let gw: TestGateway;
  test.before(async () => {
    gw = await startTestGateway({ seedSql: 'CREATE TABLE runs (tag text NOT NULL)', policy, ...(await extra()) });
  });
  test.after.always(async () => {
    await gw?.close();
  });

  const auth = async (sub: string, o: { groups?: string[]; email?: string } = {}) => ({ authorization: `Bearer ${await gw.token(sub, o)}` });
  const asBot = async (body: unknown) => gw.post('/v1/query', body, { ...(await auth(BOT)), ...model });
  const decide = async (id: string, verdict: 'approve' | 'reject', sub: string) => gw.post(`/v1/approvals/${id}/${verdict}`, { comment: `${verdict} by ${sub}` }, await auth(sub));
  const sessions = () => gw.runtime.sessions;
  const store = () => gw.runtime.approvals!.store;
  const append = (sessionId: string, drafts: EventDraft[]) => sessions().append(sessionId, drafts);
  const asAlice = async () => auth('alice@acme.com', { groups: ['dba'], email: 'alice@acme.com' });
  const standing = async (id: string) => (await gw.get(`/v1/approvals/${id}`, await asAlice())).body.approval.log;
  const ran = async (tag: string) => Number((await gw.sql('SELECT count(*) AS n FROM runs WHERE tag = $1', [tag])).rows[0].n);

  async function held(sql = "INSERT INTO runs (tag) VALUES ('x')") {
    const r = await asBot({ connection: 'main', sql });
    if (r.status !== 202) throw new Error(`expected 202, got ${r.status} ${JSON.stringify(r.body)}`);
    return { sessionId: r.body.sessionId as string, id: r.body.approval.id as string };
  }

  async function shown(sessionId: string, desk: { pem: string } | { missing: string } = DESK) {
    const api = await gw.get(`/v1/sessions/${sessionId}`, await auth(BOT));
    const show = await showSession(sessions(), sessionId, true, undefined, desk);
    const listed = JSON.parse((await listSessions(sessions(), { limit: 1000 }, true, desk)).text) as { sessionId: string; status: string }[];
    return { api: api.body.status as string, show: JSON.parse(show.text), ok: show.ok, list: listed.find((s) => s.sessionId === sessionId)?.status };
  }


  test(`${label}: substitution: a row repointed at a forged copy of its session that shows other SQL (same digest) is not agreed, not signed, and runs nothing`, async (t) => {
    const evil = "INSERT INTO runs (tag) VALUES ('evil-subst')";
    const benign = "INSERT INTO runs (tag) VALUES ('benign-subst')";
    const h = await held(evil);
    // The attacker's copy of the requesting session, the request rewritten to harmless SQL; the
    // approval.requested (and its digest, an HMAC of the evil statement) copied as it is.
    const forged = `forged-${Date.now()}`;
    const original = await sessions().read(h.sessionId);
    await append(forged, original.map((e) => ({ type: e.type, data: e.type === 'request' ? { ...e.data, sql: benign } : e.data })));
    await store().update(h.id, (a) => ({ ...a, sessionId: forged, sql: benign }));
    t.like(await standing(h.id), { agrees: false, reason: 'digest_not_statement' });
    const vote = await decide(h.id, 'approve', 'alice@acme.com');
    t.is(vote.status, 409, 'the desk does not sign an approval of SQL the digest is not over');
    t.is(vote.body.error.details.reason, 'digest_not_statement');
    t.false((await sessions().read(forged)).some((e) => e.type === 'approval.granted'));
    const r = await asBot({ connection: 'main', sql: evil, approvalId: h.id });
    t.is(r.status, 409, JSON.stringify(r.body));
    t.is(await ran('evil-subst'), 0, 'the statement the reviewer never saw did not run');
    // The genuine path still holds: an unedited approval is agreed, signed and redeemed.
    const g = await held("INSERT INTO runs (tag) VALUES ('genuine-subst')");
    t.deepEqual(await standing(g.id), { agrees: true, signedVotes: 0 });
    t.is((await decide(g.id, 'approve', 'alice@acme.com')).status, 200);
    t.is((await asBot({ connection: 'main', sql: "INSERT INTO runs (tag) VALUES ('genuine-subst')", approvalId: g.id })).status, 200);
    t.is(await ran('genuine-subst'), 1);
  });

  test(`${label}: used_unproven: an appended approval.redeemed and a row set to used are not agreed for an approval no signed quorum decided`, async (t) => {
    const redeemAt = async (h: { sessionId: string; id: string }) => {
      await append(h.sessionId, [{ type: 'approval.redeemed', data: { approvalId: h.id, sessionId: 'nowhere' } }]);
      await store().update(h.id, (a) => ({ ...a, state: 'used', redemption: { at: new Date().toISOString(), sessionId: 'nowhere' } }));
    };
    // No vote at all.
    const none = await held();
    await redeemAt(none);
    const shownNone = (await gw.get(`/v1/approvals/${none.id}`, await asAlice())).body.approval;
    t.is(shownNone.status, 'used', 'the row says used');
    t.like(shownNone.log, { agrees: false, reason: 'row_disagrees' }, 'the log does not prove it');
    t.regex(shownNone.log.message, /state/);
    // One signed vote of a quorum of two.
    const half = await held('DELETE FROM runs WHERE true');
    t.is((await decide(half.id, 'approve', 'alice@acme.com')).status, 200);
    await redeemAt(half);
    t.like(await standing(half.id), { agrees: false, reason: 'row_disagrees' });
    // A signed rejection.
    const rejected = await held();
    t.is((await decide(rejected.id, 'reject', 'bob@acme.com')).status, 200);
    await redeemAt(rejected);
    t.like(await standing(rejected.id), { agrees: false, reason: 'row_disagrees' });
    // The sessions' status is not "approved" either.
    for (const h of [none, half]) {
      const s = await shown(h.sessionId);
      t.deepEqual([s.api, s.show.status, s.list], ['pending_approval', 'pending_approval', 'pending_approval']);
    }
  });

  test(`${label}: vote_relabelled: a genuine vote shown in the row under another email, issuer or look-alike address is not agreed`, async (t) => {
    const edits: [string, (by: Approval['votes'][number]['by']) => Approval['votes'][number]['by']][] = [
      ['another email, same subject', (by) => ({ ...by, email: 'mallory@evil.example' })],
      ['no email', (by) => ({ issuer: by.issuer, subject: by.subject })],
      ['another issuer', (by) => ({ ...by, issuer: 'https://accounts.evil.example' })],
      ['a sub-address', (by) => ({ ...by, subject: 'alice+ops@acme.com', email: 'alice+ops@acme.com' })],
      ['a look-alike', (by) => ({ ...by, subject: 'аlice@acme.com', email: 'аlice@acme.com' })],
    ];
    for (const [what, edit] of edits) {
      const h = await held();
      t.is((await decide(h.id, 'approve', 'alice@acme.com')).status, 200);
      t.deepEqual(await standing(h.id), { agrees: true, signedVotes: 1 }, `${what}: before`);
      await store().update(h.id, (a) => ({ ...a, votes: a.votes.map((v) => ({ ...v, by: edit(v.by) })) }));
      const after = await standing(h.id);
      t.false(after.agrees, `${what}: ${JSON.stringify(after)}`);
    }
  });

  test(`${label}: odd_data: an event whose data is null, a string or an array does not take sessions show down`, async (t) => {
    for (const data of [null, 'x', [1, 2]]) {
      const h = await held();
      await append(h.sessionId, [{ type: 'approval.granted', data } as unknown as EventDraft]);
      const text = await showSession(sessions(), h.sessionId, false, undefined, DESK);
      t.false(text.ok, `${JSON.stringify(data)}: not verified`);
      t.regex(text.text, /^status {3}pending_approval$/m);
      t.regex(text.text, new RegExp(`#4 \\S+ approval\\.granted\\n {4}data: `), JSON.stringify(data));
      t.is((await replayCommand(sessions(), h.sessionId, false, DESK)).ok, false);
    }
  });

  test(`${label}: rejection_hidden: a genuine signed rejection stays rejected in every view whatever is appended after it`, async (t) => {
    const alice = { issuer: gw.issuer, subject: 'alice@acme.com', email: 'alice@acme.com' };
    const junk: [string, (h: { sessionId: string; id: string }, evs: readonly { type: string; data: unknown }[]) => EventDraft[]][] = [
      ['an unsigned grant', (h) => [{ type: 'approval.granted', data: { approvalId: h.id, approver: alice, comment: 'ok', approvals: 1, quorum: 1, quorumMet: true, state: 'approved' } }]],
      ['an approval.redeemed', (h) => [{ type: 'approval.redeemed', data: { approvalId: h.id, sessionId: 'nowhere' } }]],
      ['the request again, then the rejection replayed', (_h, evs) => {
        const requested = evs.find((e) => e.type === 'approval.requested')!;
        const rejected = evs.find((e) => e.type === 'approval.rejected')!;
        return [{ type: 'approval.requested', data: requested.data }, { type: 'approval.rejected', data: rejected.data }] as EventDraft[];
      }],
    ];
    for (const [what, drafts] of junk) {
      const h = await held();
      t.is((await decide(h.id, 'reject', 'bob@acme.com')).status, 200);
      await append(h.sessionId, drafts(h, await sessions().read(h.sessionId)));
      const s = await shown(h.sessionId);
      t.deepEqual([s.api, s.show.status, s.list], ['rejected', 'rejected', 'rejected'], what);
      // (An approval.redeemed is no vote: show reports vote problems only.)
      if (what !== 'an approval.redeemed') t.false(s.ok, `${what}: the junk vote is still reported`);
    }
    // A rejection signed for another session (copied in) proves nothing here.
    const other = await held();
    t.is((await decide(other.id, 'reject', 'bob@acme.com')).status, 200);
    const copied = (await sessions().read(other.sessionId)).find((e) => e.type === 'approval.rejected')!;
    const h = await held();
    await append(h.sessionId, [{ type: 'approval.rejected', data: { ...copied.data, approvalId: h.id } }]);
    const s = await shown(h.sessionId);
    t.deepEqual([s.api, s.show.status, s.list], ['pending_approval', 'pending_approval', 'pending_approval']);
  });

  test(`${label}: forged_redemption: a redemption session appended for an approval no signed quorum decided is replayed NOT PROVEN, never as granted`, async (t) => {
    const h = await held();
    const req = (await sessions().read(h.sessionId)).find((e) => e.type === 'request')!;
    const alice = { issuer: gw.issuer, subject: 'alice@acme.com', email: 'alice@acme.com' };
    const forged = `redeem-${Date.now()}`;
    await append(forged, [
      { type: 'request', data: { ...req.data, approvalId: h.id } },
      { type: 'decision', data: { action: 'allow', rule: 'bots-write', reasons: ['approved'], approval: { id: h.id, sessionId: h.sessionId, grantedBy: [alice] } } },
      { type: 'execution.started', data: { connection: 'main', readOnly: false } },
      { type: 'execution.result', data: { command: 'INSERT', rowCount: 1 } },
      { type: 'execution.committed', data: {} },
    ]);
    await append(h.sessionId, [{ type: 'approval.redeemed', data: { approvalId: h.id, sessionId: forged } }]);
    const r = await replayCommand(sessions(), forged, false, DESK);
    t.false(r.ok);
    t.regex(r.text, /redeemed .*granted by alice@acme\.com — NOT PROVEN \(redemption_unproven\)/);
    t.regex(r.text, /^votes {3}NOT PROVEN: redemption_unproven/m);
    const json = JSON.parse((await replayCommand(sessions(), forged, true, DESK)).text);
    t.deepEqual(json.votes.problems.map((p: { kind: string }) => p.kind), ['redemption_unproven']);

    // A genuine redemption replays as proven.
    const g = await held("INSERT INTO runs (tag) VALUES ('redeem-genuine')");
    t.is((await decide(g.id, 'approve', 'alice@acme.com')).status, 200);
    const ran = await asBot({ connection: 'main', sql: "INSERT INTO runs (tag) VALUES ('redeem-genuine')", approvalId: g.id });
    t.is(ran.status, 200);
    const genuine = await replayCommand(sessions(), ran.body.sessionId, false, DESK);
    t.true(genuine.ok, genuine.text);
    t.notRegex(genuine.text, /NOT PROVEN/);
  });
}
