// Just-in-time approval end to end: real HTTP, real tokens from two JWKS issuers, real PostgreSQL
// for the target, the session log and the approval store. Every rule of issue 4.
import test from 'ava';
import { verifyChain } from '../../shared/audit/chain.ts';
import { startTestGateway, TEST_AUDIENCE, type TestGateway } from '../helpers/gateway.ts';
import { startSecondIssuer, type SecondIssuer } from './second-issuer.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const OTHER_BOT = 'other-bot@acme-prod.iam.gserviceaccount.com';
const model = { 'x-agent-model': 'gemini-2.5-pro-002' };

const policy = (second: string) => (issuer: string) => `version: 1
issuers:
  - issuer: ${issuer}
    audience: ${TEST_AUDIENCE}
    jwksUri: ${issuer}/jwks.json
    groupsClaim: groups
    claimGroups: [review-bots, dba, auditors]
  - issuer: ${second}
    audience: ${TEST_AUDIENCE}
    jwksUri: ${second}/jwks.json
    groupsClaim: groups
    claimGroups: [dba]
groups:
  review-bots: [${BOT}, ${OTHER_BOT}]
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
  - name: bots-ddl-two-dbas
    principals: [group:review-bots]
    classes: [ddl]
    action: approve
    approvers: [group:dba]
    quorum: 2
    ttl: 30m
  - name: bots-write
    principals: [group:review-bots]
    classes: [write]
    action: approve
    # The bot itself is listed, to show that being an approver never lets anyone approve their own.
    approvers: [group:dba, email:${BOT}]
    quorum: 1
    ttl: 10m
  - name: nothing-else
    action: deny
agents:
  requireModel: true
  allowedModels: ["gemini-*"]
`;

let gw: TestGateway;
let second: SecondIssuer;
let clockOffsetMs = 0;

test.before(async () => {
  second = await startSecondIssuer();
  gw = await startTestGateway({
    seedSql: 'CREATE TABLE notes (id int PRIMARY KEY, body text); CREATE TABLE runs (tag text NOT NULL)',
    policy: policy(second.issuer),
    clock: () => new Date(Date.now() + clockOffsetMs),
  });
});
test.after.always(async () => {
  await gw?.close();
  await second?.close();
});

const auth = async (sub: string, groups?: string[]) => ({ authorization: `Bearer ${await gw.token(sub, { groups })}` });
async function asBot(body: unknown, sub = BOT) {
  return gw.post('/v1/query', body, { ...(await auth(sub)), ...model });
}
async function decide(id: string, verdict: 'approve' | 'reject', sub: string, body: unknown = { comment: `${verdict}d by ${sub}` }) {
  return gw.post(`/v1/approvals/${id}/${verdict}`, body, await auth(sub));
}
const events = (sessionId: string) => gw.runtime.sessions.read(sessionId);
const types = async (sessionId: string) => (await events(sessionId)).map((e) => e.type);
let n = 0;
/** A write of its own, held for approval: returns the 202 body. */
async function held(sql = 'INSERT INTO notes VALUES ($1, $2)', params: unknown[] = [1000 + ++n, 'x'], sub = BOT) {
  const r = await asBot({ connection: 'main', sql, params }, sub);
  if (r.status !== 202) throw new Error(`expected 202, got ${r.status} ${JSON.stringify(r.body)}`);
  return { ...r.body, sql, params } as { sessionId: string; status: string; approval: { id: string; expiresAt: string; quorum: number; approvers: string[] }; sql: string; params: unknown[] };
}
const count = async (sql: string, params: unknown[] = []) => Number((await gw.sql(sql, params)).rows[0].n);

