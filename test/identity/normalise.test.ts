// Identity normalisation and token limits (issue 14 item 5): one way to compare people, tokens
// whose identity claims are not in normal form refused, token lifetimes bounded by the policy.
import test from 'ava';
import { SignJWT } from 'jose';
import { createVerifier } from '../../shared/identity/index.ts';
import { emailKey, isInNormalForm, possiblySameEmail, sameEmail } from '../../shared/identity/normalise.ts';
import { samePerson } from '../../shared/approvals/people.ts';
import { parsePolicy } from '../../shared/policy/index.ts';
import type { IssuerConfig } from '../../shared/policy/types.ts';
import { isGatehouseError } from '../../shared/errors.ts';
import { loadOrCreateDevKey, type DevIssuerKey } from '../../infra/dev-issuer.ts';
import { refused, serveDevIssuer, tempDir, type ServedIssuer } from './helpers.ts';

const AUD = 'gatehouse-local';
const NOW = new Date('2031-03-04T05:06:07Z');
const NOW_SEC = Math.floor(NOW.getTime() / 1000);

let key: DevIssuerKey;
let served: ServedIssuer;
test.before(async () => {
  key = await loadOrCreateDevKey(await tempDir());
  served = await serveDevIssuer(key);
});
test.after.always(async () => {
  await served?.close();
});

function verifier(more: Partial<IssuerConfig> = {}) {
  const issuer: IssuerConfig = { issuer: served.issuer, audience: AUD, jwksUri: served.jwksUri, ...more };
  return createVerifier({ issuers: [issuer], groups: { dba: ['alice@acme.com'] }, clock: () => NOW });
}

function token(claims: Record<string, unknown> = {}, lifetimeSec = 600): Promise<string> {
  return new SignJWT({ iss: served.issuer, aud: AUD, sub: 'alice@acme.com', email: 'alice@acme.com', iat: NOW_SEC - 10, exp: NOW_SEC - 10 + lifetimeSec, ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid })
    .sign(key.privateKey);
}

// Variants of one address an attacker (or a sloppy issuer) can produce.
const FULLWIDTH = 'ａｌｉｃｅ@acme.com'; // NFKC → alice@acme.com
const LIGATURE = 'ﬁnance@acme.com'; // NFKC → finance@acme.com
const VARIANTS = ['alice@acme.com ', ' alice@acme.com', 'alice@acme.com\t', 'alice@acme.com\u00a0', FULLWIDTH, 'alice@ACME.com', 'ALICE@acme.com', 'Alice@Acme.Com'];

test('emailKey: NFKC, trimmed, domain case-folded; the local part folded for gmail and Google service accounts only', (t) => {
  t.is(emailKey(' alice@ACME.com '), 'alice@acme.com');
  t.is(emailKey(FULLWIDTH), 'alice@acme.com');
  t.is(emailKey(LIGATURE), 'finance@acme.com');
  t.is(emailKey('Alice@acme.com'), 'Alice@acme.com', 'acme.com may be case-sensitive: not folded for grants');
  t.is(emailKey('Alice.Smith@GMail.com'), 'alice.smith@gmail.com');
  t.is(emailKey('Alice@googlemail.com'), 'alice@googlemail.com');
  t.is(emailKey('Deploy@my-proj.iam.gserviceaccount.com'), 'deploy@my-proj.iam.gserviceaccount.com');
  t.is(emailKey('123-compute@developer.gserviceaccount.com'.toUpperCase()), '123-compute@developer.gserviceaccount.com');
  t.false(sameEmail('Alice@acme.com', 'alice@acme.com'), 'a grant does not merge them');
  t.true(possiblySameEmail('Alice@acme.com', 'alice@acme.com'), 'a refusal does');
});

test('every variant of one email is the same person for self-approval and quorum distinctness', (t) => {
  const alice = { issuer: 'https://a.example', subject: 'a-1', email: 'alice@acme.com' };
  for (const email of VARIANTS) {
    t.true(samePerson(alice, { issuer: 'https://b.example', subject: 'b-9', email }), JSON.stringify(email));
  }
  t.false(samePerson(alice, { issuer: 'https://b.example', subject: 'b-9', email: 'alicia@acme.com' }));
  t.true(samePerson({ issuer: 'https://a.example', subject: 'a-1' }, { issuer: 'https://a.example ', subject: 'a-1 ' }), 'issuer and subject after trimming');
});

