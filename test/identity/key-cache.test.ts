// The node:crypto verifier's own guarantees (issue 17 item 6): KeyObjects cached per kid, a
// refetch on an unknown kid (rate-limited), key rotation, algorithm confusion in both key types,
// and the optional token cache (policy issuers[].tokenCache) with its limits. A real HTTP server
// serves a JWKS the test changes mid-run; tokens are signed by jose, as an issuer would.
import { createHmac, createPublicKey, generateKeyPairSync, sign as rawSign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { SignJWT } from 'jose';
import { createVerifier } from '../../shared/identity/index.ts';
import { REFRESH_COOLDOWN_MS } from '../../shared/identity/key-set.ts';
import type { IssuerConfig } from '../../shared/policy/types.ts';
import { GatehouseError } from '../../shared/errors.ts';
import { parsePolicy } from '../../shared/policy/index.ts';
import { BASE, edit } from '../policy/fixtures.ts';
import { b64url, handBuilt, refused } from './helpers.ts';

const AUD = 'gatehouse-test';
const NOW = new Date('2031-03-04T05:06:07Z');
const NOW_SEC = Math.floor(NOW.getTime() / 1000);

interface Key {
  readonly kid: string;
  readonly alg: 'ES256' | 'RS256';
  readonly privateKey: KeyObject;
  readonly jwk: Record<string, unknown>;
}

function newKey(alg: 'ES256' | 'RS256', kid: string, bits = 2048): Key {
  const { privateKey, publicKey } = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: bits });
  return { kid, alg, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg } };
}

/** A JWKS endpoint whose keys the test sets, counting fetches. */
interface Jwks {
  readonly issuer: string;
  readonly uri: string;
  keys: Record<string, unknown>[];
  fetches: number;
  close(): Promise<void>;
}