test('a write needing approval: 202 with the approval, recorded, listed for approvers, nothing run', async (t) => {
  const h = await held('INSERT INTO notes VALUES ($1, $2)', [1, 'first']);
  t.is(h.status, 'pending_approval');
  t.deepEqual(Object.keys(h.approval).sort(), ['approvers', 'expiresAt', 'id', 'quorum']);
  t.is(h.approval.quorum, 1);
  t.deepEqual(h.approval.approvers, ['group:dba', `email:${BOT}`]);
  t.true(Math.abs(Date.parse(h.approval.expiresAt) - Date.now() - 10 * 60_000) < 60_000);
  t.deepEqual(await types(h.sessionId), ['request', 'analysis', 'decision', 'approval.requested']);
  const requested = (await events(h.sessionId))[3]!.data as any;
  t.is(requested.approvalId, h.approval.id);
  t.deepEqual(requested.notification, { state: 'pending' }, 'written before publishing; the approval tracks the rest');
  t.is(await count('SELECT count(*) AS n FROM notes WHERE id = 1'), 0);

  const list = await gw.get('/v1/approvals?status=pending', await auth('alice@acme.com'));
  t.is(list.status, 200);
  t.true(list.body.approvals.some((a: any) => a.id === h.approval.id && a.requester === BOT && a.risk === 'write'));
  const shown = await gw.get(`/v1/approvals/${h.approval.id}`, await auth('alice@acme.com'));
  t.is(shown.status, 200);
  t.like(shown.body.approval, { id: h.approval.id, status: 'pending', sessionId: h.sessionId, connection: 'main', sql: h.sql, params: [1, 'first'], approvals: 0 });
  t.is(shown.body.approval.analysis.kind, 'INSERT');
  t.deepEqual(shown.body.approval.analysis.tables.written, ['notes']);
  t.is(shown.body.approval.notification.state, 'published', 'the local notifier took it');
  t.deepEqual(shown.body.approval.masking, [], 'the masking preview is shown (nothing sensitive in an INSERT without RETURNING)');
});

test('approve, then the bot runs exactly that statement: a new session that says "approved by approval X"', async (t) => {
  const h = await held('INSERT INTO notes VALUES ($1, $2)', [2, 'second']);
  const ok = await decide(h.approval.id, 'approve', 'alice@acme.com', { comment: 'checked the id range' });
  t.is(ok.status, 200, JSON.stringify(ok.body));
  t.is(ok.body.sessionId, h.sessionId);
  t.is(ok.body.status, 'approved');
  const granted = (await events(h.sessionId)).at(-1)!;
  t.is(granted.type, 'approval.granted');
  t.like(granted.data as any, { approvalId: h.approval.id, comment: 'checked the id range', approver: { subject: 'alice@acme.com', email: 'alice@acme.com' }, quorumMet: true });

  const run = await asBot({ connection: 'main', sql: h.sql, params: h.params, approvalId: h.approval.id });
  t.is(run.status, 200, JSON.stringify(run.body));
  t.is(run.body.status, 'executed');
  t.is(run.body.rowCount, 1);
  t.not(run.body.sessionId, h.sessionId);
  t.is(await count('SELECT count(*) AS n FROM notes WHERE id = 2'), 1);
  const evs = await events(run.body.sessionId);
  t.deepEqual(evs.map((e) => e.type), ['request', 'analysis', 'decision', 'execution.started', 'execution.result', 'execution.committed']);
  t.is((evs[0]!.data as any).approvalId, h.approval.id);
  const decision = evs[2]!.data as any;
  t.is(decision.action, 'allow');
  t.is(decision.rule, 'bots-write');
  t.regex(decision.reasons[0], new RegExp(`^approved by approval ${h.approval.id} \\(requested in session ${h.sessionId}; granted by alice@acme.com\\)`));
  t.like(decision.approval, { id: h.approval.id, sessionId: h.sessionId });
  t.deepEqual(verifyChain(run.body.sessionId, evs), []);
  t.deepEqual(verifyChain(h.sessionId, await events(h.sessionId)), []);

  const after = await gw.get(`/v1/approvals/${h.approval.id}`, await auth('alice@acme.com'));
  t.is(after.body.approval.status, 'used');
  t.is(after.body.approval.redemption.sessionId, run.body.sessionId);
});

