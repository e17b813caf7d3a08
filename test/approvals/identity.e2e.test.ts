// One person, many spellings (issue 14 item 5), end to end over HTTP: whitespace, case and NFKC
// variants of one email — from the same issuer or another trusted one — cannot approve their own
// request, cannot make a quorum of two, and cannot see someone else's session. Two Authorization
// headers are refused before anything else.
import { request } from 'node:http';
import { connect } from 'node:net';
import test from 'ava';
import { startTestGateway, TEST_AUDIENCE, type TestGateway } from '../helpers/gateway.ts';
import { startSecondIssuer, type SecondIssuer } from './second-issuer.ts';

const ALICE = 'alice@acme.com';
const model = { 'x-agent-model': 'gemini-2.5-pro-002' };
// An approver who also asks: people can be requesters too (here through the groups claim).
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
    claimGroups: [dba, writers]
groups:
  dba: [${ALICE}, bob@acme.com]
  writers: [writer@other.example]
connections:
  main:
    credentials: env://GATEHOUSE_TEST_TARGET_URL
    maxRows: 100
    statementTimeoutMs: 5000
rules:
  - name: writes-need-two
    principals: [group:dba, group:writers]
    classes: [write]
    action: approve
    approvers: [group:dba, group:writers]
    quorum: 2
    ttl: 10m
  - name: reads
    principals: [group:dba, group:writers]
    classes: [read]
    action: allow
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
const fromSecond = (sub: string, email: string, groups: string[] = ['writers']) => second.token({ sub, email, groups, aud: TEST_AUDIENCE });
const ran = async (tag: string) => Number((await gw.sql('SELECT count(*) AS n FROM runs WHERE tag = $1', [tag])).rows[0].n);

async function askAsAlice(tag: string) {
  const r = await gw.post('/v1/query', { connection: 'main', sql: 'INSERT INTO runs VALUES ($1)', params: [tag] }, { ...bearer(await gw.token(ALICE)), ...model });
  if (r.status !== 202) throw new Error(`expected 202, got ${r.status} ${JSON.stringify(r.body)}`);
  return { id: r.body.approval.id as string, sessionId: r.body.sessionId as string };
}

// Variants a second trusted issuer could put in a token for someone who is not (or is) alice.
const CASE_VARIANTS = ['Alice@ACME.com', 'ALICE@acme.com', 'alice@Acme.Com'];
const REFUSED_VARIANTS = ['alice@acme.com ', ' alice@acme.com', 'ａｌｉｃｅ@acme.com', 'alice@acme.com\u00a0'];

test('case variants of the requester\'s email, under another issuer, cannot approve her own request (403 self_approval)', async (t) => {
  const h = await askAsAlice('self');
  for (const [i, email] of CASE_VARIANTS.entries()) {
    const r = await gw.post(`/v1/approvals/${h.id}/approve`, { comment: 'me again' }, bearer(await fromSecond(`other-${i}`, email)));
    t.is(r.status, 403, email);
    t.is(r.body.error.code, 'self_approval', email);
    t.truthy(r.body.sessionId, 'the attempt is recorded as a session');
  }
  t.is((await gw.get(`/v1/approvals/${h.id}`, bearer(await gw.token(ALICE)))).body.approval.status, 'pending');
});

test('whitespace and NFKC variants are refused at the door (401 token_claims_invalid): no vote, no session', async (t) => {
  const h = await askAsAlice('door');
  for (const [i, email] of REFUSED_VARIANTS.entries()) {
    const r = await gw.post(`/v1/approvals/${h.id}/approve`, { comment: 'me again' }, bearer(await fromSecond(`door-${i}`, email)));
    t.is(r.status, 401, JSON.stringify(email));
    t.is(r.body.error.code, 'token_claims_invalid');
    t.regex(r.headers.get('www-authenticate') ?? '', /token_claims_invalid/);
  }
  const query = await gw.post('/v1/query', { connection: 'main', sql: 'SELECT 1' }, { ...bearer(await fromSecond('door-q', 'alice@acme.com ')), ...model });
  t.is(query.status, 401);
});

