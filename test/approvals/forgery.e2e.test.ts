// Approval forgery (issue 14): the attacker holds what the query path's database roles hold —
// UPDATE and INSERT on the approval store, INSERT on the session log (here: the stores' own
// adapters, which is exactly what those rights allow, chain hashes included) — but not the
// approval desk's signing key nor the digest key. Every forgery must run nothing on the target
// (checked in the target database) and be recorded: the redemption is a session whose decision
// is `deny` with the refusal's code and the log check that caught it.
import { createHash, generateKeyPairSync } from 'node:crypto';
import test from 'ava';
import { voteEvent } from '../../shared/approvals/events.ts';
import { signedVoteOf, signVote, type SignedVote } from '../../shared/approvals/vote-signature.ts';
import { createLocalVoteSigner } from '../../shared/adapters/vote-signing/index.ts';
import type { Approval } from '../../shared/approvals/types.ts';
import type { Principal } from '../../shared/identity/principal.ts';
import { startTestGateway, TEST_AUDIENCE, TEST_SIGNING_KEY, type TestGateway, type TestGatewayOptions } from '../helpers/gateway.ts';
import { firestoreSuite } from '../helpers/firestore-suite.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const model = { 'x-agent-model': 'gemini-2.5-pro-002' };

const policy = (issuer: string) => `version: 1
issuers:
  - issuer: ${issuer}
    audience: ${TEST_AUDIENCE}
    jwksUri: ${issuer}/jwks.json
    groupsClaim: groups
groups:
  review-bots: [${BOT}]
  dba: [alice@acme.com, bob@acme.com]
  auditors: [carol@acme.com]
connections:
  main:
    credentials: env://GATEHOUSE_TEST_TARGET_URL
    maxRows: 100
    statementTimeoutMs: 5000
rules:
  - name: bots-read
    principals: [group:review-bots]
    classes: [read]
    action: allow
  - name: bots-write
    principals: [group:review-bots]
    classes: [write]
    action: approve
    approvers: [group:dba]
    quorum: 1
    ttl: 10m
  - name: bots-delete-two-dbas
    principals: [group:review-bots]
    classes: [destructive]
    action: approve
    approvers: [group:dba]
    quorum: 2
    ttl: 10m
  - name: nothing-else
    action: deny
agents:
  requireModel: true
  allowedModels: ["gemini-*"]
`;

// The same attacks against each approval store: PostgreSQL, and Firestore on Google's emulator
// (where the emulator is installed; reported as skipped otherwise).
registerForgery('PostgreSQL store', async () => ({}));
firestoreSuite('Approval forgery, Firestore store', (emulator) => {
  registerForgery('Firestore store', async () => {
    await emulator.ready();
    return { approvalStore: { kind: 'firestore', projectId: 'gatehouse-test', databaseId: `forgery-${Date.now().toString(36)}` } };
  });
});

