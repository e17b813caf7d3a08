// Attack review of issue 14: the approval desk signs votes, and a redemption believes only signed
// votes in the log. But the desk decided *whom* to sign for from the row — the requester's email,
// the votes already cast, the state — and the row is a cache the query path's UPDATE right can
// edit. With the row's requester email removed, the requester's second account (same mailbox,
// another subject) got a desk-signed self-approval; with a signed vote removed from the row, the
// same person (another spelling, another issuer) got a second signed vote; with a signed rejection
// removed and the row set back to pending, people got signed approvals after it. No statement ran
// (redemption re-checks), but the log then held the desk's signature on votes the desk's own rules
// refuse. Now the desk refuses them from the log's signed votes, and records the refusal.
import test from 'ava';
import type { Approval } from '../../shared/approvals/types.ts';
import { startTestGateway, TEST_AUDIENCE, type TestGateway } from '../helpers/gateway.ts';
import { startSecondIssuer, type SecondIssuer } from './second-issuer.ts';

const ALICE = 'alice@acme.com';
const model = { 'x-agent-model': 'gemini-2.5-pro-002' };
const policy = (second: string) => (issuer: string) => `version: 1
issuers:
  - issuer: ${issuer}
    audience: ${TEST_AUDIENCE}
    jwksUri: ${issuer}/jwks.json
    groupsClaim: groups
    claimGroups: [dba, writers]
  - issuer: ${second}
    audience: ${TEST_AUDIENCE}
    jwksUri: ${second}/jwks.json
    groupsClaim: groups
    claimGroups: [writers]
groups:
  dba: [${ALICE}, bob@acme.com, carol@acme.com]
  writers: [writer@other.example]
connections:
  main:
    credentials: env://GATEHOUSE_TEST_TARGET_URL
rules:
  - name: writes-need-two
    principals: [group:dba, group:writers]
    classes: [write]
    action: approve
    approvers: [group:dba, group:writers]
    quorum: 2
    ttl: 10m
  - name: nothing-else
    action: deny
`;