test('replay of a used approval: 409 approval_used, recorded as a denied session, nothing runs again', async (t) => {
  const h = await held('INSERT INTO runs VALUES ($1)', ['replay']);
  await decide(h.approval.id, 'approve', 'bob@acme.com');
  const body = { connection: 'main', sql: h.sql, params: h.params, approvalId: h.approval.id };
  t.is((await asBot(body)).status, 200);
  const again = await asBot(body);
  t.is(again.status, 409);
  t.is(again.body.error.code, 'approval_used');
  t.truthy(again.body.sessionId);
  const evs = await events(again.body.sessionId);
  t.deepEqual(evs.map((e) => e.type), ['request', 'analysis', 'decision']);
  t.like(evs[2]!.data as any, { action: 'deny', approval: { id: h.approval.id, error: { code: 'approval_used' } } });
  t.is(await count("SELECT count(*) AS n FROM runs WHERE tag = 'replay'"), 1);
});

test('20 concurrent executions of one approval: exactly one runs (one row written), 19 get 409, all recorded', async (t) => {
  const h = await held('INSERT INTO runs VALUES ($1)', ['burst']);
  await decide(h.approval.id, 'approve', 'alice@acme.com');
  const token = await gw.token(BOT);
  const body = { connection: 'main', sql: h.sql, params: h.params, approvalId: h.approval.id };
  const results = await Promise.all(Array.from({ length: 20 }, () => gw.post('/v1/query', body, { authorization: `Bearer ${token}`, ...model })));
  const statuses = results.map((r) => r.status).sort();
  t.deepEqual(statuses, [200, ...Array<number>(19).fill(409)]);
  t.true(results.filter((r) => r.status === 409).every((r) => r.body.error.code === 'approval_used'));
  t.is(await count("SELECT count(*) AS n FROM runs WHERE tag = 'burst'"), 1);
  t.is(new Set(results.map((r) => r.body.sessionId)).size, 20, 'every attempt is a session of its own');
});

test('a changed parameter, other SQL or another connection: 409 approval_mismatch, recorded; the approval stays usable', async (t) => {
  const h = await held('INSERT INTO runs VALUES ($1)', ['exact']);
  await decide(h.approval.id, 'approve', 'alice@acme.com');
  const changed = await asBot({ connection: 'main', sql: h.sql, params: ['exact-but-not'], approvalId: h.approval.id });
  t.is(changed.status, 409);
  t.is(changed.body.error.code, 'approval_mismatch');
  t.deepEqual(changed.body.error.details.differs, ['params']);
  t.like((await events(changed.body.sessionId))[2]!.data as any, { action: 'deny', approval: { error: { code: 'approval_mismatch' } } });
  const otherSql = await asBot({ connection: 'main', sql: 'INSERT INTO runs VALUES ($1) ', params: h.params, approvalId: h.approval.id });
  t.is(otherSql.body.error.code, 'approval_mismatch');
  t.is(await count("SELECT count(*) AS n FROM runs WHERE tag LIKE 'exact%'"), 0);
  const right = await asBot({ connection: 'main', sql: h.sql, params: h.params, approvalId: h.approval.id });
  t.is(right.status, 200);
});

test("another bot's approval: 409 approval_mismatch, recorded, and it learns nothing about it", async (t) => {
  const h = await held('INSERT INTO runs VALUES ($1)', ['theirs']);
  await decide(h.approval.id, 'approve', 'alice@acme.com');
  const r = await asBot({ connection: 'main', sql: h.sql, params: h.params, approvalId: h.approval.id }, OTHER_BOT);
  t.is(r.status, 409);
  t.is(r.body.error.code, 'approval_mismatch');
  t.notRegex(JSON.stringify(r.body), /INSERT|alice/);
  t.deepEqual(await types(r.body.sessionId), ['request', 'analysis', 'decision']);
  t.is(await count("SELECT count(*) AS n FROM runs WHERE tag = 'theirs'"), 0);
});

