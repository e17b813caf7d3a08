// Google-shaped ID tokens signed by a key of our own, handed to the verifier as Google's
// certificates. google-auth-library checks time against the real clock, so these tokens are
// minted around the real now and the verifier keeps its default clock.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import test from 'ava';
import { OAuth2Client } from 'google-auth-library';
import { SignJWT } from 'jose';
import { createVerifier } from '../../shared/identity/index.ts';
import type { IssuerConfig } from '../../shared/policy/types.ts';
import { refused } from './helpers.ts';

const GOOGLE = 'https://accounts.google.com';
const AUD = 'https://gatehouse-query.example.run.app';
const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const AZP = '112233445566778899000';
const GROUPS = { 'review-bots': [BOT], dba: ['alice@acme.com'] };

function rsaKey(): { privateKey: KeyObject; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}
const google = rsaKey();
const stranger = rsaKey();
const certs = async (): Promise<Record<string, string>> => ({ g1: google.pem });

function verifier(more: Partial<IssuerConfig> = {}, googleCerts = certs) {
  return createVerifier({ issuers: [{ issuer: GOOGLE, audience: AUD, ...more }], groups: GROUPS, googleCerts });
}

const nowSec = () => Math.floor(Date.now() / 1000);

function googleToken(
  claims: Record<string, unknown> = {},
  { kid = 'g1', key = google.privateKey, alg = 'RS256' }: { kid?: string; key?: KeyObject; alg?: string } = {},
): Promise<string> {
  const iat = nowSec();
  return new SignJWT({ iss: GOOGLE, aud: AUD, azp: AZP, sub: '1029384756', email: BOT, email_verified: true, iat, exp: iat + 3600, ...claims })
    .setProtectedHeader({ alg, kid, typ: 'JWT' })
    .sign(key);
}

test('a valid Google ID token gives a Principal with the policy groups of its verified email', async (t) => {
  t.deepEqual(withoutToken(await verifier()(await googleToken())), { issuer: GOOGLE, subject: '1029384756', email: BOT, groups: ['review-bots'] });
});

test('the short issuer spelling works when that is the configured issuer', async (t) => {
  const token = await googleToken({ iss: 'accounts.google.com' });
  t.is((await verifier({ issuer: 'accounts.google.com' })(token)).issuer, 'accounts.google.com');
});

test('email_verified false (or the string "true"): no email, so no email-based groups', async (t) => {
  for (const email_verified of [false, 'true', undefined]) {
    const principal = await verifier()(await googleToken({ email_verified }));
    t.deepEqual(withoutToken(principal), { issuer: GOOGLE, subject: '1029384756', groups: [] });
  }
});

test('refused: another audience', async (t) => {
  const token = await googleToken({ aud: 'https://someone-else.example.run.app' });
  await refused(t, verifier()(token), 'token_audience_mismatch', token);
});

// What `gcloud auth print-identity-token` puts in aud: gcloud's OAuth client id.
const GCLOUD = '32555940559.apps.googleusercontent.com';

test('an issuer with a list of audiences accepts a token for the second one (gcloud\'s client id)', async (t) => {
  const principal = await verifier({ audience: [AUD, GCLOUD] })(await googleToken({ aud: GCLOUD, email: 'alice@acme.com' }));
  t.deepEqual(withoutToken(principal), { issuer: GOOGLE, subject: '1029384756', email: 'alice@acme.com', groups: ['dba'] });
});

test('refused: a token for an audience the list does not name', async (t) => {
  const verify = verifier({ audience: [AUD, GCLOUD] });
  for (const aud of ['https://someone-else.example.run.app', '764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur.apps.googleusercontent.com']) {
    const token = await googleToken({ aud });
    await refused(t, verify(token), 'token_audience_mismatch', token);
  }
});

test('refused: issuers google-auth-library accepts by default but the policy does not list', async (t) => {
  for (const iss of ['googleapis.com', 'https://googleapis.com', 'accounts.google.com', 'https://accounts.google.com/']) {
    const token = await googleToken({ iss });
    await refused(t, verifier()(token), 'token_issuer_not_allowed', token);
  }
});

test('refused: expired 120 s ago (inside the library\'s 300 s skew, outside our 30 s)', async (t) => {
  const exp = nowSec() - 120;
  const token = await googleToken({ iat: exp - 3600, exp });
  // The pitfall this guards against: the library alone, given every argument, accepts it.
  await t.notThrowsAsync(new OAuth2Client().verifySignedJwtWithCertsAsync(token, await certs(), AUD, [GOOGLE], 86400));
  await refused(t, verifier()(token), 'token_expired', token);
});

test('refused: expired 400 s ago (the library itself refuses)', async (t) => {
  const exp = nowSec() - 400;
  const token = await googleToken({ iat: exp - 3600, exp });
  await refused(t, verifier()(token), 'token_expired', token);
});

test('refused: issued 120 s in the future', async (t) => {
  const iat = nowSec() + 120;
  const token = await googleToken({ iat, exp: iat + 3600 });
  await refused(t, verifier()(token), 'token_claims_invalid', token);
});

test('refused: azp other than the configured authorized party', async (t) => {
  const token = await googleToken({ azp: '999' });
  await refused(t, verifier({ authorizedParty: AZP })(token), 'token_claims_invalid', token);
  t.is((await verifier({ authorizedParty: AZP })(await googleToken())).subject, '1029384756');
});

test('refused: a kid Google does not publish', async (t) => {
  const token = await googleToken({}, { kid: 'g2' });
  await refused(t, verifier()(token), 'token_key_unknown', token);
});

test('refused: Google\'s kid, another key', async (t) => {
  const token = await googleToken({}, { key: stranger.privateKey });
  await refused(t, verifier()(token), 'token_signature_invalid', token);
});

test('refused: payload changed after signing', async (t) => {
  const token = await googleToken();
  const [header, payload = '', signature] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
  const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, email: 'alice@acme.com' })).toString('base64url')}.${signature}`;
  await refused(t, verifier()(forged), 'token_signature_invalid', forged);
});

test('refused: any algorithm but RS256', async (t) => {
  const payload = Buffer.from(JSON.stringify({ iss: GOOGLE, aud: AUD, sub: 's', iat: nowSec(), exp: nowSec() + 60 })).toString('base64url');
  for (const alg of ['none', 'HS256', 'ES256', 'PS256']) {
    const header = Buffer.from(JSON.stringify({ alg, kid: 'g1' })).toString('base64url');
    await refused(t, verifier()(`${header}.${payload}.c2ln`), 'token_algorithm_not_allowed');
  }
});

test('refused: no sub (google-auth-library does not check it)', async (t) => {
  const token = await googleToken({ sub: undefined });
  await refused(t, verifier()(token), 'token_claims_invalid', token);
});

test('refused: Google\'s certificates cannot be fetched → dependency_unavailable', async (t) => {
  const token = await googleToken();
  const down = async (): Promise<Record<string, string>> => {
    throw new Error('getaddrinfo ENOTFOUND www.googleapis.com');
  };
  await refused(t, verifier({}, down)(token), 'dependency_unavailable', token);
});

/** The Principal without its token facts (checked on their own in test/identity/normalise.test.ts). */
function withoutToken<P extends { token?: unknown }>(p: P): Omit<P, 'token'> {
  const { token: _token, ...rest } = p;
  return rest;
}