test('a quorum of two is not made by one person under two spellings; a second real person makes it and it runs once', async (t) => {
  const r0 = await gw.post('/v1/query', { connection: 'main', sql: 'INSERT INTO runs VALUES ($1)', params: ['quorum'] }, { ...bearer(await fromSecond('writer-1', 'writer@other.example')), ...model });
  t.is(r0.status, 202, JSON.stringify(r0.body));
  const id = r0.body.approval.id as string;
  t.is((await gw.post(`/v1/approvals/${id}/approve`, { comment: 'one' }, bearer(await gw.token(ALICE)))).status, 200);
  for (const [i, email] of CASE_VARIANTS.entries()) {
    const again = await gw.post(`/v1/approvals/${id}/approve`, { comment: 'two?' }, bearer(await fromSecond(`alice-elsewhere-${i}`, email)));
    t.is(again.status, 409, email);
    t.is(again.body.error.code, 'approval_already_decided');
  }
  const asWriter = async () => gw.post('/v1/query', { connection: 'main', sql: 'INSERT INTO runs VALUES ($1)', params: ['quorum'], approvalId: id }, { ...bearer(await fromSecond('writer-1', 'writer@other.example')), ...model });
  const early = await asWriter();
  t.is(early.status, 409);
  t.is(early.body.error.code, 'approval_pending');
  t.is(await ran('quorum'), 0);
  t.is((await gw.post(`/v1/approvals/${id}/approve`, { comment: 'two' }, bearer(await gw.token('bob@acme.com')))).status, 200);
  t.is((await asWriter()).status, 200);
  t.is(await ran('quorum'), 1);
});

test('a session is visible to its requester, not to a case variant of her email under another subject', async (t) => {
  const h = await askAsAlice('visibility');
  t.is((await gw.get(`/v1/sessions/${h.sessionId}`, bearer(await gw.token(ALICE)))).status, 200);
  const other = await gw.get(`/v1/sessions/${h.sessionId}`, bearer(await fromSecond('someone', 'Alice@ACME.com')));
  t.is(other.status, 404, 'visibility follows the credential (issuer and subject), not a look-alike email');
});

// Attack review of issue 16, over HTTP: the second issuer may grant only its claimGroups (dba,
// writers), so its token claiming `auditors` — the group that may read every session — reads
// nobody else's session or approval; and its token saying alice@acme.com without email_verified
// is not alice (not in dba by email), so the read rule does not admit it.
test('the second issuer claiming auditors sees no one else\'s session; its email without email_verified is not alice', async (t) => {
  const h = await askAsAlice('issuer-scoped');
  const auditor = bearer(await second.token({ sub: 'mallory', email: 'mallory@other.example', groups: ['auditors'], aud: TEST_AUDIENCE }));
  t.is((await gw.get(`/v1/sessions/${h.sessionId}`, auditor)).status, 404);
  t.is((await gw.get(`/v1/approvals/${h.id}`, auditor)).status, 404);
  for (const emailVerified of [null, 'true', 1]) {
    const claimsAlice = bearer(await second.token({ sub: `not-alice-${String(emailVerified)}`, email: ALICE, groups: [], aud: TEST_AUDIENCE, emailVerified }));
    const r = await gw.post('/v1/query', { connection: 'main', sql: 'SELECT 1' }, { ...claimsAlice, ...model });
    t.is(r.status, 403, `email_verified ${JSON.stringify(emailVerified)}`);
    t.is(r.body.rule, 'nothing-else');
    t.is((await gw.get(`/v1/sessions/${h.sessionId}`, claimsAlice)).status, 404);
  }
  const verified = bearer(await second.token({ sub: 'alice-elsewhere', email: ALICE, groups: [], aud: TEST_AUDIENCE }));
  t.is((await gw.post('/v1/query', { connection: 'main', sql: 'SELECT 1' }, { ...verified, ...model })).status, 200, 'with email_verified: true she is alice (dba by email)');
});

test('two Authorization headers: 400 header_repeated on every route, nothing recorded', async (t) => {
  const good = await gw.token(ALICE);
  const other = await gw.token('bob@acme.com');
  for (const [method, path] of [['POST', '/v1/query'], ['GET', '/v1/approvals'], ['GET', '/v1/sessions/x']] as const) {
    const r = await rawRequest(method, path, { authorization: [`Bearer ${good}`, `Bearer ${other}`], 'content-type': 'application/json', 'x-agent-model': 'gemini-1' }, '{"connection":"main","sql":"SELECT 1"}');
    t.is(r.status, 400, `${method} ${path}`);
    t.is(r.body.error.code, 'header_repeated');
    t.is(r.body.sessionId, undefined);
    t.false(JSON.stringify(r.body).includes(good), 'the token is not echoed');
  }
  // One header that holds two values is no bearer token at all.
  const joined = await rawRequest('POST', '/v1/query', { authorization: `Bearer ${good}, Bearer ${other}`, 'content-type': 'application/json' }, '{}');
  t.is(joined.status, 401);
});

/** node:http, because fetch() folds repeated headers into one line. */
function rawRequest(method: string, path: string, headers: Record<string, string | string[]>, body: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, gw.url);
    const req = request({ method, host: url.hostname, port: url.port, path: url.pathname }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    for (const [k, v] of Object.entries(headers)) req.setHeader(k, v);
    req.end(method === 'GET' ? undefined : body);
  });
}

