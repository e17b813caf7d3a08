// The dev issuer as an ordinary configured issuer: its JWKS served over real HTTP, every token
// verified through createVerifier — the same path any OIDC issuer takes.
import { createHmac, createPublicKey } from 'node:crypto';
import test from 'ava';
import { SignJWT } from 'jose';
import { createVerifier } from '../../shared/identity/index.ts';
import type { IssuerConfig } from '../../shared/policy/types.ts';
import { loadOrCreateDevKey, mintDevToken, type DevIssuerKey } from '../../infra/dev-issuer.ts';
import { b64url, deadPort, handBuilt, refused, serveDevIssuer, tempDir, type ServedIssuer } from './helpers.ts';

const AUD = 'gatehouse-local';
const NOW = new Date('2031-03-04T05:06:07Z');
const NOW_SEC = Math.floor(NOW.getTime() / 1000);
const GROUPS = { dba: ['alice@Acme.COM', 'bob@acme.com'], auditors: ['carol@acme.com'] };

let key: DevIssuerKey;
let otherKey: DevIssuerKey;
let served: ServedIssuer;

test.before(async () => {
  key = await loadOrCreateDevKey(await tempDir());
  otherKey = await loadOrCreateDevKey(await tempDir());
  served = await serveDevIssuer(key);
});
test.after.always(async () => {
  await served?.close();
});

function issuerConfig(more: Partial<IssuerConfig> = {}): IssuerConfig {
  return { issuer: served.issuer, audience: AUD, jwksUri: served.jwksUri, groupsClaim: 'groups', ...more };
}

function verifier(clock: Date = NOW, more: Partial<IssuerConfig> = {}) {
  return createVerifier({ issuers: [issuerConfig(more)], groups: GROUPS, clock: () => clock });
}

function mint(options: Partial<Parameters<typeof mintDevToken>[1]> = {}, signWith: DevIssuerKey = key): Promise<string> {
  return mintDevToken(signWith, { issuer: served.issuer, sub: 'alice@acme.com', aud: AUD, now: NOW, ...options });
}

/** Signs arbitrary claims with the dev key, for shapes mintDevToken refuses to make. */
function signClaims(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid }).sign(key.privateKey);
}

test('a valid token gives a Principal with policy groups (by email, the domain in any case) and the groups claim', async (t) => {
  const token = await mint({ groups: ['readers'] });
  const principal = await verifier()(token);
  t.deepEqual(withoutToken(principal), {
    issuer: served.issuer,
    subject: 'alice@acme.com',
    email: 'alice@acme.com',
    groups: ['dba', 'readers'],
  });
  t.like(principal.token, { iat: NOW_SEC }, 'the token facts the approval desk signs into a vote');
  t.regex(principal.token!.sha256, /^[0-9a-f]{64}$/);
});

test('a token within the clock tolerance is accepted', async (t) => {
  const token = await mint({ ttlSec: 60 });
  const principal = await verifier(new Date((NOW_SEC + 60 + 29) * 1000))(token);
  t.is(principal.subject, 'alice@acme.com');
});

test('a token without email has no email and no policy groups', async (t) => {
  const token = await mint({ sub: 'ci-job-42' });
  t.deepEqual(withoutToken(await verifier()(token)), { issuer: served.issuer, subject: 'ci-job-42', groups: [] });
});

test('an email the issuer marks unverified is not used', async (t) => {
  const token = await signClaims({ iss: served.issuer, sub: 's1', aud: AUD, iat: NOW_SEC, exp: NOW_SEC + 60, email: 'carol@acme.com', email_verified: false });
  t.deepEqual(withoutToken(await verifier()(token)), { issuer: served.issuer, subject: 's1', groups: [] });
});

test('refused: expired beyond the tolerance', async (t) => {
  const token = await mint({ ttlSec: 60 });
  await refused(t, verifier(new Date((NOW_SEC + 60 + 31) * 1000))(token), 'token_expired', token);
});

test('refused: issued far in the future', async (t) => {
  const token = await mint({ now: new Date((NOW_SEC + 3600) * 1000) });
  await refused(t, verifier()(token), 'token_claims_invalid', token);
});

test('refused: another audience', async (t) => {
  const token = await mint({ aud: 'some-other-service' });
  await refused(t, verifier()(token), 'token_audience_mismatch', token);
});

// Two functions sharing one policy: the query function's audience and the approvals function's.
const AUDIENCES = ['gatehouse-query', 'gatehouse-approvals'] as const;

test('an issuer with a list of audiences accepts a token for the second one', async (t) => {
  const principal = await verifier(NOW, { audience: AUDIENCES })(await mint({ aud: 'gatehouse-approvals' }));
  t.is(principal.subject, 'alice@acme.com');
});

