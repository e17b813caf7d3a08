// Attack review of issues 2 and 16: what one trusted issuer may say about a caller is not what
// another may. Two real dev issuers (their JWKS served over HTTP), every token through createVerifier.
//
// 1. Groups: with two issuers, issuer B's token claiming `dba` (or `auditors`) was in `dba` —
//    whoever runs B could give anyone the groups A (or the policy's email lists) grants. A groups
//    claim now grants only the groups its issuer lists in `claimGroups`, and with more than one
//    issuer a `groupsClaim` without `claimGroups` is refused at start-up.
// 2. Emails: a JWKS issuer's token without `email_verified` was trusted for its `email`, so an
//    issuer that lets users type any address could be alice@acme.com and match `email:` rules,
//    approver lists and the policy's groups. The email is now used only when `email_verified` is
//    true, unless the issuer is marked `emailVerified: trusted` in the policy.
import test from 'ava';
import { SignJWT } from 'jose';
import { createVerifier } from '../../shared/identity/index.ts';
import type { IssuerConfig } from '../../shared/policy/types.ts';
import { loadOrCreateDevKey, type DevIssuerKey } from '../../infra/dev-issuer.ts';
import { serveDevIssuer, tempDir, type ServedIssuer } from './helpers.ts';

const AUD = 'gatehouse-local';
const NOW = new Date('2031-03-04T05:06:07Z');
const NOW_SEC = Math.floor(NOW.getTime() / 1000);
const GROUPS = { dba: ['alice@acme.com'], auditors: ['carol@acme.com'], readers: [] };

let keyA: DevIssuerKey;
let keyB: DevIssuerKey;
let a: ServedIssuer;
let b: ServedIssuer;

test.before(async () => {
  keyA = await loadOrCreateDevKey(await tempDir());
  keyB = await loadOrCreateDevKey(await tempDir());
  a = await serveDevIssuer(keyA);
  b = await serveDevIssuer(keyB);
});
test.after.always(async () => {
  await a?.close();
  await b?.close();
});

const cfg = (s: ServedIssuer, more: Partial<IssuerConfig> = {}): IssuerConfig => ({ issuer: s.issuer, audience: AUD, jwksUri: s.jwksUri, ...more });

function verifier(issuers: IssuerConfig[]) {
  return createVerifier({ issuers, groups: GROUPS, clock: () => NOW });
}