async function serveJwks(keys: Record<string, unknown>[]): Promise<Jwks> {
  const state = { keys, fetches: 0 };
  const server: Server = createServer((req, res) => {
    state.fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}/iss`;
  return {
    issuer,
    uri: `${issuer}/jwks.json`,
    get keys() {
      return state.keys;
    },
    set keys(k) {
      state.keys = k;
    },
    get fetches() {
      return state.fetches;
    },
    set fetches(n) {
      state.fetches = n;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function claims(issuer: string, more: Record<string, unknown> = {}) {
  return { iss: issuer, sub: 'bot-1', aud: AUD, iat: NOW_SEC, exp: NOW_SEC + 300, ...more };
}

function sign(key: Key, payload: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey);
}

/** A verifier with a movable wall clock and a movable monotonic clock (for the refetch cooldown). */
function verifierFor(jwks: Jwks, more: Partial<IssuerConfig> = {}, audience: string = AUD) {
  const clock = { now: NOW, mono: 1_000_000 };
  const verify = createVerifier({
    issuers: [{ issuer: jwks.issuer, audience, jwksUri: jwks.uri, ...more }],
    groups: {},
    clock: () => clock.now,
    keyClock: () => clock.mono,
  });
  return { verify, clock };
}

const es = newKey('ES256', 'es-1');
const rs = newKey('RS256', 'rs-1');

test('RS256 and ES256 tokens verify against the published keys; the set is fetched once for many tokens', async (t) => {
  const jwks = await serveJwks([es.jwk, rs.jwk]);
  t.teardown(() => jwks.close());
  const { verify } = verifierFor(jwks);
  for (let i = 0; i < 5; i++) {
    t.is((await verify(await sign(es, claims(jwks.issuer, { jti: `e${i}` })))).subject, 'bot-1');
    t.is((await verify(await sign(rs, claims(jwks.issuer, { jti: `r${i}` })))).subject, 'bot-1');
  }
  t.is(jwks.fetches, 1);
});

test('alg confusion: HS256 keyed with the public key, `none`, and an alg that does not match the key type are refused (both key types)', async (t) => {
  const jwks = await serveJwks([es.jwk, rs.jwk]);
  t.teardown(() => jwks.close());
  const { verify } = verifierFor(jwks);
  for (const key of [es, rs]) {
    const body = claims(jwks.issuer);
    // HMAC with the key's public PEM and with its JWK text as the secret: what a confused verifier would accept.
    const pem = createPublicKey(key.privateKey).export({ type: 'spki', format: 'pem' });
    for (const secret of [pem, JSON.stringify(key.jwk)]) {
      const input = `${b64url({ alg: 'HS256', kid: key.kid })}.${b64url(body)}`;
      const mac = createHmac('sha256', secret).update(input).digest('base64url');
      await refused(t, verify(`${input}.${mac}`), 'token_algorithm_not_allowed');
    }
    for (const alg of ['none', 'None', 'NONE', 'HS512', 'PS256', 'ES384', 'EdDSA', '']) {
      const token = handBuilt({ alg, kid: key.kid }, body, '');
      await refused(t, verify(token), 'token_algorithm_not_allowed');
    }
    // The other allowed alg named over this key's kid: no key of that type carries the kid.
    const other = key.alg === 'ES256' ? 'RS256' : 'ES256';
    const swapped = `${b64url({ alg: other, kid: key.kid })}.${b64url(body)}.${Buffer.alloc(key.alg === 'ES256' ? 256 : 64).toString('base64url')}`;
    await refused(t, verify(swapped), 'token_key_unknown');
  }
});

test('an ES256 signature in DER form, or truncated, or padded, is refused', async (t) => {
  const jwks = await serveJwks([es.jwk]);
  t.teardown(() => jwks.close());
  const { verify } = verifierFor(jwks);
  const good = await sign(es, claims(jwks.issuer));
  t.is((await verify(good)).subject, 'bot-1');
  const [h, p, s] = good.split('.') as [string, string, string];
  const raw = Buffer.from(s, 'base64url');
  const der = rawSign('sha256', Buffer.from(`${h}.${p}`), es.privateKey);
  for (const sig of [der, raw.subarray(0, 63), Buffer.concat([raw, Buffer.from([0])]), Buffer.alloc(64)]) {
    await refused(t, verify(`${h}.${p}.${sig.toString('base64url')}`), 'token_signature_invalid');
  }
});

test('a kid not in the JWKS: one refetch, then refused; within the cooldown no refetch at all', async (t) => {
  const jwks = await serveJwks([es.jwk]);
  t.teardown(() => jwks.close());
  const { verify, clock } = verifierFor(jwks);
  await verify(await sign(es, claims(jwks.issuer)));
  t.is(jwks.fetches, 1);
  const stranger = newKey('ES256', 'not-published');
  const forged = await sign(stranger, claims(jwks.issuer));
  // Inside the cooldown after the first fetch: refused without asking the issuer.
  for (let i = 0; i < 20; i++) await refused(t, verify(forged), 'token_key_unknown', forged);
  t.is(jwks.fetches, 1, 'a flood of unknown kids must not become a flood of fetches');
  clock.mono += REFRESH_COOLDOWN_MS;
  await refused(t, verify(forged), 'token_key_unknown', forged);
  t.is(jwks.fetches, 2, 'after the cooldown an unknown kid refetches once');
  await refused(t, verify(forged), 'token_key_unknown', forged);
  t.is(jwks.fetches, 2);
  // The same forged key named by a kid the set DOES have: the kid picks the real key, which fails.
  const underRealKid = await sign(stranger, claims(jwks.issuer), { kid: es.kid });
  await refused(t, verify(underRealKid), 'token_signature_invalid', underRealKid);
});

test('rotation: a new kid is fetched and accepted; a retired key is refused once the set is refetched', async (t) => {
  const jwks = await serveJwks([es.jwk]);
  t.teardown(() => jwks.close());
  const { verify, clock } = verifierFor(jwks);
  await verify(await sign(es, claims(jwks.issuer)));
  const next = newKey('ES256', 'es-2');
  jwks.keys = [next.jwk];
  clock.mono += REFRESH_COOLDOWN_MS;
  t.is((await verify(await sign(next, claims(jwks.issuer)))).subject, 'bot-1');
  t.is(jwks.fetches, 2);
  // The old kid is no longer in the refetched set.
  clock.mono += REFRESH_COOLDOWN_MS;
  await refused(t, verify(await sign(es, claims(jwks.issuer, { jti: 'after-rotation' }))), 'token_key_unknown');
});

test('keys the JWKS publishes for something else are never used: use=enc, another alg, weak RSA, a private JWK used as public only', async (t) => {
  const enc = newKey('ES256', 'enc');
  const wrongAlg = newKey('ES256', 'wrong-alg');
  const weak = newKey('RS256', 'weak', 1024);
  const priv = newKey('ES256', 'with-d');
  const withD = { ...(priv.privateKey.export({ format: 'jwk' }) as Record<string, unknown>), kid: 'with-d', alg: 'ES256' };
  const jwks = await serveJwks([{ ...enc.jwk, use: 'enc' }, { ...wrongAlg.jwk, alg: 'ES384' }, weak.jwk, withD]);
  t.teardown(() => jwks.close());
  const { verify } = verifierFor(jwks);
  await refused(t, verify(await sign(enc, claims(jwks.issuer))), 'token_key_unknown');
  await refused(t, verify(await sign(wrongAlg, claims(jwks.issuer))), 'token_key_unknown');
  // jose will not even sign with a 1024-bit key; node:crypto will, as an attacker's tool would.
  const input = `${b64url({ alg: 'RS256', kid: 'weak' })}.${b64url(claims(jwks.issuer))}`;
  const weakToken = `${input}.${rawSign('sha256', Buffer.from(input), weak.privateKey).toString('base64url')}`;
  await refused(t, verify(weakToken), 'token_key_unknown');
  // A published private key still only verifies (and the JWKS's owner signs with it as usual).
  t.is((await verify(await sign(priv, claims(jwks.issuer)))).subject, 'bot-1');
});

test('the claim checks jose did are all still made (iss, aud list, exp/nbf/iat with skew, lifetime, sub)', async (t) => {
  const jwks = await serveJwks([rs.jwk]);
  t.teardown(() => jwks.close());
  const { verify } = verifierFor(jwks, { audience: [AUD, 'second'] });
  const ok = (more: Record<string, unknown>) => sign(rs, claims(jwks.issuer, more));
  t.is((await verify(await ok({ aud: ['x', 'second'] }))).subject, 'bot-1');
  await refused(t, verify(await ok({ aud: 'other' })), 'token_audience_mismatch');
  await refused(t, verify(await ok({ aud: ['x', 'y'] })), 'token_audience_mismatch');
  await refused(t, verify(await ok({ exp: NOW_SEC - 31 })), 'token_expired');
  t.is((await verify(await ok({ exp: NOW_SEC - 29, iat: NOW_SEC - 100 }))).subject, 'bot-1', 'within the 30 s skew');
  await refused(t, verify(await ok({ nbf: NOW_SEC + 31 })), 'token_claims_invalid');
  await refused(t, verify(await ok({ iat: NOW_SEC + 31 })), 'token_claims_invalid');
  await refused(t, verify(await ok({ exp: NOW_SEC + 25 * 3600 })), 'token_claims_invalid');
  await refused(t, verify(await ok({ sub: undefined })), 'token_claims_invalid');
  await refused(t, verify(await ok({ exp: '9999999999' })), 'token_claims_invalid');
  // iss in the payload is the issuer's own: a token naming another configured issuer is checked against THAT one's keys.
  await refused(t, verify(await ok({ iss: 'http://127.0.0.1:1/elsewhere' })), 'token_issuer_not_allowed');
});

test('token cache off by default: a key withdrawn from the JWKS refuses the very token it accepted before', async (t) => {
  const jwks = await serveJwks([es.jwk]);
  t.teardown(() => jwks.close());
  const { verify, clock } = verifierFor(jwks);
  const token = await sign(es, claims(jwks.issuer));
  await verify(token);
  jwks.keys = [];
  clock.mono += 11 * 60_000; // past the key set's max age: refetched before use
  await refused(t, verify(token), 'token_key_unknown', token);
});

test('token cache: a withdrawn key is honoured until the entry expires (the documented trade-off), then refused', async (t) => {
  const jwks = await serveJwks([es.jwk]);
  t.teardown(() => jwks.close());
  const { verify, clock } = verifierFor(jwks, { tokenCacheSec: 30 });
  const token = await sign(es, claims(jwks.issuer));
  const first = await verify(token);
  jwks.keys = [];
  clock.mono += 11 * 60_000;
  const again = await verify(token);
  t.is(again, first, 'answered from the cache');
  t.true(Object.isFrozen(again) && Object.isFrozen(again.groups), 'a cached Principal is shared, so frozen');
  clock.now = new Date(NOW.getTime() + 30_000);
  await refused(t, verify(token), 'token_key_unknown', token);
});

test('token cache: a token that expires while cached is refused at its exp, not at the TTL', async (t) => {
  const jwks = await serveJwks([es.jwk]);
  t.teardown(() => jwks.close());
  const { verify, clock } = verifierFor(jwks, { tokenCacheSec: 60 });
  const token = await sign(es, claims(jwks.issuer, { exp: NOW_SEC + 10 }));
  await verify(token);
  clock.now = new Date(NOW.getTime() + 9_000);
  t.is((await verify(token)).subject, 'bot-1');
  clock.now = new Date(NOW.getTime() + 10_000);
  // Not from the cache (until = exp) and then within the 30 s skew verification accepts it again;
  // past exp + skew it is refused outright.
  clock.now = new Date(NOW.getTime() + 41_000);
  await refused(t, verify(token), 'token_expired', token);
});

test('token cache: a token cached by one deployment is not honoured by another with other audiences', async (t) => {
  const jwks = await serveJwks([es.jwk]);
  t.teardown(() => jwks.close());
  const a = verifierFor(jwks, { tokenCacheSec: 60 });
  const b = verifierFor(jwks, { tokenCacheSec: 60 }, 'another-audience');
  const token = await sign(es, claims(jwks.issuer));
  t.is((await a.verify(token)).subject, 'bot-1');
  await refused(t, b.verify(token), 'token_audience_mismatch', token);
  // And a refusal is never cached: the same verifier refuses a second time too.
  await refused(t, b.verify(token), 'token_audience_mismatch', token);
  // A token altered by one byte is another token: verified, and refused.
  const [h, p, s] = token.split('.') as [string, string, string];
  const altered = `${h}.${b64url({ ...claims(jwks.issuer), sub: 'admin' })}.${s}`;
  t.not(p, altered.split('.')[1]);
  await refused(t, a.verify(altered), 'token_signature_invalid', altered);
});

test('policy: issuers[].tokenCache is a duration of at most 60s, absent by default', (t) => {
  const withCache = (line: string) => edit(BASE, '    jwksUri: http://127.0.0.1:8080/dev/jwks.json', `    jwksUri: http://127.0.0.1:8080/dev/jwks.json\n${line}`);
  t.is(parsePolicy(withCache('    tokenCache: 45s'), 'p.yaml').issuers[0]!.tokenCacheSec, 45);
  t.is(parsePolicy(BASE, 'p.yaml').issuers[0]!.tokenCacheSec, undefined);
  for (const bad of ['2m', '61s', 'forever', '-1s']) t.throws(() => parsePolicy(withCache(`    tokenCache: ${bad}`), 'p.yaml'), { instanceOf: GatehouseError }, bad);
  t.throws(() => createVerifier({ issuers: [{ issuer: 'https://i.example', audience: 'x', jwksUri: 'https://i.example/j', tokenCacheSec: 61 }], groups: {} }), { instanceOf: TypeError });
});