function registerForgery(label: string, extra: () => Promise<Partial<TestGatewayOptions>>): void {
  let gw: TestGateway;
  test.before(async () => {
    gw = await startTestGateway({ seedSql: 'CREATE TABLE runs (tag text NOT NULL)', policy, ...(await extra()) });
  });
  test.after.always(async () => {
    await gw?.close();
  });

  const auth = async (sub: string, o: { groups?: string[]; email?: string } = {}) => ({ authorization: `Bearer ${await gw.token(sub, o)}` });
  const asBot = async (body: unknown) => gw.post('/v1/query', body, { ...(await auth(BOT)), ...model });
  const decide = async (id: string, verdict: 'approve' | 'reject', sub: string, o: { groups?: string[]; email?: string } = {}) =>
    gw.post(`/v1/approvals/${id}/${verdict}`, { comment: `${verdict} by ${sub}` }, await auth(sub, o));
  const store = () => gw.runtime.approvals!.store;
  const sessions = () => gw.runtime.sessions;
  const ran = async (tag: string) => Number((await gw.sql('SELECT count(*) AS n FROM runs WHERE tag = $1', [tag])).rows[0].n);

  const alice: Principal = { issuer: '', subject: 'alice@acme.com', email: 'alice@acme.com', groups: ['dba'] };
  const person = (p: Principal) => ({ issuer: gw.issuer, subject: p.subject, ...(p.email ? { email: p.email } : {}) });

  async function held(tag: string) {
    const sql = 'INSERT INTO runs (tag) VALUES ($1)';
    const r = await asBot({ connection: 'main', sql, params: [tag] });
    if (r.status !== 202) throw new Error(`expected 202, got ${r.status} ${JSON.stringify(r.body)}`);
    return { sessionId: r.body.sessionId as string, id: r.body.approval.id as string, sql, params: [tag] };
  }

  /** The bot presents the approval; asserts nothing ran and the refusal is the redemption session's decision. */
  async function refusedRedemption(t: import('ava').ExecutionContext, h: { id: string; sql: string; params: unknown[] }, tag: string, code: string, reason?: string) {
    const r = await asBot({ connection: 'main', sql: h.sql, params: h.params, approvalId: h.id });
    t.is(r.status, 409, JSON.stringify(r.body));
    t.is(r.body.error.code, code);
    if (reason) t.is(r.body.error.details.reason, reason);
    t.is(await ran(tag), 0, 'nothing ran on the target');
    const evs = await sessions().read(r.body.sessionId);
    t.deepEqual(evs.map((e) => e.type), ['request', 'analysis', 'decision'], 'recorded, and never started');
    const decision = evs[2]!.data as any;
    t.is(decision.action, 'deny');
    t.like(decision.approval, { id: h.id, error: { code, ...(reason ? { reason } : {}) } });
    t.false(JSON.stringify(decision).includes('granted by'), 'the log never says "granted by" for a vote that did not happen');
    return r;
  }

  /** What the query path's UPDATE right allows: any change to the row, through the store itself. */
  async function rewriteRow(id: string, change: (a: Approval) => Approval) {
    await store().update(id, change);
  }

  const fakeVote = (by = alice) => ({ verdict: 'approve' as const, by: person(by), comment: 'lgtm', at: new Date().toISOString() });

  test(`${label}: update_row: a stored approval set to approved with a fake vote runs nothing (quorum_not_in_log)`, async (t) => {
    const h = await held('forged-update');
    await rewriteRow(h.id, (a) => ({ ...a, state: 'approved', votes: [fakeVote()] }));
    await refusedRedemption(t, h, 'forged-update', 'approval_mismatch', 'quorum_not_in_log');
    const stored = await store().get(h.id);
    t.is(stored?.state, 'approved', 'the refused redemption did not mark it used');
  });

  test(`${label}: insert_row: an approval row the gateway never created runs nothing (not_in_log), plain-sha256 digest or not`, async (t) => {
    const h = await held('forged-insert-base');
    const base = (await store().get(h.id))!;
    const sql = 'INSERT INTO runs (tag) VALUES ($1)';
    const params = ['forged-insert'];
    // The old digest: sha256 of the canonical statement, which anyone can compute.
    const plain = createHash('sha256').update(JSON.stringify({ connection: 'main', params, requester: { issuer: gw.issuer, subject: BOT }, sql })).digest('hex');
    for (const [i, sessionId] of [[1, h.sessionId], [2, 'a-session-that-does-not-exist']] as const) {
      const forged: Approval = { ...base, id: `forged-${i}-${Date.now()}`, sessionId, params, digest: plain, state: 'approved', votes: [fakeVote()] };
      await store().create(forged);
      await refusedRedemption(t, { id: forged.id, sql, params }, 'forged-insert', 'approval_mismatch');
    }
  });

  test(`${label}: change_digest: a row pointed at other SQL (digest included) runs nothing; the desk refuses to sign a doctored row`, async (t) => {
    // 1. Approved for one statement; the row is rewritten to another one with the plain digest.
    const h = await held('digest-benign');
    t.is((await decide(h.id, 'approve', 'alice@acme.com')).status, 200);
    const evil = { sql: 'INSERT INTO runs (tag) VALUES ($1)', params: ['digest-evil'] };
    await rewriteRow(h.id, (a) => ({ ...a, ...evil, digest: createHash('sha256').update(evil.params[0]!).digest('hex') }));
    const r = await refusedRedemption(t, { id: h.id, ...evil }, 'digest-evil', 'approval_mismatch');
    t.regex(r.body.error.message, /digest/, 'the SQL matches the row; the HMAC digest (which the store cannot compute) does not');
    // 2. The row shows the reviewer other SQL but keeps the digest: the desk will not sign it.
    const h2 = await held('digest-shown');
    await rewriteRow(h2.id, (a) => ({ ...a, sql: 'INSERT INTO runs (tag) VALUES ($1) -- harmless', params: ['digest-harmless'] }));
    const vote = await decide(h2.id, 'approve', 'alice@acme.com');
    t.is(vote.status, 409);
    t.is(vote.body.error.code, 'approval_mismatch');
    t.deepEqual(vote.body.error.details.differs, ['sql', 'params']);
    t.false((await sessions().read(h2.sessionId)).some((e) => e.type === 'approval.granted'), 'no vote was signed or logged');
    t.is((await store().get(h2.id))?.state, 'pending');
  });

  test(`${label}: vote_outside_group: a vote by someone outside the approver group, in the row or signed into the log, runs nothing`, async (t) => {
    // Through the API: refused, and recorded as a session of its own.
    const h = await held('outsider');
    const tried = await decide(h.id, 'approve', 'mallory@acme.com');
    t.is(tried.status, 403);
    t.is(tried.body.error.code, 'approver_not_allowed');
    t.truthy(tried.body.sessionId);
    // In the row:
    await rewriteRow(h.id, (a) => ({ ...a, state: 'approved', votes: [fakeVote({ ...alice, subject: 'mallory@acme.com', email: 'mallory@acme.com', groups: [] })] }));
    await refusedRedemption(t, h, 'outsider', 'approval_mismatch', 'quorum_not_in_log');
    // Signed with the desk's own key (as if the desk had erred): the log check still refuses it.
    const h2 = await held('outsider-signed');
    const mallory: Principal = { issuer: gw.issuer, subject: 'mallory@acme.com', email: 'mallory@acme.com', groups: [], token: { iat: 1, sha256: 'f'.repeat(64) } };
    await appendSignedVote(h2.id, mallory, TEST_SIGNING_KEY);
    await rewriteRow(h2.id, (a) => ({ ...a, state: 'approved', votes: [fakeVote(mallory)] }));
    await refusedRedemption(t, { ...h2 }, 'outsider-signed', 'approval_mismatch', 'vote_not_approver');
  });

  test(`${label}: append_unsigned: a correctly chained approval.granted without a signature runs nothing (vote_unsigned)`, async (t) => {
    const h = await held('unsigned');
    const row = (await store().get(h.id))!;
    const vote = fakeVote();
    const after = { ...row, state: 'approved' as const, votes: [vote] };
    // Exactly what the gateway would append, minus the desk's signature; the log chains it.
    const appended = await sessions().append(h.sessionId, [voteEvent(after, vote)]);
    t.is(appended[0]!.type, 'approval.granted');
    await rewriteRow(h.id, () => after);
    await refusedRedemption(t, h, 'unsigned', 'approval_mismatch', 'vote_unsigned');
  });

  test(`${label}: append_wrongly_signed: a vote signed with another key, or a genuine signature over changed content, runs nothing`, async (t) => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const aliceToken: Principal = { ...alice, issuer: gw.issuer, token: { iat: 1, sha256: 'a'.repeat(64) } };
    const h = await held('other-key');
    await appendSignedVote(h.id, aliceToken, other);
    await rewriteRow(h.id, (a) => ({ ...a, state: 'approved', votes: [fakeVote()] }));
    await refusedRedemption(t, h, 'other-key', 'approval_mismatch', 'vote_signature_invalid');

    // A genuine signed vote of one approval, its content edited to name another: the signature no longer fits.
    const real = await held('genuine');
    t.is((await decide(real.id, 'approve', 'bob@acme.com')).status, 200);
    const genuine = (await sessions().read(real.sessionId)).find((e) => e.type === 'approval.granted')!;
    const h2 = await held('edited-vote');
    const edited = { ...(genuine.data as any), approvalId: h2.id, vote: { ...(genuine.data as any).vote, approvalId: h2.id } };
    await sessions().append(h2.sessionId, [{ type: 'approval.granted', data: edited }]);
    await rewriteRow(h2.id, (a) => ({ ...a, state: 'approved', votes: [fakeVote({ ...alice, subject: 'bob@acme.com', email: 'bob@acme.com' })] }));
    await refusedRedemption(t, h2, 'edited-vote', 'approval_mismatch', 'vote_signature_invalid');

    // The same genuine event copied whole (valid signature, but for the other approval and statement).
    const h3 = await held('copied-vote');
    await sessions().append(h3.sessionId, [{ type: 'approval.granted', data: { ...(genuine.data as any), approvalId: h3.id } }]);
    await rewriteRow(h3.id, (a) => ({ ...a, state: 'approved', votes: [fakeVote({ ...alice, subject: 'bob@acme.com', email: 'bob@acme.com' })] }));
    await refusedRedemption(t, h3, 'copied-vote', 'approval_mismatch', 'vote_for_other_statement');
  });

  test(`${label}: quorum of two: one real vote plus a forged second (row or unsigned event) runs nothing`, async (t) => {
    const sql = 'DELETE FROM runs WHERE true';
    const r = await asBot({ connection: 'main', sql, params: [] });
    t.is(r.status, 202, JSON.stringify(r.body));
    const h = { id: r.body.approval.id as string, sql, params: [] as unknown[], sessionId: r.body.sessionId as string };
    await gw.sql("INSERT INTO runs VALUES ('keep-me')");
    t.is((await decide(h.id, 'approve', 'alice@acme.com')).status, 200);
    const bobVote = fakeVote({ ...alice, subject: 'bob@acme.com', email: 'bob@acme.com' });
    await rewriteRow(h.id, (a) => ({ ...a, state: 'approved', votes: [...a.votes, bobVote] }));
    await sessions().append(h.sessionId, [voteEvent({ ...(await store().get(h.id))!, state: 'approved' }, bobVote)]);
    const out = await asBot({ connection: 'main', sql, params: [], approvalId: h.id });
    t.is(out.status, 409);
    t.is(out.body.error.details.reason, 'vote_unsigned');
    t.is(await ran('keep-me'), 1, 'the DELETE did not run');
  });

  test(`${label}: the genuine path still works: approved through the desk, redeemed, its decision names the signed approver`, async (t) => {
    const h = await held('genuine-run');
    t.is((await decide(h.id, 'approve', 'alice@acme.com')).status, 200);
    const granted = (await sessions().read(h.sessionId)).find((e) => e.type === 'approval.granted')!;
    const vote = (granted.data as any).vote as SignedVote;
    t.like(vote, { approvalId: h.id, verdict: 'approve', as: 'group:dba', approver: { email: 'alice@acme.com', groups: ['dba'] } });
    t.is(vote.token.iss, gw.issuer);
    t.regex(vote.token.sha256, /^[0-9a-f]{64}$/);
    t.is((granted.data as any).signature.alg, 'ES256');
    const r = await asBot({ connection: 'main', sql: h.sql, params: h.params, approvalId: h.id });
    t.is(r.status, 200, JSON.stringify(r.body));
    t.is(await ran('genuine-run'), 1);
    const decision = (await sessions().read(r.body.sessionId))[2]!.data as any;
    t.deepEqual(decision.approval.grantedBy, [{ issuer: gw.issuer, subject: 'alice@acme.com', email: 'alice@acme.com' }]);
  });

  /** Appends an approval.granted for `by`, signed with `pem`, exactly as the desk would shape it. */
  async function appendSignedVote(id: string, by: Principal, pem: string, at = new Date().toISOString()) {
    const row = (await store().get(id))!;
    const vote = { verdict: 'approve' as const, by: { ...person(by), issuer: by.issuer || gw.issuer }, comment: 'signed elsewhere', at };
    const after = { ...row, state: 'approved' as const, votes: [vote] };
    const signed = signedVoteOf(after, vote, by, 'group:dba', 'f'.repeat(64));
    const signature = await signVote(createLocalVoteSigner(async () => pem), signed);
    await sessions().append(row.sessionId, [voteEvent(after, vote, { vote: signed, signature })]);
  }

  test(`${label}: reset_used_row: a used approval set back to approved in the store runs nothing a second time (the log says it was used)`, async (t) => {
    const h = await held('reset');
    t.is((await decide(h.id, 'approve', 'alice@acme.com')).status, 200);
    const first = await asBot({ connection: 'main', sql: h.sql, params: h.params, approvalId: h.id });
    t.is(first.status, 200);
    t.is(await ran('reset'), 1);
    const redeemed = (await sessions().read(h.sessionId)).filter((e) => e.type === 'approval.redeemed');
    t.deepEqual(redeemed.map((e) => e.data), [{ approvalId: h.id, sessionId: first.body.sessionId }]);
    await rewriteRow(h.id, (a) => {
      const { redemption: _r, ...rest } = a;
      return { ...rest, state: 'approved' };
    });
    const again = await asBot({ connection: 'main', sql: h.sql, params: h.params, approvalId: h.id });
    t.is(again.status, 409);
    t.is(again.body.error.code, 'approval_used');
    t.is(again.body.error.details.reason, 'redeemed_in_log');
    t.is(await ran('reset'), 1, 'it ran once');
    t.like((await sessions().read(again.body.sessionId))[2]!.data as any, { action: 'deny', approval: { error: { code: 'approval_used', reason: 'redeemed_in_log' } } });
  });

  // Attack review of issue 14 (below).
  test(`${label}: relabel_vote: a genuine signed vote copied into an event that shows another approver runs nothing (vote_event_disagrees)`, async (t) => {
    const h = await held('relabelled');
    t.is((await decide(h.id, 'approve', 'bob@acme.com')).status, 200);
    const genuine = (await sessions().read(h.sessionId)).find((e) => e.type === 'approval.granted')!;
    // The signature still holds (the vote is untouched); only what people read names alice. Before
    // the review this ran, and the log said alice had approved: a vote that never happened.
    for (const approver of [person(alice), { ...person(alice), subject: 'bob@acme.com' }, { issuer: gw.issuer, subject: 'bob@acme.com' }]) {
      await sessions().append(h.sessionId, [{ type: 'approval.granted', data: { ...(genuine.data as any), approver } }]);
      await refusedRedemption(t, h, 'relabelled', 'approval_mismatch', 'vote_event_disagrees');
    }
    t.is((await store().get(h.id))?.state, 'approved', 'the row was never marked used');
  });

  test(`${label}: replay_vote: a genuine signed vote appended again (verbatim, or with another comment and quorumMet) runs nothing (vote_repeated)`, async (t) => {
    for (const [i, change] of [{}, { comment: 'approved by the whole team', quorumMet: true, approvals: 2 }].entries()) {
      const tag = `replayed-${i}`;
      const h = await held(tag);
      t.is((await decide(h.id, 'approve', 'bob@acme.com')).status, 200);
      const genuine = (await sessions().read(h.sessionId)).find((e) => e.type === 'approval.granted')!;
      await sessions().append(h.sessionId, [{ type: 'approval.granted', data: { ...(genuine.data as any), ...change } }]);
      await refusedRedemption(t, h, tag, 'approval_mismatch', 'vote_repeated');
    }
  });

  test(`${label}: desk_erred: signed votes the desk should never have signed — by the requester (or a look-alike), after expiry — run nothing`, async (t) => {
    const botToken = (subject: string, email: string, issuer = gw.issuer): Principal => ({ issuer, subject, email, groups: ['dba'], token: { iat: 1, sha256: 'b'.repeat(64) } });
    for (const [i, by] of [botToken(BOT, BOT), botToken('other-sub', BOT.toUpperCase(), 'https://second.example'), botToken('x-1', `${BOT}.`, 'https://second.example'), botToken(BOT, 'unrelated@acme.com', 'https://second.example')].entries()) {
      const tag = `desk-self-${i}`;
      const h = await held(tag);
      await appendSignedVote(h.id, by, TEST_SIGNING_KEY);
      await rewriteRow(h.id, (a) => ({ ...a, state: 'approved', votes: [fakeVote(by)] }));
      await refusedRedemption(t, h, tag, 'approval_mismatch', 'vote_by_requester');
    }
    const h = await held('desk-late');
    const row = (await store().get(h.id))!;
    const aliceToken: Principal = { ...alice, issuer: gw.issuer, token: { iat: 1, sha256: 'a'.repeat(64) } };
    await appendSignedVote(h.id, aliceToken, TEST_SIGNING_KEY, new Date(Date.parse(row.expiresAt) + 1000).toISOString());
    await rewriteRow(h.id, (a) => ({ ...a, state: 'approved', votes: [fakeVote()] }));
    await refusedRedemption(t, h, 'desk-late', 'approval_mismatch', 'vote_after_expiry');
  });

  test(`${label}: row_extra_vote and requested_twice: a row listing an approval the log has no signed vote for, or a session that requests it twice, runs nothing`, async (t) => {
    const h = await held('row-extra');
    t.is((await decide(h.id, 'approve', 'alice@acme.com')).status, 200);
    await rewriteRow(h.id, (a) => ({ ...a, votes: [...a.votes, fakeVote({ ...alice, subject: 'bob@acme.com', email: 'bob@acme.com' })] }));
    await refusedRedemption(t, h, 'row-extra', 'approval_mismatch', 'row_vote_not_in_log');
    const h2 = await held('twice');
    t.is((await decide(h2.id, 'approve', 'alice@acme.com')).status, 200);
    const requested = (await sessions().read(h2.sessionId)).find((e) => e.type === 'approval.requested')!;
    await sessions().append(h2.sessionId, [{ type: 'approval.requested', data: requested.data }]);
    await refusedRedemption(t, h2, 'twice', 'approval_mismatch', 'requested_twice');
  });

  test(`${label}: retyped_rejection: a signed rejection re-appended as approval.granted (row set approved) runs nothing`, async (t) => {
    const h = await held('retyped');
    t.is((await decide(h.id, 'reject', 'bob@acme.com')).status, 200);
    const rejection = (await sessions().read(h.sessionId)).find((e) => e.type === 'approval.rejected')!;
    await sessions().append(h.sessionId, [{ type: 'approval.granted', data: { ...(rejection.data as any), state: 'approved', quorumMet: true } }]);
    await rewriteRow(h.id, (a) => ({ ...a, state: 'approved', votes: a.votes.map((v) => ({ ...v, verdict: 'approve' as const })) }));
    await refusedRedemption(t, h, 'retyped', 'approval_mismatch', 'vote_for_other_statement');
  });

  test(`${label}: other_statement: whitespace, a comment, a cast or other params than were approved run nothing`, async (t) => {
    const h = await held('variant');
    t.is((await decide(h.id, 'approve', 'alice@acme.com')).status, 200);
    const variants = [
      { sql: 'INSERT INTO runs (tag) VALUES ($1) ', params: h.params },
      { sql: 'INSERT INTO runs (tag)  VALUES ($1)', params: h.params },
      { sql: 'INSERT INTO runs (tag) VALUES ($1) -- ok', params: h.params },
      { sql: 'INSERT INTO runs (tag) VALUES ($1::text)', params: h.params },
      { sql: h.sql, params: ['variant '] },
      { sql: h.sql, params: ['Variant'] },
    ];
    for (const v of variants) {
      const r = await asBot({ connection: 'main', sql: v.sql, params: v.params, approvalId: h.id });
      t.is(r.status, 409, JSON.stringify(v));
      t.is(r.body.error.code, 'approval_mismatch', JSON.stringify(v));
    }
    t.is(Number((await gw.sql("SELECT count(*) AS n FROM runs WHERE lower(tag) LIKE 'variant%'")).rows[0].n), 0, 'no variant ran');
    const ok = await asBot({ connection: 'main', sql: h.sql, params: h.params, approvalId: h.id });
    t.is(ok.status, 200, 'the approved statement itself still runs');
    t.is(await ran('variant'), 1);
  });

  test(`${label}: race: 8 concurrent redemptions of one approval run it once; one approval.redeemed in the log`, async (t) => {
    const h = await held('race');
    t.is((await decide(h.id, 'approve', 'alice@acme.com')).status, 200);
    const results = await Promise.all(Array.from({ length: 8 }, () => asBot({ connection: 'main', sql: h.sql, params: h.params, approvalId: h.id })));
    t.deepEqual(results.map((r) => r.status).sort(), [200, 409, 409, 409, 409, 409, 409, 409], JSON.stringify(results.map((r) => r.body.error?.code)));
    t.true(results.filter((r) => r.status === 409).every((r) => r.body.error.code === 'approval_used'));
    t.is(await ran('race'), 1);
    const redeemed = (await sessions().read(h.sessionId)).filter((e) => e.type === 'approval.redeemed');
    t.is(redeemed.length, 1);
    t.is((redeemed[0]!.data as any).sessionId, results.find((r) => r.status === 200)!.body.sessionId);
  });

  test(`${label}: race_reject: a rejection racing the redemption either stops it or is refused — never both logged and run`, async (t) => {
    for (let i = 0; i < 4; i++) {
      const tag = `race-reject-${i}`;
      const h = await held(tag);
      t.is((await decide(h.id, 'approve', 'alice@acme.com')).status, 200);
      const [run, reject] = await Promise.all([asBot({ connection: 'main', sql: h.sql, params: h.params, approvalId: h.id }), decide(h.id, 'reject', 'bob@acme.com')]);
      const log = await sessions().read(h.sessionId);
      const rejected = log.filter((e) => e.type === 'approval.rejected').length;
      const redeemed = log.filter((e) => e.type === 'approval.redeemed').length;
      if (run.status === 200) {
        t.is(await ran(tag), 1);
        t.is(reject.status, 409, JSON.stringify(reject.body));
        t.deepEqual([rejected, redeemed], [0, 1], 'ran: the log holds its redemption and no rejection');
      } else {
        t.is(run.body.error.code, 'approval_rejected', JSON.stringify(run.body));
        t.is(reject.status, 200);
        t.is(await ran(tag), 0);
        t.deepEqual([rejected, redeemed], [1, 0], 'rejected: the log holds the rejection and no redemption');
      }
    }
  });

  test(`${label}: clone_session: a used approval's session copied whole (signed votes included, approval.redeemed left out) runs nothing`, async (t) => {
    const h = await held('clone');
    t.is((await decide(h.id, 'approve', 'alice@acme.com')).status, 200);
    t.is((await asBot({ connection: 'main', sql: h.sql, params: h.params, approvalId: h.id })).status, 200);
    t.is(await ran('clone'), 1);
    // Everything but approval.redeemed, re-appended (and so re-chained) into a fresh session.
    const clone = `clone-${Date.now()}`;
    const original = (await sessions().read(h.sessionId)).filter((e) => e.type !== 'approval.redeemed');
    await sessions().append(clone, original.map((e) => ({ type: e.type, data: e.data })));
    await rewriteRow(h.id, (a) => {
      const { redemption: _r, ...rest } = a;
      return { ...rest, sessionId: clone, state: 'approved' };
    });
    const r = await asBot({ connection: 'main', sql: h.sql, params: h.params, approvalId: h.id });
    t.is(r.status, 409);
    // The digest binds the requesting session (digest.ts): the row pointed at the clone fails that
    // before its copied votes (signed for the genuine session) are even read.
    t.is(r.body.error.details.reason, 'digest_not_statement');
    t.is(await ran('clone'), 1, 'it ran once, never again');
    t.like((await sessions().read(r.body.sessionId))[2]!.data as any, { action: 'deny', approval: { error: { code: 'approval_mismatch', reason: 'digest_not_statement' } } });
  });
}