let gw: TestGateway;
let second: SecondIssuer;
test.before(async () => {
  second = await startSecondIssuer();
  gw = await startTestGateway({ seedSql: 'CREATE TABLE runs (tag text NOT NULL)', policy: policy(second.issuer) });
});
test.after.always(async () => {
  await gw?.close();
  await second?.close();
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const fromSecond = (sub: string, email: string) => second.token({ sub, email, groups: ['writers'], aud: TEST_AUDIENCE });
const store = () => gw.runtime.approvals!.store;
const ran = async (tag: string) => Number((await gw.sql('SELECT count(*) AS n FROM runs WHERE tag = $1', [tag])).rows[0].n);
const signedVotes = async (sessionId: string) => (await gw.runtime.sessions.read(sessionId)).filter((e) => e.type === 'approval.granted' || e.type === 'approval.rejected').length;

async function ask(token: string, tag: string) {
  const r = await gw.post('/v1/query', { connection: 'main', sql: 'INSERT INTO runs VALUES ($1)', params: [tag] }, { ...bearer(token), ...model });
  if (r.status !== 202) throw new Error(`expected 202, got ${r.status} ${JSON.stringify(r.body)}`);
  return { id: r.body.approval.id as string, sessionId: r.body.sessionId as string, token, tag };
}
const approve = (id: string, token: string) => gw.post(`/v1/approvals/${id}/approve`, { comment: 'ok' }, bearer(token));
const reject = (id: string, token: string) => gw.post(`/v1/approvals/${id}/reject`, { comment: 'no' }, bearer(token));
const rewrite = (id: string, change: (a: Approval) => Approval) => store().update(id, change);

/** The decision was refused and recorded as the decider's own session; nothing was signed into the log. */
async function refusedUnsigned(t: import('ava').ExecutionContext, r: { status: number; body: any }, sessionId: string, signedBefore: number, code: string, label: string) {
  t.is(r.status, code === 'self_approval' ? 403 : 409, `${label}: ${JSON.stringify(r.body)}`);
  t.is(r.body.error?.code, code, label);
  t.truthy(r.body.sessionId, `${label}: the attempt is recorded`);
  t.is(await signedVotes(sessionId), signedBefore, `${label}: the desk signed nothing`);
}

test('a row whose requester email was removed or changed: the requester\'s other account gets no signed self-approval', async (t) => {
  for (const [i, edit] of [
    ['removed', (a: Approval) => ({ ...a, requester: { issuer: a.requester.issuer, subject: a.requester.subject, groups: a.requester.groups } })],
    ['changed', (a: Approval) => ({ ...a, requester: { ...a.requester, email: 'someone-else@other.example' } })],
    ['case-changed', (a: Approval) => ({ ...a, requester: { ...a.requester, email: 'Writer@Other.Example' } })],
  ] as const) {
    const h = await ask(await fromSecond(`writer-req-${i}`, 'writer@other.example'), `requester-${i}`);
    await rewrite(h.id, edit);
    // The same mailbox under another subject of the same issuer: the requester's second account.
    const r = await approve(h.id, await fromSecond(`writer-alt-${i}`, 'writer@other.example'));
    if (i === 'case-changed') {
      // Still the same person on the refusal side, row or no row.
      t.like(r, { status: 403, body: { error: { code: 'self_approval' } } }, i);
    } else {
      t.is(r.status, 409, `${i}: ${JSON.stringify(r.body)}`);
      t.is(r.body.error?.code, 'approval_mismatch', i);
      t.is(r.body.error?.details?.reason, 'row_disagrees', i);
      t.deepEqual(r.body.error?.details?.differs, ['requester.email'], i);
    }
    t.truthy(r.body.sessionId, `${i}: the attempt is recorded`);
    t.is(await signedVotes(h.sessionId), 0, `${i}: the desk signed nothing`);
  }
});

test('a signed vote removed from the row: the same person under another issuer and spelling gets no second signed vote', async (t) => {
  const h = await ask(await fromSecond('writer-q', 'writer@other.example'), 'second-vote');
  t.is((await approve(h.id, await gw.token(ALICE))).status, 200);
  t.is(await signedVotes(h.sessionId), 1);
  await rewrite(h.id, (a) => ({ ...a, state: 'pending', votes: [] }));
  for (const [i, email] of ['alice@acme.com', 'Alice@ACME.com', 'alice+2@acme.com'].entries()) {
    const r = await approve(h.id, await fromSecond(`alice-elsewhere-${i}`, email));
    await refusedUnsigned(t, r, h.sessionId, 1, 'approval_already_decided', email);
  }
  // The row wiped of alice's vote is no reason to sign alice again under her own token either.
  await refusedUnsigned(t, await approve(h.id, await gw.token(ALICE)), h.sessionId, 1, 'approval_already_decided', 'alice herself');
  t.is(await ran('second-vote'), 0);
});

test('a signed rejection removed from the row (set back to pending): nobody gets a signed approval after it', async (t) => {
  const h = await ask(await fromSecond('writer-r', 'writer@other.example'), 'after-reject');
  t.is((await reject(h.id, await gw.token('bob@acme.com'))).status, 200);
  await rewrite(h.id, (a) => ({ ...a, state: 'pending', votes: [] }));
  for (const who of [ALICE, 'carol@acme.com']) {
    await refusedUnsigned(t, await approve(h.id, await gw.token(who)), h.sessionId, 1, 'approval_rejected', who);
  }
  const run = await gw.post('/v1/query', { connection: 'main', sql: 'INSERT INTO runs VALUES ($1)', params: ['after-reject'], approvalId: h.id }, { ...bearer(h.token), ...model });
  t.is(run.status, 409);
  t.is(await ran('after-reject'), 0);
});

test('a quorum already signed, the row set back to pending with fewer votes: no third signed approval', async (t) => {
  const h = await ask(await fromSecond('writer-f', 'writer@other.example'), 'full-quorum');
  t.is((await approve(h.id, await gw.token(ALICE))).status, 200);
  t.is((await approve(h.id, await gw.token('bob@acme.com'))).status, 200);
  const genuine = (await store().get(h.id))!;
  await rewrite(h.id, (a) => ({ ...a, state: 'pending', votes: a.votes.slice(0, 1) }));
  await refusedUnsigned(t, await approve(h.id, await gw.token('carol@acme.com')), h.sessionId, 2, 'approval_already_decided', 'carol');
  // The row put back as the desk left it: the genuine quorum still runs, once — the refusal did
  // not spoil the approval.
  await rewrite(h.id, (a) => ({ ...a, state: genuine.state, votes: genuine.votes }));
  const run = await gw.post('/v1/query', { connection: 'main', sql: 'INSERT INTO runs VALUES ($1)', params: ['full-quorum'], approvalId: h.id }, { ...bearer(h.token), ...model });
  t.is(run.status, 200, JSON.stringify(run.body));
  t.is(await ran('full-quorum'), 1);
});