test('concurrent tokens with a new kid share one refetch', async (t) => {
  const jwks = await serveJwks([es.jwk]);
  t.teardown(() => jwks.close());
  const { verify, clock } = verifierFor(jwks);
  await verify(await sign(es, claims(jwks.issuer)));
  const next = newKey('ES256', 'es-concurrent');
  jwks.keys = [es.jwk, next.jwk];
  clock.mono += REFRESH_COOLDOWN_MS;
  const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => sign(next, claims(jwks.issuer, { jti: `c${i}` }))));
  const principals = await Promise.all(tokens.map((tk) => verify(tk)));
  t.true(principals.every((p) => p.subject === 'bot-1'));
  t.is(jwks.fetches, 2);
});

test('a JWKS endpoint that never answers is dependency_unavailable within the timeout, and the next token tries again', async (t) => {
  const { createServer: create } = await import('node:http');
  const hanging = create(() => {}); // accepts, never answers
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    hanging.closeAllConnections();
    hanging.close(() => resolve());
  }));
  const issuer = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/iss`;
  const verify = createVerifier({ issuers: [{ issuer, audience: AUD, jwksUri: `${issuer}/jwks.json` }], groups: {}, clock: () => NOW, jwksTimeoutMs: 200 });
  const token = await sign(es, claims(issuer));
  await refused(t, verify(token), 'dependency_unavailable', token);
  await refused(t, verify(token), 'dependency_unavailable', token);
});

// Attack review of issue 16: the JWKS body was read whole (res.text()) and only then measured, so
// an issuer's key URL answering 64 MiB — or an endless stream, until the timeout — was held in
// memory by every gateway that fetched it. Now the read stops at the cap, and a declared length
// over it is refused unread. The server counts what it managed to hand over before the client left.
for (const declared of [false, true]) {
  test(`a huge JWKS (${declared ? 'declared Content-Length' : 'chunked, no length'}) is refused without being read whole: dependency_unavailable`, async (t) => {
    const TOTAL = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let written = 0;
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', ...(declared ? { 'content-length': String(TOTAL + 9) } : {}) });
      res.write('{"keys":[');
      const pump = (): void => {
        while (written < TOTAL && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (written >= TOTAL) res.end(']}', finished);
      };
      res.on('close', finished);
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/iss`;
    const verify = createVerifier({ issuers: [{ issuer, audience: AUD, jwksUri: `${issuer}/jwks.json` }], groups: {}, clock: () => NOW, jwksTimeoutMs: 60_000 });
    const token = await sign(es, claims(issuer));
    await refused(t, verify(token), 'dependency_unavailable', token);
    await done;
    t.true(written < TOTAL, `the gateway read ${written} bytes of a ${TOTAL}-byte key set`);
  });
}

test('a JWKS that answers at once but trickles its body forever is dependency_unavailable at the timeout, not held open', async (t) => {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"keys":[');
    const drip = setInterval(() => (res.destroyed ? clearInterval(drip) : res.write(' ')), 20);
    res.on('close', () => clearInterval(drip));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/iss`;
  const verify = createVerifier({ issuers: [{ issuer, audience: AUD, jwksUri: `${issuer}/jwks.json` }], groups: {}, clock: () => NOW, jwksTimeoutMs: 300 });
  const token = await sign(es, claims(issuer));
  await refused(t, verify(token), 'dependency_unavailable', token);
});