test('presenting an approval not yet decided, or an unknown id: 409 approval_pending / approval_unknown', async (t) => {
  const h = await held('INSERT INTO runs VALUES ($1)', ['early']);
  const early = await asBot({ connection: 'main', sql: h.sql, params: h.params, approvalId: h.approval.id });
  t.is(early.status, 409);
  t.is(early.body.error.code, 'approval_pending');
  const unknown = await asBot({ connection: 'main', sql: h.sql, params: h.params, approvalId: 'no-such-approval' });
  t.is(unknown.status, 409);
  t.is(unknown.body.error.code, 'approval_unknown');
  t.deepEqual(await types(unknown.body.sessionId), ['request', 'analysis', 'decision']);
});

test('self-approval is refused (403), also with the same email under another trusted issuer; each attempt recorded', async (t) => {
  const h = await held('INSERT INTO runs VALUES ($1)', ['self']);
  const own = await decide(h.approval.id, 'approve', BOT);
  t.is(own.status, 403);
  t.is(own.body.error.code, 'self_approval');
  const elsewhere = await second.token({ sub: 'someone-else-entirely', email: BOT, groups: ['dba'], aud: TEST_AUDIENCE });
  const viaOther = await gw.post(`/v1/approvals/${h.approval.id}/approve`, { comment: 'it is fine' }, { authorization: `Bearer ${elsewhere}` });
  t.is(viaOther.status, 403);
  t.is(viaOther.body.error.code, 'self_approval');
  for (const r of [own, viaOther]) {
    const evs = await events(r.body.sessionId);
    t.is(evs.length, 1);
    t.like(evs[0]!.data as any, { endpoint: 'approve', approvalId: h.approval.id, rejected: { code: 'self_approval' } });
  }
  t.deepEqual(await types(h.sessionId), ['request', 'analysis', 'decision', 'approval.requested'], 'the requesting session is untouched');
  const still = await gw.get(`/v1/approvals/${h.approval.id}`, await auth('alice@acme.com'));
  t.is(still.body.approval.status, 'pending');
});

test('a decider outside the approver groups: 403 approver_not_allowed, recorded as their session', async (t) => {
  const h = await held('INSERT INTO runs VALUES ($1)', ['outsider']);
  const r = await decide(h.approval.id, 'approve', 'mallory@acme.com');
  t.is(r.status, 403);
  t.is(r.body.error.code, 'approver_not_allowed');
  const mine = await gw.get(`/v1/sessions/${r.body.sessionId}`, await auth('mallory@acme.com'));
  t.is(mine.status, 200);
  t.is(mine.body.status, 'rejected_request');
  t.like(mine.body.events[0].data, { endpoint: 'approve', principal: { email: 'mallory@acme.com' }, rejected: { code: 'approver_not_allowed' } });
  const forged = await decide(h.approval.id, 'approve', 'mallory@acme.com');
  t.is(forged.status, 403);
  // A group claim the policy does not grant is honoured only as the token's issuer says: the
  // dev issuer's groups claim puts mallory in dba, and then she may decide.
  const withClaim = await gw.post(`/v1/approvals/${h.approval.id}/approve`, { comment: 'dba via claim' }, await auth('mallory@acme.com', ['dba']));
  t.is(withClaim.status, 200);
});

test('quorum 2 needs two distinct approvers: the same one twice counts once; the session stays pending until the second', async (t) => {
  const h = await held('CREATE TABLE quorum_t (x int)', []);
  t.is(h.approval.quorum, 2);
  t.is((await decide(h.approval.id, 'approve', 'alice@acme.com')).status, 200);
  const session = await gw.get(`/v1/sessions/${h.sessionId}`, await auth(BOT));
  t.is(session.body.status, 'pending_approval');
  const twice = await decide(h.approval.id, 'approve', 'alice@acme.com');
  t.is(twice.status, 409);
  t.is(twice.body.error.code, 'approval_already_decided');
  const early = await asBot({ connection: 'main', sql: h.sql, params: [], approvalId: h.approval.id });
  t.is(early.body.error.code, 'approval_pending');
  const second = await decide(h.approval.id, 'approve', 'bob@acme.com');
  t.is(second.status, 200);
  t.is(second.body.status, 'approved');
  t.is(second.body.approval.approvals, 2);
  const evs = await events(h.sessionId);
  t.deepEqual(evs.map((e) => e.type).slice(-2), ['approval.granted', 'approval.granted']);
  t.deepEqual(evs.slice(-2).map((e) => (e.data as any).quorumMet), [false, true]);
  const run = await asBot({ connection: 'main', sql: h.sql, params: [], approvalId: h.approval.id });
  t.is(run.status, 200, JSON.stringify(run.body));
  t.is(await count("SELECT count(*) AS n FROM pg_tables WHERE tablename = 'quorum_t'"), 1);
});