// Attack review of issue 14: spellings NFKC and trimming leave alone.
const LOOK_ALIKES = ['alice@acme.com.', 'alice@ACME.com.', 'alice+ops@acme.com', '"alice"@acme.com', '\u0430lice@acme.com', 'al\u0131ce@acme.com', 'alice@acme\u3002com'];
const INVISIBLES = ['alice\u200b@acme.com', 'ali\u00adce@acme.com', 'alice\u202e@acme.com', 'alice\ufe0f@acme.com'];

test('look-alike spellings of the requester under another issuer (trailing dot, +tag, Cyrillic, dotless ı) cannot approve her request', async (t) => {
  const h = await askAsAlice('lookalike');
  for (const [i, email] of LOOK_ALIKES.entries()) {
    const r = await gw.post(`/v1/approvals/${h.id}/approve`, { comment: 'me again' }, bearer(await fromSecond(`look-${i}`, email)));
    t.is(r.status, 403, JSON.stringify(email));
    t.is(r.body.error?.code, 'self_approval', JSON.stringify(email));
  }
  for (const [i, email] of INVISIBLES.entries()) {
    const r = await gw.post(`/v1/approvals/${h.id}/approve`, { comment: 'me again' }, bearer(await fromSecond(`invisible-${i}`, email)));
    t.is(r.status, 401, JSON.stringify(email));
    t.is(r.body.error.code, 'token_claims_invalid');
  }
  t.is((await gw.get(`/v1/approvals/${h.id}`, bearer(await gw.token(ALICE)))).body.approval.status, 'pending');
  t.is(await ran('lookalike'), 0);
});

// Fourth round: look-alikes in the domain (Cyrillic а and е, an accent, the Punycode of one) and
// Latin small capitals in the local part — each drawn like alice@acme.com in a reviewer's list.
const DOMAIN_AND_SMALL_CAPS = ['alice@\u0430cme.com', 'alice@acm\u0435.com', 'alice@\u00e1cme.com', 'alice@xn--cme-5cd.com', '\u1d00lice@acme.com', 'alic\u1d07@acme.com', '\u1d00\u029fice@acme.com'];

test('look-alikes of the requester in the domain (Cyrillic, accented, Punycode) or in Latin small capitals cannot approve her request', async (t) => {
  const h = await askAsAlice('lookalike-domain');
  for (const [i, email] of DOMAIN_AND_SMALL_CAPS.entries()) {
    const r = await gw.post(`/v1/approvals/${h.id}/approve`, { comment: 'me again' }, bearer(await fromSecond(`look-domain-${i}`, email, ['dba'])));
    t.is(r.status, 403, JSON.stringify(email));
    t.is(r.body.error?.code, 'self_approval', JSON.stringify(email));
  }
  t.is((await gw.get(`/v1/approvals/${h.id}`, bearer(await gw.token(ALICE)))).body.approval.status, 'pending');
  t.is(await ran('lookalike-domain'), 0);
});

test('a quorum of two is not made by alice plus a look-alike of her under another issuer', async (t) => {
  const r0 = await gw.post('/v1/query', { connection: 'main', sql: 'INSERT INTO runs VALUES ($1)', params: ['quorum-look'] }, { ...bearer(await fromSecond('writer-2', 'writer@other.example')), ...model });
  t.is(r0.status, 202, JSON.stringify(r0.body));
  const id = r0.body.approval.id as string;
  t.is((await gw.post(`/v1/approvals/${id}/approve`, { comment: 'one' }, bearer(await gw.token(ALICE)))).status, 200);
  for (const [i, email] of LOOK_ALIKES.entries()) {
    const again = await gw.post(`/v1/approvals/${id}/approve`, { comment: 'two?' }, bearer(await fromSecond(`alice-look-${i}`, email)));
    t.is(again.status, 409, JSON.stringify(email));
    t.is(again.body.error.code, 'approval_already_decided');
  }
  const run = await gw.post('/v1/query', { connection: 'main', sql: 'INSERT INTO runs VALUES ($1)', params: ['quorum-look'], approvalId: id }, { ...bearer(await fromSecond('writer-2', 'writer@other.example')), ...model });
  t.is(run.status, 409);
  t.is(run.body.error.code, 'approval_pending');
  t.is(await ran('quorum-look'), 0);
});