test('refused: a token for an audience the list does not name', async (t) => {
  const verify = verifier(NOW, { audience: AUDIENCES });
  for (const aud of [AUD, 'gatehouse-approvals-2', 'gatehouse']) {
    const token = await mint({ aud });
    await refused(t, verify(token), 'token_audience_mismatch', token);
  }
});

test('a token whose aud is a list is accepted when one entry is a configured audience', async (t) => {
  const claims = { iss: served.issuer, sub: 's1', iat: NOW_SEC, exp: NOW_SEC + 60 };
  const verify = verifier(NOW, { audience: AUDIENCES });
  t.is((await verify(await signClaims({ ...claims, aud: ['some-other-service', 'gatehouse-approvals'] }))).subject, 's1');
  // A single configured audience works the same way (RFC 7519 §4.1.3).
  t.is((await verifier()(await signClaims({ ...claims, aud: ['some-other-service', AUD] }))).subject, 's1');
});

test('refused: a token whose aud is a list naming none of the configured audiences', async (t) => {
  const claims = { iss: served.issuer, sub: 's1', iat: NOW_SEC, exp: NOW_SEC + 60 };
  const verify = verifier(NOW, { audience: AUDIENCES });
  for (const aud of [['some-other-service', 'gatehouse'], [], ['gatehouse-query-x']]) {
    const token = await signClaims({ ...claims, aud });
    await refused(t, verify(token), 'token_audience_mismatch', token);
  }
});

test('refused: an issuer that is not configured', async (t) => {
  const token = await mint({ issuer: 'http://127.0.0.1:1/dev' });
  await refused(t, verifier()(token), 'token_issuer_not_allowed', token);
});

test('refused: signed by a key the issuer does not publish (unknown kid)', async (t) => {
  const token = await mint({}, otherKey);
  await refused(t, verifier()(token), 'token_key_unknown', token);
});

test('refused: signed by another key under the issuer\'s kid', async (t) => {
  const token = await mint({}, { ...otherKey, kid: key.kid });
  await refused(t, verifier()(token), 'token_signature_invalid', token);
});

test('refused: payload changed after signing', async (t) => {
  const token = await mint();
  const [header, , signature] = token.split('.');
  const forged = `${header}.${b64url({ iss: served.issuer, sub: 'carol@acme.com', aud: AUD, iat: NOW_SEC, exp: NOW_SEC + 3600, email: 'carol@acme.com', email_verified: true })}.${signature}`;
  await refused(t, verifier()(forged), 'token_signature_invalid', forged);
});

test('refused: alg none', async (t) => {
  const payload = { iss: served.issuer, sub: 'alice@acme.com', aud: AUD, iat: NOW_SEC, exp: NOW_SEC + 3600 };
  await refused(t, verifier()(handBuilt({ alg: 'none', typ: 'JWT' }, payload)), 'token_algorithm_not_allowed');
  await refused(t, verifier()(handBuilt({ alg: 'None', kid: key.kid }, payload)), 'token_algorithm_not_allowed');
  await refused(t, verifier()(handBuilt({ typ: 'JWT' }, payload, 'c2ln')), 'token_algorithm_not_allowed');
});