test('isInNormalForm refuses surrounding space, NFKC-changing characters and control characters', (t) => {
  t.true(isInNormalForm('alice@acme.com'));
  t.true(isInNormalForm('1029384756'));
  for (const s of [' a', 'a ', 'a\n', FULLWIDTH, LIGATURE, 'al\u0000ice', 'al\u0085ice', 'al\u2028ice', 'e\u0301']) t.false(isInNormalForm(s), JSON.stringify(s));
});

test('a token whose email or subject changes under normalisation is refused (token_claims_invalid)', async (t) => {
  const verify = verifier();
  t.is((await verify(await token())).email, 'alice@acme.com');
  for (const email of ['alice@acme.com ', ' alice@acme.com', FULLWIDTH, LIGATURE, 'alice@acme.com\u0000']) {
    const tok = await token({ email });
    await refused(t, verify(tok), 'token_claims_invalid', tok);
  }
  for (const sub of ['alice@acme.com ', '\talice', FULLWIDTH, '１２３']) {
    const tok = await token({ sub, email: undefined });
    await refused(t, verify(tok), 'token_claims_invalid', tok);
  }
  // An unverified (hence unused) email does not refuse the token: it is not an identity.
  t.is((await verify(await token({ email: ' x@y.z', email_verified: false }))).email, undefined);
});

test('group membership by email uses the normalised key: domain case folds, the local part does not', async (t) => {
  const verify = verifier();
  t.deepEqual((await verify(await token({ email: 'alice@ACME.COM' }))).groups, ['dba']);
  t.deepEqual((await verify(await token({ email: 'Alice@acme.com' }))).groups, []);
});

test('a 10-year JWKS token is refused; the default limit is 24 h from iat to exp', async (t) => {
  const verify = verifier();
  for (const lifetime of [10 * 365 * 86400, 24 * 3600 + 1, 7 * 86400]) {
    const tok = await token({}, lifetime);
    const e = await t.throwsAsync(verify(tok));
    t.true(isGatehouseError(e, 'token_claims_invalid'), `${lifetime}s: ${e?.message}`);
    t.deepEqual((e as any).details, { claim: 'exp' });
  }
  t.is((await verify(await token({}, 24 * 3600))).subject, 'alice@acme.com', 'exactly 24 h is accepted');
});

test('issuers[].maxTokenLifetime tightens (or widens up to 7d) the limit per issuer', async (t) => {
  const strict = verifier({ maxTokenLifetimeSec: 3600 });
  await refused(t, strict(await token({}, 3601)), 'token_claims_invalid');
  t.truthy(await strict(await token({}, 3600)));
  const wide = verifier({ maxTokenLifetimeSec: 2 * 86400 });
  t.truthy(await wide(await token({}, 36 * 3600)));
  t.throws(() => verifier({ maxTokenLifetimeSec: 0 }), { instanceOf: TypeError });
});

test('the policy file spells it maxTokenLifetime: a duration, at most 7d', (t) => {
  const file = (extra: string) => `version: 1
issuers:
  - issuer: https://issuer.example.com
    audience: x
    jwksUri: https://issuer.example.com/jwks.json
${extra}
connections:
  main:
    credentials: env://DB
rules:
  - name: r
    action: deny
`;
  t.is(parsePolicy(file('    maxTokenLifetime: 1h'), 'p.yaml').issuers[0]!.maxTokenLifetimeSec, 3600);
  t.is(parsePolicy(file(''), 'p.yaml').issuers[0]!.maxTokenLifetimeSec, undefined, 'absent: the 24 h default applies');
  for (const bad of ['8d', '10y', '0s', 'forever']) {
    t.throws(() => parsePolicy(file(`    maxTokenLifetime: ${bad}`), 'p.yaml'), undefined, bad);
  }
});