test('repeated Authorization headers in other spellings (case of the name, an empty one) are 400 header_repeated', async (t) => {
  const good = await gw.token(ALICE);
  const url = new URL(gw.url);
  const body = '{"connection":"main","sql":"SELECT 1"}';
  for (const second of ['AUTHORIZATION: Bearer x.y.z', 'authorization:', 'Authorization: Basic YTpi']) {
    const raw = [`POST /v1/query HTTP/1.1`, `Host: ${url.host}`, `Authorization: Bearer ${good}`, second, 'Content-Type: application/json', 'X-Agent-Model: gemini-1', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close', '', body].join('\r\n');
    const answer = await rawSocket(url, raw);
    t.regex(answer, /^HTTP\/1\.1 400 /, second);
    t.regex(answer, /header_repeated/, second);
  }
  // The scheme's case does not matter (RFC 9110 §11.1); anything but one bearer token is token_missing.
  for (const [header, status] of [[`bearer ${good}`, 200], [`BEARER  ${good}`, 200], [`Bearer\t${good}`, 401], [`Bearer ${good} x`, 401], [`Bearer${good}`, 401], [`Basic ${good}`, 401]] as const) {
    const r = await rawRequest('POST', '/v1/query', { authorization: header, 'content-type': 'application/json', 'x-agent-model': 'gemini-1' }, body);
    t.is(r.status, status, header.replace(good, '<token>'));
  }
});

function rawSocket(url: URL, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) }, () => socket.end(text));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

test('a second issuer\'s token whose subject is alice\'s address (no email claim) cannot approve her request nor be her quorum\'s second', async (t) => {
  const noEmail = (sub: string) => second.token({ sub, groups: ['writers'], aud: TEST_AUDIENCE });
  const h = await askAsAlice('subject-as-email');
  for (const sub of [ALICE, 'Alice@ACME.com', 'alice+x@acme.com']) {
    const r = await gw.post(`/v1/approvals/${h.id}/approve`, { comment: 'me again' }, bearer(await noEmail(sub)));
    t.is(r.status, 403, sub);
    t.is(r.body.error?.code, 'self_approval', sub);
  }
  const r0 = await gw.post('/v1/query', { connection: 'main', sql: 'INSERT INTO runs VALUES ($1)', params: ['quorum-sub'] }, { ...bearer(await fromSecond('writer-3', 'writer@other.example')), ...model });
  const id = r0.body.approval.id as string;
  t.is((await gw.post(`/v1/approvals/${id}/approve`, { comment: 'one' }, bearer(await gw.token(ALICE)))).status, 200);
  const again = await gw.post(`/v1/approvals/${id}/approve`, { comment: 'two?' }, bearer(await noEmail(ALICE)));
  t.is(again.status, 409);
  t.is(again.body.error.code, 'approval_already_decided');
  t.is(await ran('quorum-sub'), 0);
  t.is(await ran('subject-as-email'), 0);
});

// Attack review (third round): emails a URL host parser or a mail parser reads as someone else's.
const URL_PARSED_AS_BOB = ['bob@acme.com#.evil.com', 'bob@acme.com/.evil.com', 'bob@acme.com?.evil.com', 'bob@acme%2ecom', 'bob@%61cme.com'];

test('a second issuer\'s email whose domain only URL-parses as acme.com (bob@acme.com#.evil.com, …) is refused at the door: not bob, not in dba', async (t) => {
  const h = await askAsAlice('url-parsed');
  for (const [i, email] of URL_PARSED_AS_BOB.entries()) {
    // No groups from the issuer: only the policy's `dba: [bob@acme.com]` could admit it.
    const tok = await fromSecond(`url-${i}`, email, []);
    const read = await gw.post('/v1/query', { connection: 'main', sql: 'SELECT 1 AS one' }, { ...bearer(tok), ...model });
    t.is(read.status, 401, `${email}: ${JSON.stringify(read.body)}`);
    t.is(read.body.error?.code, 'token_claims_invalid', email);
    const vote = await gw.post(`/v1/approvals/${h.id}/approve`, { comment: 'as bob' }, bearer(tok));
    t.is(vote.status, 401, `${email}: ${JSON.stringify(vote.body)}`);
  }
  t.is((await gw.get(`/v1/approvals/${h.id}`, bearer(await gw.token(ALICE)))).body.approval.votes.length, 0, 'no vote was counted');
});

test('an email whose local part holds an RFC 5322 comment (alice(ops)@acme.com) cannot approve alice\'s request: refused at the door', async (t) => {
  const h = await askAsAlice('comment');
  for (const [i, email] of ['alice(ops)@acme.com', '(ops)alice@acme.com'].entries()) {
    const r = await gw.post(`/v1/approvals/${h.id}/approve`, { comment: 'me again' }, bearer(await fromSecond(`comment-${i}`, email)));
    t.is(r.status, 401, `${email}: ${JSON.stringify(r.body)}`);
    t.is(r.body.error?.code, 'token_claims_invalid', email);
  }
  t.is((await gw.get(`/v1/approvals/${h.id}`, bearer(await gw.token(ALICE)))).body.approval.votes.length, 0);
});
