// The approval desk's signing key (issue 14): Cloud KMS through the real @google-cloud/kms client
// against a gRPC server built from the library's own protos (test/helpers/kms-server.ts), the
// local PEM signer, and what a signature does and does not cover.
import { generateKeyPairSync } from 'node:crypto';
import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { createKmsVoteSigner, createLocalVoteSigner, parseKmsRef } from '../../shared/adapters/vote-signing/index.ts';
import { signedVoteOf, signVote, voteSignatureValid, type SignedVote } from '../../shared/approvals/vote-signature.ts';
import { isGatehouseError } from '../../shared/errors.ts';
import type { Principal } from '../../shared/identity/principal.ts';
import { startTestGateway, TEST_AUDIENCE } from '../helpers/gateway.ts';
import { startKmsServer, type KmsServer } from '../helpers/kms-server.ts';
import { held } from './fixtures.ts';

const KEY = 'projects/p/locations/europe-west1/keyRings/gatehouse/cryptoKeys/gatehouse-approval-votes/cryptoKeyVersions/1';
let kms: KmsServer;
test.before(async () => {
  kms = await startKmsServer();
  kms.addKey(KEY);
});
test.after.always(async () => {
  await kms?.close();
});

const pem = (curve: 'P-256' | 'P-384' = 'P-256') => generateKeyPairSync('ec', { namedCurve: curve }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const alice: Principal = { issuer: 'https://issuer.example', subject: 'alice@acme.com', email: 'alice@acme.com', groups: ['dba'], token: { iat: 1_700_000_000, jti: 'j-1', sha256: 'c'.repeat(64) } };

function aVote(): SignedVote {
  const a = held();
  return signedVoteOf(a, { verdict: 'approve', by: alice, comment: 'ok', at: '2026-03-01T12:01:00.000Z' }, alice, 'group:dba', 'f'.repeat(64));
}

test.serial('Cloud KMS: the client library signs through AsymmetricSign; the signature verifies with GetPublicKey\'s PEM', async (t) => {
  const signer = createKmsVoteSigner({ name: KEY, clientOptions: kms.clientOptions });
  const vote = aVote();
  const signature = await signVote(signer, vote);
  t.is(signature.keyId, KEY);
  const publicPem = await signer.publicKeyPem();
  t.true(voteSignatureValid(publicPem, vote, signature));
  t.false(voteSignatureValid(await createLocalVoteSigner(async () => pem()).publicKeyPem(), vote, signature), 'another key does not verify it');
  t.true(kms.calls.includes(`AsymmetricSign ${KEY}`));
  t.true(kms.calls.includes(`GetPublicKey ${KEY}`));
});

test.serial('Cloud KMS down: signing and reading the public key fail as approvals_unavailable, and recover', async (t) => {
  const signer = createKmsVoteSigner({ name: KEY, clientOptions: kms.clientOptions });
  kms.failWith = grpc.status.PERMISSION_DENIED;
  try {
    const e1 = await t.throwsAsync(signer.sign(Buffer.from('x')));
    t.true(isGatehouseError(e1, 'approvals_unavailable'), e1?.message);
    const e2 = await t.throwsAsync(signer.publicKeyPem());
    t.true(isGatehouseError(e2, 'approvals_unavailable'));
  } finally {
    kms.failWith = undefined;
  }
  t.regex(await signer.publicKeyPem(), /BEGIN PUBLIC KEY/, 'a failed read is not cached');
});

test.serial('Cloud KMS: a key of another algorithm is refused', async (t) => {
  const name = KEY.replace('/1', '/2');
  kms.addKey(name, 'RSA_SIGN_PKCS1_2048_SHA256');
  const e = await t.throwsAsync(createKmsVoteSigner({ name, clientOptions: kms.clientOptions }).publicKeyPem());
  t.true(isGatehouseError(e, 'approvals_unavailable'));
});

test('kms:// references name one key version, or are refused at start', (t) => {
  t.is(parseKmsRef(`kms://${KEY}`), KEY);
  t.is(parseKmsRef('env://X'), undefined);
  for (const bad of ['kms://projects/p/locations/l/keyRings/r/cryptoKeys/k', 'kms://' + KEY + '/extra', 'kms://']) t.throws(() => parseKmsRef(bad), { instanceOf: TypeError });
});

test('the local signer takes only an EC P-256 PKCS#8 PEM, and never quotes the key in its errors', async (t) => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  for (const bad of [rsa, pem('P-384'), 'not a key at all: s3cr3t-material']) {
    const e = await t.throwsAsync(createLocalVoteSigner(async () => bad).sign(Buffer.from('x')));
    t.true(isGatehouseError(e, 'approvals_unavailable'));
    t.false(e!.message.includes('s3cr3t') || e!.message.includes('BEGIN'), 'no key material in the message');
  }
});