test('one rejection ends it: the session says rejected, the bot gets 409, further decisions 409', async (t) => {
  const h = await held('INSERT INTO runs VALUES ($1)', ['rejected']);
  const no = await decide(h.approval.id, 'reject', 'bob@acme.com', { comment: 'wrong table' });
  t.is(no.status, 200);
  t.is(no.body.status, 'rejected');
  const last = (await events(h.sessionId)).at(-1)!;
  t.is(last.type, 'approval.rejected');
  t.like(last.data as any, { comment: 'wrong table', approver: { email: 'bob@acme.com' } });
  t.is((await gw.get(`/v1/sessions/${h.sessionId}`, await auth(BOT))).body.status, 'rejected');
  t.is((await asBot({ connection: 'main', sql: h.sql, params: h.params, approvalId: h.approval.id })).body.error.code, 'approval_rejected');
  const after = await decide(h.approval.id, 'approve', 'alice@acme.com');
  t.is(after.status, 409);
  t.is(after.body.error.code, 'approval_rejected');
});

test('deciding an unknown or used approval: 409 with the reason, recorded', async (t) => {
  const unknown = await decide('does-not-exist', 'approve', 'alice@acme.com');
  t.is(unknown.status, 409);
  t.is(unknown.body.error.code, 'approval_unknown');
  t.truthy(unknown.body.sessionId);
  const h = await held('INSERT INTO runs VALUES ($1)', ['used-then-decided']);
  await decide(h.approval.id, 'approve', 'alice@acme.com');
  await asBot({ connection: 'main', sql: h.sql, params: h.params, approvalId: h.approval.id });
  const used = await decide(h.approval.id, 'reject', 'bob@acme.com');
  t.is(used.status, 409);
  t.is(used.body.error.code, 'approval_used');
});

test('the comment is required (400) and at most 2000 characters (413); refusals recorded', async (t) => {
  const h = await held('INSERT INTO runs VALUES ($1)', ['comment']);
  const missing = await decide(h.approval.id, 'approve', 'alice@acme.com', {});
  t.is(missing.status, 400);
  t.is(missing.body.error.code, 'comment_required');
  const long = await decide(h.approval.id, 'approve', 'alice@acme.com', { comment: 'x'.repeat(2001) });
  t.is(long.status, 413);
  t.is(long.body.error.code, 'comment_too_long');
  const notJson = await gw.post(`/v1/approvals/${h.approval.id}/approve`, 'comment=ok', { ...(await auth('alice@acme.com')), 'content-type': 'text/plain' });
  t.is(notJson.status, 415);
  for (const r of [missing, long, notJson]) t.deepEqual(await types(r.body.sessionId), ['request']);
  t.is((await gw.get(`/v1/approvals/${h.approval.id}`, await auth('alice@acme.com'))).body.approval.status, 'pending');
});

test('the long poll on the requesting session wakes when the approval is decided', async (t) => {
  const h = await held('INSERT INTO runs VALUES ($1)', ['poll']);
  const started = Date.now();
  const poll = gw.get(`/v1/sessions/${h.sessionId}?wait=30`, await auth(BOT));
  await new Promise((r) => setTimeout(r, 500));
  await decide(h.approval.id, 'approve', 'alice@acme.com');
  const r = await poll;
  t.is(r.status, 200);
  t.is(r.body.status, 'approved');
  t.true(Date.now() - started < 5000, `woke after ${Date.now() - started} ms`);
});