test('refused: HS256 keyed with the issuer\'s public key (key confusion)', async (t) => {
  const payload = { iss: served.issuer, sub: 'alice@acme.com', aud: AUD, iat: NOW_SEC, exp: NOW_SEC + 3600 };
  const pem = createPublicKey({ key: { ...key.publicJwk }, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  // Every form an attacker might guess the verifier would use as the HMAC secret.
  for (const secret of [pem, JSON.stringify(key.publicJwk), JSON.stringify({ keys: [key.publicJwk] })]) {
    const signingInput = `${b64url({ alg: 'HS256', typ: 'JWT', kid: key.kid })}.${b64url(payload)}`;
    const token = `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
    await refused(t, verifier()(token), 'token_algorithm_not_allowed', token);
  }
});

test('refused: no sub', async (t) => {
  const token = await signClaims({ iss: served.issuer, aud: AUD, iat: NOW_SEC, exp: NOW_SEC + 60 });
  await refused(t, verifier()(token), 'token_claims_invalid', token);
});

test('refused: empty sub', async (t) => {
  const token = await signClaims({ iss: served.issuer, sub: '', aud: AUD, iat: NOW_SEC, exp: NOW_SEC + 60 });
  await refused(t, verifier()(token), 'token_claims_invalid', token);
});

test('refused: no exp', async (t) => {
  const token = await signClaims({ iss: served.issuer, sub: 'alice@acme.com', aud: AUD, iat: NOW_SEC });
  await refused(t, verifier()(token), 'token_claims_invalid', token);
});

test('refused: no iat', async (t) => {
  const token = await signClaims({ iss: served.issuer, sub: 'alice@acme.com', aud: AUD, exp: NOW_SEC + 60 });
  await refused(t, verifier()(token), 'token_claims_invalid', token);
});

test('refused: a groups claim that is not a list of names', async (t) => {
  for (const groups of ['dba', [1], ['dba', ''], { dba: true }]) {
    const token = await signClaims({ iss: served.issuer, sub: 'a@acme.com', aud: AUD, iat: NOW_SEC, exp: NOW_SEC + 60, groups });
    await refused(t, verifier()(token), 'token_claims_invalid', token);
  }
});

test('the groups claim is ignored for an issuer without groupsClaim', async (t) => {
  const token = await mint({ sub: 'x@example.com', groups: ['dba'] });
  const principal = await verifier(NOW, { groupsClaim: undefined })(token);
  t.deepEqual(principal.groups, []);
});

test('refused: azp other than the configured authorized party', async (t) => {
  const token = await signClaims({ iss: served.issuer, sub: 's', aud: AUD, iat: NOW_SEC, exp: NOW_SEC + 60, azp: 'someone-else' });
  await refused(t, verifier(NOW, { authorizedParty: 'gatehouse-cli' })(token), 'token_claims_invalid', token);
});

test('refused: garbage', async (t) => {
  const verify = verifier();
  await refused(t, verify(''), 'token_missing');
  for (const garbage of ['abc', 'a.b.c', 'a.b', '...', 'a.b.c.d.e', 'W10.e30.c2ln', 'e30.W10.c2ln', '!!!.???.***', 'x'.repeat(20_000)]) {
    await refused(t, verify(garbage), 'token_invalid');
  }
  // Well-formed but empty: no alg, no issuer — refused before any key is looked up.
  await refused(t, verify('e30.e30.'), 'token_algorithm_not_allowed');
  await refused(t, verify(`${b64url({ alg: 'ES256' })}.e30.c2ln`), 'token_issuer_not_allowed');
});

test('refused: the issuer\'s JWKS cannot be fetched → dependency_unavailable', async (t) => {
  const down = `http://127.0.0.1:${await deadPort()}/dev`;
  const verify = createVerifier({
    issuers: [{ issuer: down, audience: AUD, jwksUri: `${down}/jwks.json` }],
    groups: {},
    clock: () => NOW,
  });
  const token = await mint({ issuer: down });
  await refused(t, verify(token), 'dependency_unavailable', token);
});

test('refused: the JWKS URL answers something other than a key set → dependency_unavailable', async (t) => {
  const verify = createVerifier({
    issuers: [{ issuer: served.issuer, audience: AUD, jwksUri: `${served.baseUrl}/nothing-here` }],
    groups: {},
    clock: () => NOW,
  });
  await refused(t, verify(await mint()), 'dependency_unavailable');
});

test('refused: a key embedded in the header is never trusted (jwk header injection)', async (t) => {
  const claims = { iss: served.issuer, sub: 'carol@acme.com', aud: AUD, iat: NOW_SEC, exp: NOW_SEC + 60 };
  const { kty, crv, x, y } = otherKey.publicJwk;
  const jwk = { kty, crv, x, y };
  const token = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', jwk }).sign(otherKey.privateKey);
  await refused(t, verifier()(token), 'token_signature_invalid', token);
  const withKid = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: otherKey.kid, jwk }).sign(otherKey.privateKey);
  await refused(t, verifier()(withKid), 'token_key_unknown', withKid);
});

test('refused: critical header extensions', async (t) => {
  const token = handBuilt({ alg: 'ES256', kid: key.kid, crit: ['exp'], exp: 1 }, { iss: served.issuer, sub: 's', aud: AUD, iat: NOW_SEC, exp: NOW_SEC + 60 }, 'c2ln');
  await refused(t, verifier()(token), 'token_invalid');
});

/** The Principal without its token facts (checked on their own in test/identity/normalise.test.ts). */
function withoutToken<P extends { token?: unknown }>(p: P): Omit<P, 'token'> {
  const { token: _token, ...rest } = p;
  return rest;
}

// Attack review of issue 16: base64url has spare bits in its last character, and Buffer ignores
// them, so one signed token had several spellings — the signature's is not covered by the
// signature — each verified, each with its own sha256, so a vote's "which token said so"
// (Principal.token.sha256) could name a string the issuer never issued.
test('refused: a non-canonical base64url spelling of a valid token\'s signature (spare bits set in the last character)', async (t) => {
  const token = await mint();
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const [h, p, s] = token.split('.') as [string, string, string];
  t.not((s.length * 6) % 8, 0, 'an ES256 signature (64 bytes) leaves spare bits');
  for (const flip of [1, 2, 3]) {
    const respelled = s.slice(0, -1) + ALPHABET[ALPHABET.indexOf(s.at(-1)!) ^ flip];
    t.deepEqual(Buffer.from(respelled, 'base64url'), Buffer.from(s, 'base64url'), 'the same bytes');
    const forged = `${h}.${p}.${respelled}`;
    await refused(t, verifier()(forged), 'token_invalid', forged);
  }
  t.is((await verifier()(token)).subject, 'alice@acme.com');
});