test('a signature covers every field of the vote: changing any one breaks it', async (t) => {
  const key = pem();
  const signer = createLocalVoteSigner(async () => key);
  const vote = aVote();
  const signature = await signVote(signer, vote);
  const publicPem = await signer.publicKeyPem();
  t.true(voteSignatureValid(publicPem, vote, signature));
  const changes: Array<[string, SignedVote]> = [
    ['approvalId', { ...vote, approvalId: 'ap-2' }],
    ['sessionId', { ...vote, sessionId: 'session-2' }],
    ['digest', { ...vote, digest: '0'.repeat(64) }],
    ['verdict', { ...vote, verdict: 'reject' }],
    ['approver.subject', { ...vote, approver: { ...vote.approver, subject: 'mallory@acme.com' } }],
    ['approver.email', { ...vote, approver: { ...vote.approver, email: 'Alice@acme.com' } }],
    ['approver.groups', { ...vote, approver: { ...vote.approver, groups: ['dba', 'admins'] } }],
    ['token.sha256', { ...vote, token: { ...vote.token, sha256: 'd'.repeat(64) } }],
    ['token.iat', { ...vote, token: { ...vote.token, iat: vote.token.iat + 1 } }],
    ['as', { ...vote, as: 'group:admins' }],
    ['at', { ...vote, at: '2026-03-01T12:02:00.000Z' }],
    ['extra field', { ...vote, extra: 1 } as SignedVote],
  ];
  for (const [what, changed] of changes) t.false(voteSignatureValid(publicPem, changed, signature), what);
  for (const bad of [undefined, null, 'sig', { alg: 'none', value: signature.value }, { alg: 'ES256', value: 'not base64!' }, { alg: 'ES256', value: '' }, { ...signature, value: Buffer.alloc(72).toString('base64') }]) {
    t.false(voteSignatureValid(publicPem, vote, bad), JSON.stringify(bad));
  }
});

test('end to end with kms://: the desk signs through Cloud KMS, the bot runs it; with KMS down nothing is decided', async (t) => {
  const name = KEY.replace('/1', '/7');
  kms.addKey(name);
  const gw = await startTestGateway({
    seedSql: 'CREATE TABLE runs (tag text NOT NULL)',
    policy: (issuer) => `version: 1
issuers:
  - issuer: ${issuer}
    audience: ${TEST_AUDIENCE}
    jwksUri: ${issuer}/jwks.json
groups:
  bots: [bot@acme.com]
  dba: [alice@acme.com]
connections:
  main:
    credentials: env://GATEHOUSE_TEST_TARGET_URL
    maxRows: 10
    statementTimeoutMs: 5000
rules:
  - name: bots-write
    principals: [group:bots]
    classes: [write]
    action: approve
    approvers: [group:dba]
  - name: nothing-else
    action: deny
`,
    signingKey: `kms://${name}`,
    kmsClientOptions: kms.clientOptions,
  });
  t.teardown(() => gw.close());
  const bot = { authorization: `Bearer ${await gw.token('bot@acme.com')}` };
  const alice = { authorization: `Bearer ${await gw.token('alice@acme.com')}` };
  const body = { connection: 'main', sql: 'INSERT INTO runs VALUES ($1)', params: ['kms'] };
  const h = await gw.post('/v1/query', body, bot);
  t.is(h.status, 202, JSON.stringify(h.body));
  const id = h.body.approval.id as string;

  kms.failWith = grpc.status.UNAVAILABLE;
  let down;
  try {
    down = await gw.post(`/v1/approvals/${id}/approve`, { comment: 'ok' }, alice);
  } finally {
    kms.failWith = undefined;
  }
  t.is(down.status, 503);
  t.is(down.body.error.code, 'approvals_unavailable');
  t.false((await gw.runtime.sessions.read(h.body.sessionId)).some((e) => e.type === 'approval.granted'), 'an unsigned vote is never logged');
  t.is((await gw.runtime.approvals!.store.get(id))?.state, 'pending');

  t.is((await gw.post(`/v1/approvals/${id}/approve`, { comment: 'ok' }, alice)).status, 200);
  const granted = (await gw.runtime.sessions.read(h.body.sessionId)).find((e) => e.type === 'approval.granted')!;
  t.is((granted.data as any).signature.keyId, name);
  const run = await gw.post('/v1/query', { ...body, approvalId: id }, bot);
  t.is(run.status, 200, JSON.stringify(run.body));
  t.is(Number((await gw.sql("SELECT count(*) AS n FROM runs WHERE tag = 'kms'")).rows[0].n), 1);
});