test('who sees what: approvers, auditors and the requester see an approval; others get 404 and an empty list', async (t) => {
  const h = await held('INSERT INTO runs VALUES ($1)', ['visibility']);
  for (const who of ['alice@acme.com', 'carol@acme.com', BOT]) {
    t.is((await gw.get(`/v1/approvals/${h.approval.id}`, await auth(who))).status, 200, who);
  }
  const stranger = await gw.get(`/v1/approvals/${h.approval.id}`, await auth('mallory@acme.com'));
  t.is(stranger.status, 404);
  t.is(stranger.body.error.code, 'approval_not_found');
  t.deepEqual((await gw.get('/v1/approvals?status=all', await auth('mallory@acme.com'))).body.approvals, []);
  t.is((await gw.get(`/v1/approvals/${h.approval.id}`)).status, 401);
  t.is((await gw.get('/v1/approvals?status=maybe', await auth('alice@acme.com'))).body.error.code, 'bad_request');
  const wrongMethod = await fetch(`${gw.url}/v1/approvals/${h.approval.id}/approve`);
  t.is(wrongMethod.status, 405);
});

test('analyze of a statement needing approval says so, and holds nothing', async (t) => {
  const sql = "INSERT INTO runs VALUES ('analyze-only')";
  const r = await gw.post('/v1/analyze', { connection: 'main', sql }, { ...(await auth(BOT)), ...model });
  t.is(r.status, 200);
  t.is(r.body.decision, 'approve');
  t.is(r.body.rule, 'bots-write');
  const all = (await gw.get('/v1/approvals?status=all', await auth('carol@acme.com'))).body.approvals;
  t.false(all.some((a: any) => a.sql === sql));
  t.deepEqual(await types(r.body.sessionId), ['request', 'analysis', 'decision']);
});

// Serial, first: it moves the approvals' clock, which the other tests' approvals would feel.
test.serial('expiry by the rule ttl, on the injected clock: listed as expired; deciding and running it are refused (409)', async (t) => {
  const pending = await held('INSERT INTO runs VALUES ($1)', ['expire-pending']);
  const approved = await held('INSERT INTO runs VALUES ($1)', ['expire-approved']);
  await decide(approved.approval.id, 'approve', 'alice@acme.com');
  // Relative to the approval's own expiry (not to when the test started): deciding now also reads
  // the log and signs, and on a loaded machine that took longer than the old one-second margin.
  const expiresAt = Date.parse(pending.approval.expiresAt);
  clockOffsetMs = expiresAt - Date.now() - 5000;
  try {
    t.is((await gw.get(`/v1/approvals/${pending.approval.id}`, await auth('alice@acme.com'))).body.approval.status, 'pending', 'seconds before');
    clockOffsetMs = expiresAt - Date.now() + 1000;
    t.is((await gw.get(`/v1/approvals/${pending.approval.id}`, await auth('alice@acme.com'))).body.approval.status, 'expired');
    const expiredList = await gw.get('/v1/approvals?status=expired', await auth('alice@acme.com'));
    t.true(expiredList.body.approvals.some((a: any) => a.id === pending.approval.id));
    t.false((await gw.get('/v1/approvals?status=pending', await auth('alice@acme.com'))).body.approvals.some((a: any) => a.id === pending.approval.id));
    const late = await decide(pending.approval.id, 'approve', 'alice@acme.com');
    t.is(late.status, 409);
    t.is(late.body.error.code, 'approval_expired');
    const run = await asBot({ connection: 'main', sql: approved.sql, params: approved.params, approvalId: approved.approval.id });
    t.is(run.status, 409);
    t.is(run.body.error.code, 'approval_expired');
    t.is(await count("SELECT count(*) AS n FROM runs WHERE tag LIKE 'expire-%'"), 0);
  } finally {
    clockOffsetMs = 0;
  }
});