function sign(s: ServedIssuer, key: DevIssuerKey, claims: Record<string, unknown>): Promise<string> {
  return new SignJWT({ iss: s.issuer, aud: AUD, iat: NOW_SEC, exp: NOW_SEC + 600, ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .sign(key.privateKey);
}

test('two issuers: a groupsClaim without claimGroups is refused at start-up (any of them could name any group)', (t) => {
  t.throws(() => verifier([cfg(a, { groupsClaim: 'groups', claimGroups: ['dba'] }), cfg(b, { groupsClaim: 'groups' })]), {
    instanceOf: TypeError,
    message: /issuers\[1\].*claimGroups/,
  });
  t.notThrows(() => verifier([cfg(a, { groupsClaim: 'groups' })]), 'one issuer: nobody else could assert its groups');
});

test('issuer B claiming A\'s groups gets only the groups B is trusted for', async (t) => {
  const verify = verifier([cfg(a, { groupsClaim: 'groups', claimGroups: ['dba', 'auditors'] }), cfg(b, { groupsClaim: 'groups', claimGroups: ['readers'] })]);
  const claimed = ['dba', 'auditors', 'readers', 'DBA', 'dba ', 'review-bots'];
  t.deepEqual((await verify(await sign(b, keyB, { sub: 'mallory', groups: claimed }))).groups, ['readers']);
  t.deepEqual((await verify(await sign(a, keyA, { sub: 'ops-1', groups: claimed }))).groups, ['auditors', 'dba']);
});

test('an issuer without groupsClaim gets no group from a claim, whatever its name', async (t) => {
  const verify = verifier([cfg(a, { groupsClaim: 'groups', claimGroups: ['dba'] }), cfg(b)]);
  for (const name of ['groups', 'roles', 'cognito:groups']) {
    t.deepEqual((await verify(await sign(b, keyB, { sub: 'mallory', [name]: ['dba', 'auditors'] }))).groups, []);
  }
});

test('one issuer with claimGroups: its claim is filtered too', async (t) => {
  const verify = verifier([cfg(a, { groupsClaim: 'groups', claimGroups: ['readers'] })]);
  t.deepEqual((await verify(await sign(a, keyA, { sub: 'x', groups: ['readers', 'auditors', 'dba'] }))).groups, ['readers']);
});

test('claimGroups is checked: a non-empty list of distinct names, only with a groupsClaim', (t) => {
  for (const bad of [[], [''], 'dba', [1], ['dba', 'dba']] as unknown[]) {
    t.throws(() => verifier([cfg(a, { groupsClaim: 'groups', claimGroups: bad as string[] })]), { instanceOf: TypeError, message: /claimGroups/ });
  }
  t.throws(() => verifier([cfg(a, { claimGroups: ['dba'] })]), { instanceOf: TypeError, message: /claimGroups.*groupsClaim/ });
});

test('a JWKS issuer\'s email without email_verified: true is not an identity (no email, no email groups)', async (t) => {
  const verify = verifier([cfg(a), cfg(b)]);
  for (const email_verified of [undefined, 'true', 1, null, false, 'yes']) {
    const p = await verify(await sign(b, keyB, { sub: 'mallory', email: 'alice@acme.com', ...(email_verified === undefined ? {} : { email_verified }) }));
    t.is(p.email, undefined, `email_verified ${JSON.stringify(email_verified)}`);
    t.deepEqual(p.groups, [], `email_verified ${JSON.stringify(email_verified)}`);
  }
  const p = await verify(await sign(b, keyB, { sub: 'alice-b', email: 'alice@acme.com', email_verified: true }));
  t.is(p.email, 'alice@acme.com');
  t.deepEqual(p.groups, ['dba']);
});

test('emailVerified: trusted makes an issuer\'s email usable without email_verified, never against an explicit non-true', async (t) => {
  const verify = verifier([cfg(a, { emailVerified: 'trusted' }), cfg(b)]);
  const p = await verify(await sign(a, keyA, { sub: 'alice-a', email: 'alice@acme.com' }));
  t.is(p.email, 'alice@acme.com');
  t.deepEqual(p.groups, ['dba']);
  for (const email_verified of [false, 'true', 0]) {
    t.is((await verify(await sign(a, keyA, { sub: 'alice-a', email: 'alice@acme.com', email_verified }))).email, undefined);
  }
  t.is((await verify(await sign(b, keyB, { sub: 'mallory', email: 'alice@acme.com' }))).email, undefined, 'only the issuer marked trusted');
});

test('emailVerified is checked: required or trusted, and never trusted for Google', (t) => {
  for (const bad of ['yes', true, '']) {
    t.throws(() => verifier([cfg(a, { emailVerified: bad as 'trusted' })]), { instanceOf: TypeError, message: /emailVerified/ });
  }
  t.notThrows(() => verifier([cfg(a, { emailVerified: 'required' })]));
  t.throws(() => verifier([{ issuer: 'https://accounts.google.com', audience: AUD, emailVerified: 'trusted' }]), { instanceOf: TypeError, message: /emailVerified/ });
});

// Held (regression tests for the attack review): spellings of a trusted issuer, and one issuer's
// key presented under the other's name.
test('held: iss spelled with a trailing slash, another case or a fragment is not the trusted issuer', async (t) => {
  const verify = verifier([cfg(a), cfg(b)]);
  const upperHost = a.issuer.replace('http://', 'HTTP://');
  for (const iss of [`${a.issuer}/`, a.issuer.replace('/dev', '/DEV'), upperHost, `${a.issuer}#`, ` ${a.issuer}`]) {
    const token = await sign(a, keyA, { iss, sub: 'x' });
    const error = await t.throwsAsync(verify(token));
    t.is((error as { code?: string }).code, 'token_issuer_not_allowed', iss);
  }
});

test('held: a kid of issuer A in a token from issuer B (signed with A\'s key) is not A\'s key', async (t) => {
  const verify = verifier([cfg(a), cfg(b)]);
  const forged = await new SignJWT({ iss: b.issuer, aud: AUD, iat: NOW_SEC, exp: NOW_SEC + 600, sub: 'x' })
    .setProtectedHeader({ alg: keyA.alg, kid: keyA.kid })
    .sign(keyA.privateKey);
  const error = await t.throwsAsync(verify(forged));
  t.is((error as { code?: string }).code, 'token_key_unknown');
  const noKid = await new SignJWT({ iss: b.issuer, aud: AUD, iat: NOW_SEC, exp: NOW_SEC + 600, sub: 'x' }).setProtectedHeader({ alg: keyA.alg }).sign(keyA.privateKey);
  t.is(((await t.throwsAsync(verify(noKid))) as { code?: string }).code, 'token_signature_invalid', 'without a kid, B\'s keys are tried, and none verifies');
});
