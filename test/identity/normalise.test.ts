// Identity normalisation and token limits (issue 14 item 5): one way to compare people, tokens
// whose identity claims are not in normal form refused, token lifetimes bounded by the policy.
import test from 'ava';
import { SignJWT } from 'jose';
import { createVerifier } from '../../shared/identity/index.ts';
import { emailKey, isEmailInNormalForm, isInNormalForm, possiblySameEmail, sameEmail } from '../../shared/identity/normalise.ts';
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
  return new SignJWT({ iss: served.issuer, aud: AUD, sub: 'alice@acme.com', email: 'alice@acme.com', email_verified: true, iat: NOW_SEC - 10, exp: NOW_SEC - 10 + lifetimeSec, ...claims })
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

test('a token that expires before (or as) it was issued is refused, even while its exp is within the clock tolerance', async (t) => {
  const verify = verifier();
  for (const claims of [{ iat: NOW_SEC + 20, exp: NOW_SEC + 10 }, { iat: NOW_SEC, exp: NOW_SEC }, { iat: NOW_SEC - 5, exp: NOW_SEC - 6 }]) {
    const e = await t.throwsAsync(verify(await token(claims)));
    t.true(isGatehouseError(e, 'token_claims_invalid'), `${JSON.stringify(claims)}: ${e?.message}`);
    t.deepEqual((e as any).details, { claim: 'exp' });
  }
  t.truthy(await verify(await token({ iat: NOW_SEC, exp: NOW_SEC + 1 })), 'one second of life is enough');
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

// Attack review of issue 14: spellings NFKC and trimming leave alone, but that reach (or look
// like) the same person. Each of these, under a second trusted issuer, approved alice's own
// request before the review.
const INVISIBLE = [
  'alice\u200b@acme.com', // zero-width space
  'ali\u200dce@acme.com', // zero-width joiner
  'ali\u00adce@acme.com', // soft hyphen
  'alice\u202e@acme.com', // right-to-left override
  'alice\ufe0f@acme.com', // variation selector
  'alice\u{e0041}@acme.com', // tag character
  'alice\u{f0000}@acme.com', // private use
  'alice\u0378@acme.com', // unassigned
  'alice\ud800@acme.com', // lone surrogate
  'ali ce@acme.com', // a space inside (also \u3000, the ideographic space)
  'alice\u3000@acme.com',
];

test('invisible, private-use, unassigned and white-space characters are refused in an email (and invisibles in a subject)', async (t) => {
  const verify = verifier();
  for (const email of INVISIBLE) {
    t.false(isEmailInNormalForm(email), JSON.stringify(email));
    const tok = await token({ email });
    await refused(t, verify(tok), 'token_claims_invalid', tok);
  }
  for (const sub of ['a-1\u200b', '\u2060a-1', 'a\u{e0001}1']) {
    t.false(isInNormalForm(sub), JSON.stringify(sub));
    const tok = await token({ sub, email: undefined });
    await refused(t, verify(tok), 'token_claims_invalid', tok);
  }
  t.true(isInNormalForm('Jane Doe'), 'a subject may hold an inner space; an email may not');
  t.false(isEmailInNormalForm('Jane Doe@acme.com'));
  t.true(isEmailInNormalForm('josé@acmé.com'), 'internationalised addresses in NFC are fine');
});

test('the domain is compared as one DNS name: case, trailing dot, IDNA U-label or A-label, ideographic full stop', (t) => {
  for (const email of ['alice@acme.com.', 'alice@ACME.COM.', 'alice@acme\u3002com']) t.is(emailKey(email), 'alice@acme.com', JSON.stringify(email));
  t.is(emailKey('alice@bücher.example'), 'alice@xn--bcher-kva.example');
  t.is(emailKey('alice@XN--BCHER-KVA.example.'), 'alice@xn--bcher-kva.example');
  t.true(sameEmail('alice@Bücher.example', 'alice@xn--bcher-kva.example'), 'one domain: the same mailbox for grants too');
  t.false(sameEmail('Alice@bücher.example', 'alice@xn--bcher-kva.example'), 'the local part still keeps its case for grants');
  t.is(emailKey(emailKey('Alice@Bücher.example.')), emailKey('Alice@Bücher.example.'), 'idempotent: signed votes hold emailKey() and are keyed again');
});

test('refusal side: look-alikes, full case folding, +tags and Gmail dots are one person; grants are not widened by them', (t) => {
  const alice = { issuer: 'https://a.example', subject: 'a-1', email: 'alice@acme.com' };
  const sameAsAlice = [
    'alice@acme.com.', 'alice@ACME.com.', 'alice@acme\u3002com', // the domain
    'alice+approver@acme.com', // subaddress
    '"alice"@acme.com', // quoted local part
    '\u0430lice@acme.com', '\u0430l\u0456c\u0435@acme.com', // Cyrillic а, і, е
    'al\u03b9ce@acme.com', // Greek iota
    'al\u0131ce@acme.com', 'AL\u0130CE@acme.com', // Turkish dotless ı, dotted İ
    'alicé@acme.com', // a mark on a letter
  ];
  for (const email of sameAsAlice) {
    t.true(samePerson(alice, { issuer: 'https://b.example', subject: 'b-9', email }), JSON.stringify(email));
    t.true(possiblySameEmail(email, 'alice@acme.com'), JSON.stringify(email));
  }
  const gmail = { issuer: 'https://accounts.google.com', subject: '1234', email: 'alice.smith@gmail.com' };
  for (const email of ['alicesmith@gmail.com', 'a.l.i.c.e.s.m.i.t.h@gmail.com', 'Alice.Smith+ops@gmail.com', 'alicesmith@googlemail.com']) {
    t.true(samePerson(gmail, { issuer: 'https://b.example', subject: 'b-9', email }), email);
  }
  t.true(possiblySameEmail('STRASSE@acme.com', 'straße@acme.com'), 'ß folds to ss');
  // Not one person: other mailboxes, and the dots of a non-Gmail domain.
  for (const email of ['alicia@acme.com', 'alice@acme.co', 'alice@acme.com.evil', 'a.lice@acme.com', 'bob+alice@acme.com']) {
    t.false(samePerson(alice, { issuer: 'https://b.example', subject: 'b-9', email }), email);
  }
  // None of this grants: group membership and email: patterns use emailKey() equality only.
  for (const email of ['alice+x@acme.com', '\u0430lice@acme.com', 'a.lice@gmail.com', '"alice"@acme.com']) {
    t.false(sameEmail(email, email.includes('gmail') ? 'alice@gmail.com' : 'alice@acme.com'), email);
  }
});

test('refusal side, fourth round: look-alikes in the domain (Cyrillic, accents, their Punycode) and Latin small capitals are one person; grants are not widened', (t) => {
  const alice = { issuer: 'https://a.example', subject: 'a-1', email: 'alice@acme.com' };
  for (const email of ['alice@\u0430cme.com', 'alice@acm\u0435.com', 'alice@\u00e1cme.com', 'alice@xn--cme-5cd.com', 'alice@\u0410CME.com', '\u1d00lice@acme.com', '\u1d00\u029f\u026a\u1d04\u1d07@acme.com']) {
    t.true(samePerson(alice, { issuer: 'https://b.example', subject: 'b-9', email }), JSON.stringify(email));
    t.false(sameEmail(email, 'alice@acme.com'), `not alice for a grant: ${JSON.stringify(email)}`);
  }
  t.true(possiblySameEmail('alice@gmail.com', 'a.lice@gma\u0131l.com'), 'a look-alike of gmail.com is Gmail on the refusal side');
  for (const email of ['alice@acme.com.evil', 'alice@acme.co', 'alice@acne.com', 'alice@evil-acme.com']) {
    t.false(samePerson(alice, { issuer: 'https://b.example', subject: 'b-9', email }), email);
  }
});

test('group membership by email: a trailing-dot or IDNA spelling of the domain is the member; a look-alike is not', async (t) => {
  const verify = verifier();
  t.deepEqual((await verify(await token({ email: 'alice@acme.com.' }))).groups, ['dba']);
  t.deepEqual((await verify(await token({ email: 'alice@acme\u3002com' }))).groups, ['dba']);
  t.deepEqual((await verify(await token({ email: '\u0430lice@acme.com' }))).groups, [], 'Cyrillic а: not alice for a grant');
  t.deepEqual((await verify(await token({ email: 'alice+x@acme.com' }))).groups, [], 'a +tag: not alice for a grant');
});

test('an email-shaped subject names its person too (refusal side): under another issuer, with no email claim, it is alice', (t) => {
  const alice = { issuer: 'https://a.example', subject: 'a-1', email: 'alice@acme.com' };
  t.true(samePerson(alice, { issuer: 'https://b.example', subject: 'alice@acme.com' }));
  t.true(samePerson({ issuer: 'https://a.example', subject: 'alice@acme.com' }, { issuer: 'https://b.example', subject: 'ALICE@acme.com.' }));
  t.false(samePerson(alice, { issuer: 'https://b.example', subject: '1234567890' }), 'an opaque subject names no one else');
  t.false(samePerson(alice, { issuer: 'https://b.example', subject: 'bob@acme.com' }));
});

test('token lifetime edges: a fraction over 24 h, a huge exp, an ancient iat, an iat in the future, none at all — each refused', async (t) => {
  const verify = verifier();
  const at = (claims: Record<string, unknown>) => new SignJWT({ iss: served.issuer, aud: AUD, sub: 'alice@acme.com', ...claims }).setProtectedHeader({ alg: key.alg, kid: key.kid }).sign(key.privateKey);
  const cases: [string, Record<string, unknown>, string][] = [
    ['24 h and half a second', { iat: NOW_SEC - 10, exp: NOW_SEC - 10 + 86400.5 }, 'exp'],
    ['exp in the year 33658', { iat: NOW_SEC - 10, exp: 1e12 }, 'exp'],
    ['exp 1e300', { iat: NOW_SEC - 10, exp: 1e300 }, 'exp'],
    ['iat 30 days ago, exp in a minute', { iat: NOW_SEC - 30 * 86400, exp: NOW_SEC + 60 }, 'exp'],
    ['iat negative', { iat: -1, exp: NOW_SEC + 60 }, 'exp'],
    ['iat an hour ahead', { iat: NOW_SEC + 3600, exp: NOW_SEC + 7200 }, 'iat'],
    ['no iat', { exp: NOW_SEC + 60 }, 'iat'],
    ['iat a string', { iat: String(NOW_SEC), exp: NOW_SEC + 60 }, 'iat'],
  ];
  for (const [name, claims, claim] of cases) {
    const e = await t.throwsAsync(verify(await at(claims)));
    t.true(isGatehouseError(e, 'token_claims_invalid'), `${name}: ${e?.message}`);
    t.deepEqual((e as any).details, { claim }, name);
  }
  t.truthy(await verify(await at({ iat: NOW_SEC - 10, exp: NOW_SEC - 10 + 86400 })), 'exactly 24 h');
});

// Second attack review: characters Unicode files as letters or symbols, not as format or
// ignorable ones, that still render as nothing. `alice⠀@acme.com` (a Braille blank) looked like
// alice in every view, was accepted from a token, and was someone else for self-approval.
test('blank-rendering symbols (Braille pattern blank) are refused like the invisibles, and are one person on the refusal side', async (t) => {
  const verify = verifier();
  for (const email of ['alice\u2800@acme.com', '\u2800alice@acme.com', 'ali\u2800ce@acme.com']) {
    t.false(isEmailInNormalForm(email), JSON.stringify(email));
    const tok = await token({ email });
    await refused(t, verify(tok), 'token_claims_invalid', tok);
    t.true(possiblySameEmail(email, 'alice@acme.com'), `${JSON.stringify(email)} is alice for refusals`);
  }
  t.false(isInNormalForm('a-1\u2800'));
  const tok = await token({ sub: 'bot\u2800', email: undefined });
  await refused(t, verify(tok), 'token_claims_invalid', tok);
});

// Attack review (issue 14 item 5, third round): the domain was keyed by node:url's domainToASCII,
// a URL host parser. It stops at '#', '/', '?' and '\', percent-decodes, and rewrites IPv4 forms,
// so `bob@acme.com#.evil.com` — a name under evil.com to anyone who reads it as a domain — was
// bob@acme.com for grants: bob's policy groups and `email:bob@acme.com` rules.
const NOT_A_DOMAIN = [
  'acme.com#.evil.com', 'acme.com/.evil.com', 'acme.com?.evil.com', 'acme.com\\.evil.com', // URL delimiters
  'acme%2ecom', '%61cme.com', // percent-escapes
  'acme.com:443', '[127.0.0.1]', '0x7f.1', '127.1', // ports and address literals
  'acme..com', '.acme.com', 'acme.com..', '-acme.com', 'acme-.com', // empty or ill-formed labels
];

test('an email whose domain is no DNS name (URL delimiters, percent-escapes, ports, address literals) is refused at the door and never grants', async (t) => {
  const verify = verifier();
  for (const domain of NOT_A_DOMAIN) {
    const email = `alice@${domain}`;
    t.false(sameEmail(email, 'alice@acme.com'), `grant side: ${email} is not alice@acme.com`);
    t.false(isEmailInNormalForm(email), email);
    const tok = await token({ email });
    await refused(t, verify(tok), 'token_claims_invalid', tok);
  }
  // Still fine: case, a trailing dot, an IDN in either form, the ideographic full stop.
  for (const email of ['alice@ACME.com', 'alice@acme.com.', 'alice@bücher.example', 'alice@xn--bcher-kva.example', 'alice@acme\u3002com']) {
    t.true(isEmailInNormalForm(email), email);
  }
  t.deepEqual((await verify(await token({ email: 'alice@ACME.com.' }))).groups, ['dba']);
});

test('an email whose local part holds what mail software reads as syntax (comments, lists, routes) is refused at the door', async (t) => {
  // `alice(ops)@acme.com` is alice@acme.com to an RFC 5322 parser (a comment): a mailer that
  // verified it delivered to alice, and Gatehouse took it for a second person.
  const verify = verifier();
  for (const email of ['alice(ops)@acme.com', '(ops)alice@acme.com', 'alice,bob@acme.com', '<alice>@acme.com', 'alice;x@acme.com', 'al\\ice@acme.com', '@relay:alice@acme.com', 'alice@', '@acme.com', 'alice']) {
    t.false(isEmailInNormalForm(email), email);
    const tok = await token({ email });
    await refused(t, verify(tok), 'token_claims_invalid', tok);
  }
  for (const email of ["o'brien@acme.com", 'alice+ops@acme.com', 'a.l.i.c.e@acme.com', '"alice"@acme.com', 'josé@acmé.com', 'x_y-z!#$%&*/=?^`{|}~@acme.com']) {
    t.true(isEmailInNormalForm(email), email);
  }
});

test('the policy refuses an email (pattern or group member) whose domain is no DNS name', (t) => {
  const base = (extra: string) => `version: 1
issuers:
  - issuer: https://issuer.example
    audience: gatehouse
    jwksUri: https://issuer.example/jwks.json
${extra}
connections:
  main:
    credentials: env://X
rules:
  - name: r
    principals: [group:dba]
    action: allow
`;
  t.notThrows(() => parsePolicy(base('groups:\n  dba: [alice@acme.com]'), 'p.yaml'));
  for (const bad of ['alice@acme.com#.evil.com', 'alice@acme%2ecom', 'alice(x)@acme.com']) {
    t.throws(() => parsePolicy(base(`groups:\n  dba: ['${bad}']`), 'p.yaml'), { message: /email address/ }, bad);
  }
});

test('refusal side: an email-shaped subject with an RFC 5322 comment (no email claim) is still the person it names', (t) => {
  // Subjects are opaque, so the door does not refuse `alice(ops)@acme.com` as a sub; a mailer reads
  // it as alice@acme.com, and so does the refusal side now.
  const alice = { issuer: 'https://a.example', subject: 'a-1', email: 'alice@acme.com' };
  for (const subject of ['alice(ops)@acme.com', '(ops)alice@acme.com', 'al(x)ice@acme.com']) {
    t.true(samePerson(alice, { issuer: 'https://b.example', subject }), subject);
  }
  t.false(sameEmail('alice(ops)@acme.com', 'alice@acme.com'), 'never a grant');
});

test('refusal side: a subject that is a mailto: or acct: URI of alice\'s address is alice', (t) => {
  const alice = { issuer: 'https://a.example', subject: 'a-1', email: 'alice@acme.com' };
  for (const subject of ['mailto:alice@acme.com', 'MAILTO:Alice@acme.com', 'acct:alice@acme.com']) {
    t.true(samePerson(alice, { issuer: 'https://b.example', subject }), subject);
  }
  t.false(samePerson(alice, { issuer: 'https://b.example', subject: 'mailto:bob@acme.com' }));
  t.false(samePerson(alice, { issuer: 'https://b.example', subject: 'https://acme.com/alice@acme.com' }), 'other URIs name no mailbox');
});
