// What people and clients are shown about approvals is believed only from signed votes (issue 14).
// The attacker holds the query path's INSERT on the session log (here: the store's own append,
// chain hashes included) but not the approval desk's key. Redemption already refuses every forged
// vote (forgery.e2e); these check that no view claims one either: GET /v1/sessions/:id and its
// long poll (what a client waiting for approval acts on), `sessions show` and `sessions list`.
import { generateKeyPairSync } from 'node:crypto';
import test from 'ava';
import { voteEvent } from '../../shared/approvals/events.ts';
import { signedVoteOf, signVote } from '../../shared/approvals/vote-signature.ts';
import { createLocalVoteSigner } from '../../shared/adapters/vote-signing/index.ts';
import type { Principal } from '../../shared/identity/principal.ts';
import type { EventDraft } from '../../shared/audit/events.ts';
import type { Approval } from '../../shared/approvals/types.ts';
import { listSessions, showSession } from '../../shared/cli/sessions.ts';
import { showApprovalCommand } from '../../shared/cli/approvals.ts';
import { deskKey } from '../../shared/cli/desk-key.ts';
import { botApprovalPolicy } from './bot-approval-policy.ts';
import { startTestGateway, TEST_SIGNING_KEY, type TestGateway } from '../helpers/gateway.ts';
import { firestoreSuite } from '../helpers/firestore-suite.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const model = { 'x-agent-model': 'gemini-2.5-pro-002' };

const policy = botApprovalPolicy;

const DESK = { pem: TEST_SIGNING_KEY };
const OTHER_KEY = { pem: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };

register('PostgreSQL store', async () => ({}));
firestoreSuite('Proven status, Firestore store', (emulator) => {
  register('Firestore store', async () => {
    await emulator.ready();
    return { approvalStore: { kind: 'firestore' as const, projectId: 'gatehouse-test', databaseId: `proven-${Date.now().toString(36)}` } };
  });
});

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
  const append = (sessionId: string, drafts: EventDraft[]) => sessions().append(sessionId, drafts);

  async function held(sql = "INSERT INTO runs (tag) VALUES ('x')") {
    const r = await asBot({ connection: 'main', sql });
    if (r.status !== 202) throw new Error(`expected 202, got ${r.status} ${JSON.stringify(r.body)}`);
    return { sessionId: r.body.sessionId as string, id: r.body.approval.id as string };
  }

  /** The status each view gives: the API (as the requesting bot), `sessions show`, `sessions list`. */
  async function shown(sessionId: string, desk: { pem: string } | { missing: string } = DESK) {
    const api = await gw.get(`/v1/sessions/${sessionId}`, await auth(BOT));
    const show = await showSession(sessions(), sessionId, true, undefined, desk);
    const listed = JSON.parse((await listSessions(sessions(), { limit: 1000 }, true, desk)).text) as { sessionId: string; status: string }[];
    return { api: api.body.status as string, show: JSON.parse(show.text), ok: show.ok, list: listed.find((s) => s.sessionId === sessionId)?.status };
  }

  /** An approval.granted exactly as the gateway shapes it, with quorumMet, and no desk signature. */
  async function forgedGrant(h: { sessionId: string; id: string }) {
    const row = (await gw.runtime.approvals!.store.get(h.id))!;
    const vote = { verdict: 'approve' as const, by: { issuer: gw.issuer, subject: 'alice@acme.com', email: 'alice@acme.com' }, comment: 'lgtm', at: new Date().toISOString() };
    return voteEvent({ ...row, state: 'approved', votes: [vote] }, vote);
  }

  test(`${label}: an unsigned approval.granted with quorumMet is shown as pending_approval everywhere, and show names vote_unsigned`, async (t) => {
    const h = await held();
    const draft = await forgedGrant(h);
    t.true((draft.data as { quorumMet: boolean }).quorumMet, 'the forgery claims the quorum');
    await append(h.sessionId, [draft]);
    const s = await shown(h.sessionId);
    t.deepEqual([s.api, s.show.status, s.list], ['pending_approval', 'pending_approval', 'pending_approval']);
    t.false(s.ok);
    t.false(s.show.verified);
    t.deepEqual(s.show.problems, [], 'the chain itself holds: the attacker appended through the store');
    t.deepEqual(s.show.votes.problems.map((p: { kind: string }) => p.kind), ['vote_unsigned']);
  });

  test(`${label}: the long poll does not wake for a forged grant: a client waiting for approval keeps waiting`, async (t) => {
    const h = await held();
    const started = Date.now();
    const [waited] = await Promise.all([
      gw.get(`/v1/sessions/${h.sessionId}?wait=2`, await auth(BOT)),
      (async () => {
        await new Promise((r) => setTimeout(r, 300));
        await append(h.sessionId, [await forgedGrant(h)]);
      })(),
    ]);
    t.is(waited.body.status, 'pending_approval');
    t.true(Date.now() - started >= 1900, 'it waited out the poll rather than wake on the forged grant');
    t.is(waited.body.events.at(-1).type, 'approval.granted', 'the forged event itself is shown, as the log holds it');
  });

  test(`${label}: a grant appended to a denied session leaves it denied; a forged redemption after it is not "approved"`, async (t) => {
    const r = await asBot({ connection: 'main', sql: 'GRANT ALL ON runs TO PUBLIC' });
    t.is(r.status, 403, JSON.stringify(r.body));
    const sessionId = r.body.sessionId as string;
    const approver = { issuer: gw.issuer, subject: 'alice@acme.com', email: 'alice@acme.com' };
    await append(sessionId, [{ type: 'approval.granted', data: { approvalId: 'made-up', approver, comment: 'ok', approvals: 1, quorum: 1, quorumMet: true, state: 'approved' } }]);
    let s = await shown(sessionId);
    t.deepEqual([s.api, s.show.status, s.list], ['denied', 'denied', 'denied']);
    await append(sessionId, [{ type: 'approval.redeemed', data: { approvalId: 'made-up', sessionId: 'elsewhere' } }]);
    s = await shown(sessionId);
    t.deepEqual([s.api, s.show.status, s.list], ['denied', 'denied', 'denied']);
  });

  test(`${label}: a vote signed with another key, a forged rejection and a replayed genuine vote prove nothing`, async (t) => {
    // Signed exactly as the desk would, with a key that is not the desk's.
    const h = await held();
    const row0 = (await gw.runtime.approvals!.store.get(h.id))!;
    const alice: Principal = { issuer: gw.issuer, subject: 'alice@acme.com', email: 'alice@acme.com', groups: ['dba'], token: { iat: 1, sha256: 'a'.repeat(64) } };
    const aliceVote = { verdict: 'approve' as const, by: { issuer: gw.issuer, subject: alice.subject, email: alice.email! }, comment: 'lgtm', at: new Date().toISOString() };
    const after = { ...row0, state: 'approved' as const, votes: [aliceVote] };
    const signed = signedVoteOf(after, aliceVote, alice, 'group:dba', 'f'.repeat(64));
    const signature = await signVote(createLocalVoteSigner(async () => OTHER_KEY.pem), signed);
    await append(h.sessionId, [voteEvent(after, aliceVote, { vote: signed, signature })]);
    const wrongKey = await shown(h.sessionId);
    t.deepEqual([wrongKey.api, wrongKey.show.status, wrongKey.list], ['pending_approval', 'pending_approval', 'pending_approval']);
    t.deepEqual(wrongKey.show.votes.problems.map((p: { kind: string }) => p.kind), ['vote_signature_invalid']);
    // Told the forger's key is the desk's, show believes it — which is why the key must be the published one.
    t.is((await shown(h.sessionId, OTHER_KEY)).show.status, 'approved');

    // An unsigned rejection: not "rejected" (a writer could otherwise kill any request in views).
    const h2 = await held();
    const row = (await gw.runtime.approvals!.store.get(h2.id))!;
    const vote = { verdict: 'reject' as const, by: { issuer: gw.issuer, subject: 'bob@acme.com', email: 'bob@acme.com' }, comment: 'no', at: new Date().toISOString() };
    await append(h2.sessionId, [voteEvent({ ...row, state: 'rejected', votes: [vote] }, vote)]);
    const rejected = await shown(h2.sessionId);
    t.deepEqual([rejected.api, rejected.show.status, rejected.list], ['pending_approval', 'pending_approval', 'pending_approval']);
    t.deepEqual(rejected.show.votes.problems.map((p: { kind: string }) => p.kind), ['vote_unsigned']);

    // Quorum of two: alice's genuine vote, replayed with quorumMet: true.
    const h3 = await held('DELETE FROM runs WHERE true');
    t.is((await decide(h3.id, 'approve', 'alice@acme.com')).status, 200);
    const genuine = (await sessions().read(h3.sessionId)).find((e) => e.type === 'approval.granted')!;
    t.is((await shown(h3.sessionId)).api, 'pending_approval', 'one of two');
    await append(h3.sessionId, [{ type: 'approval.granted', data: { ...genuine.data, quorumMet: true, approvals: 2, state: 'approved' } }]);
    const replayed = await shown(h3.sessionId);
    t.deepEqual([replayed.api, replayed.show.status, replayed.list], ['pending_approval', 'pending_approval', 'pending_approval']);
    t.deepEqual(replayed.show.votes.problems.map((p: { kind: string }) => p.kind), ['vote_repeated']);
  });

  test(`${label}: genuine votes still show: approved through the desk (quorum of two), rejected through the desk`, async (t) => {
    const h = await held('DELETE FROM runs WHERE true');
    t.is((await decide(h.id, 'approve', 'alice@acme.com')).status, 200);
    t.is((await decide(h.id, 'approve', 'bob@acme.com')).status, 200);
    const s = await shown(h.sessionId);
    t.deepEqual([s.api, s.show.status, s.list], ['approved', 'approved', 'approved']);
    t.true(s.ok);
    t.is(s.show.votes.checked, 2);
    t.deepEqual(s.show.votes.problems, []);

    const h2 = await held();
    t.is((await decide(h2.id, 'reject', 'bob@acme.com')).status, 200);
    const r = await shown(h2.sessionId);
    t.deepEqual([r.api, r.show.status, r.list], ['rejected', 'rejected', 'rejected']);

    // Redeemed: approved, and the redemption session itself ran.
    const h3 = await held("INSERT INTO runs (tag) VALUES ('z')");
    t.is((await decide(h3.id, 'approve', 'alice@acme.com')).status, 200);
    const ran = await asBot({ connection: 'main', sql: "INSERT INTO runs (tag) VALUES ('z')", approvalId: h3.id });
    t.is(ran.status, 200, JSON.stringify(ran.body));
    const redeemed = await shown(h3.sessionId);
    t.deepEqual([redeemed.api, redeemed.show.status, redeemed.list], ['approved', 'approved', 'approved']);
  });

  test(`${label}: without the desk's key nothing about votes is proven: show fails closed with vote_public_key_missing`, async (t) => {
    const h = await held();
    t.is((await decide(h.id, 'approve', 'alice@acme.com')).status, 200);
    const missing = deskKey(undefined, undefined);
    t.true('missing' in missing);
    const s = await shown(h.sessionId, missing);
    t.is(s.api, 'approved', 'the gateway holds the desk key');
    t.is(s.show.status, 'pending_approval');
    t.is(s.list, 'pending_approval');
    t.false(s.ok);
    t.deepEqual(s.show.votes.problems.map((p: { kind: string }) => p.kind), ['vote_public_key_missing']);
    const unreadable = deskKey('/nonexistent/desk.pem', undefined);
    t.deepEqual(unreadable, { missing: '--vote-public-key /nonexistent/desk.pem cannot be read' });
  });

  test(`${label}: a vote or redemption for an approval the session never asked for is passed over: the genuine decision still shows`, async (t) => {
    const approver = { issuer: gw.issuer, subject: 'alice@acme.com', email: 'alice@acme.com' };
    const foreignGrant: EventDraft = { type: 'approval.granted', data: { approvalId: 'never-asked', approver, comment: 'ok', approvals: 1, quorum: 1, quorumMet: true, state: 'approved' } };
    const foreignReject: EventDraft = { type: 'approval.rejected', data: { approvalId: 'never-asked', approver, comment: 'no', state: 'rejected' } };
    const foreignRedeem: EventDraft = { type: 'approval.redeemed', data: { approvalId: 'never-asked', sessionId: 'elsewhere' } };

    // Genuinely approved, then a foreign rejection and a foreign redemption: still approved.
    const a = await held();
    t.is((await decide(a.id, 'approve', 'alice@acme.com')).status, 200);
    await append(a.sessionId, [foreignReject]);
    let s = await shown(a.sessionId);
    t.deepEqual([s.api, s.show.status, s.list], ['approved', 'approved', 'approved']);
    await append(a.sessionId, [foreignRedeem]);
    s = await shown(a.sessionId);
    t.deepEqual([s.api, s.show.status, s.list], ['approved', 'approved', 'approved']);

    // Genuinely rejected, then a foreign grant claiming the quorum: still rejected.
    const r = await held();
    t.is((await decide(r.id, 'reject', 'bob@acme.com')).status, 200);
    await append(r.sessionId, [foreignGrant]);
    s = await shown(r.sessionId);
    t.deepEqual([s.api, s.show.status, s.list], ['rejected', 'rejected', 'rejected']);

    // A second approval.requested and a vote for it: the session's approval is its first request.
    const p = await held();
    const requested = (await sessions().read(p.sessionId)).find((e) => e.type === 'approval.requested')!;
    await append(p.sessionId, [{ type: 'approval.requested', data: { ...requested.data, approvalId: 'second' } }, { ...foreignGrant, data: { ...foreignGrant.data, approvalId: 'second' } }]);
    s = await shown(p.sessionId);
    t.deepEqual([s.api, s.show.status, s.list], ['pending_approval', 'pending_approval', 'pending_approval']);
  });

  test(`${label}: an event of a type Gatehouse never writes makes the status unknown in every view, never an error`, async (t) => {
    const h = await held();
    t.is((await decide(h.id, 'approve', 'alice@acme.com')).status, 200);
    await append(h.sessionId, [{ type: 'approval.escalated', data: { approvalId: h.id } } as unknown as EventDraft]);
    const s = await shown(h.sessionId);
    t.deepEqual([s.api, s.show.status, s.list], ['unknown', 'unknown', 'unknown']);
    const polled = await gw.get(`/v1/sessions/${h.sessionId}?wait=1`, await auth(BOT));
    t.is(polled.status, 200);
    t.is(polled.body.status, 'unknown');
  });

  test(`${label}: GET /v1/approvals/:id says whether the log proves the row: an edited row, a vote nobody signed, an unsigned vote event`, async (t) => {
    const asAlice = async () => auth('alice@acme.com', { groups: ['dba'], email: 'alice@acme.com' });
    const standing = async (id: string) => (await gw.get(`/v1/approvals/${id}`, await asAlice())).body.approval.log;
    const store = () => gw.runtime.approvals!.store;
    const fake = { verdict: 'approve' as const, by: { issuer: gw.issuer, subject: 'bob@acme.com', email: 'bob@acme.com' }, comment: 'lgtm', at: new Date().toISOString() };

    const fresh = await held();
    t.deepEqual(await standing(fresh.id), { agrees: true, signedVotes: 0 });

    // UPDATE on the store: a vote nobody cast, then other SQL shown to the reviewer.
    const voted = await held();
    await store().update(voted.id, (a) => ({ ...a, state: 'approved', votes: [fake] }));
    t.like(await standing(voted.id), { agrees: false, reason: 'row_vote_not_in_log' });
    const text = await showApprovalCommand({ url: gw.url, token: await gw.token('alice@acme.com', { groups: ['dba'], email: 'alice@acme.com' }) }, voted.id, false);
    t.regex(text.split('\n')[0]!, /^WARNING {5}the session log does not prove this approval \(row_vote_not_in_log\)/);
    const edited = await held();
    await store().update(edited.id, (a) => ({ ...a, sql: 'SELECT 1' }));
    t.like(await standing(edited.id), { agrees: false, reason: 'row_disagrees' });

    // INSERT on the log: an unsigned approval.granted.
    const unsigned = await held();
    await append(unsigned.sessionId, [await forgedGrant(unsigned)]);
    t.like(await standing(unsigned.id), { agrees: false, reason: 'vote_unsigned' });

    // Genuine votes, either way.
    const approved = await held();
    t.is((await decide(approved.id, 'approve', 'alice@acme.com')).status, 200);
    t.deepEqual(await standing(approved.id), { agrees: true, signedVotes: 1 });
    const rejected = await held();
    t.is((await decide(rejected.id, 'reject', 'bob@acme.com')).status, 200);
    t.deepEqual(await standing(rejected.id), { agrees: true, signedVotes: 1 });
    t.notRegex(await showApprovalCommand({ url: gw.url, token: await gw.token('alice@acme.com', { groups: ['dba'], email: 'alice@acme.com' }) }, approved.id, false), /WARNING/);
  });

  test(`${label}: log.agrees covers everything a reviewer is shown: state, votes as cast, requester email, agent, analysis, estimate, redemption`, async (t) => {
    const asAlice = async () => auth('alice@acme.com', { groups: ['dba'], email: 'alice@acme.com' });
    const standing = async (id: string) => (await gw.get(`/v1/approvals/${id}`, await asAlice())).body.approval.log;
    const store = () => gw.runtime.approvals!.store;
    const edits: [string, (a: Approval) => Approval][] = [
      ['analysis', (a) => ({ ...a, analysis: { ...a.analysis, class: 'read', reasons: ['a plain SELECT'] } })],
      ['agent', (a) => ({ ...a, agent: { ...a.agent, model: 'gemini-2.5-flash-001' } })],
      ['requester.email', (a) => ({ ...a, requester: { ...a.requester, email: 'mallory@acme.com' } })],
      ['estimate', (a) => ({ ...a, estimate: { state: 'estimated', rows: 1, topNode: 'Result', tables: [] } })],
      ['state', (a) => ({ ...a, state: 'rejected' })],
      ['redemption', (a) => ({ ...a, redemption: { at: new Date().toISOString(), sessionId: 'elsewhere' } })],
    ];
    for (const [field, edit] of edits) {
      const h = await held();
      t.deepEqual(await standing(h.id), { agrees: true, signedVotes: 0 }, `${field}: before the edit`);
      await store().update(h.id, edit);
      const after = await standing(h.id);
      t.like(after, { agrees: false, reason: 'row_disagrees' }, field);
      t.true(after.message.includes(field), `${field}: ${after.message}`);
    }

    // A genuine vote, then its comment or time rewritten in the store.
    for (const [field, edit] of [
      ['comment', (a: Approval) => ({ ...a, votes: a.votes.map((v) => ({ ...v, comment: 'checked the backups first' })) })],
      ['time', (a: Approval) => ({ ...a, votes: a.votes.map((v) => ({ ...v, at: new Date(Date.parse(v.at) - 3_600_000).toISOString() })) })],
    ] as const) {
      const h = await held();
      t.is((await decide(h.id, 'approve', 'alice@acme.com')).status, 200);
      t.deepEqual(await standing(h.id), { agrees: true, signedVotes: 1 });
      await store().update(h.id, edit);
      t.like(await standing(h.id), { agrees: false, reason: 'row_disagrees' }, field);
    }

    // Genuine states all agree: one vote of a quorum of two, and used after the redemption ran.
    const two = await held('DELETE FROM runs WHERE false');
    t.is((await decide(two.id, 'approve', 'alice@acme.com')).status, 200);
    t.deepEqual(await standing(two.id), { agrees: true, signedVotes: 1 });
    const used = await held("INSERT INTO runs (tag) VALUES ('u')");
    t.is((await decide(used.id, 'approve', 'alice@acme.com')).status, 200);
    t.is((await asBot({ connection: 'main', sql: "INSERT INTO runs (tag) VALUES ('u')", approvalId: used.id })).status, 200);
    t.deepEqual(await standing(used.id), { agrees: true, signedVotes: 1 });
    // ... and a used row reset to approved, or its redemption repointed, does not.
    await store().update(used.id, (a) => ({ ...a, redemption: { ...a.redemption!, sessionId: 'elsewhere' } }));
    t.like(await standing(used.id), { agrees: false, reason: 'row_disagrees' });
    await store().update(used.id, (a) => {
      const { redemption: _gone, ...rest } = a;
      return { ...rest, state: 'approved' };
    });
    t.like(await standing(used.id), { agrees: false, reason: 'row_disagrees' });
  });
}
