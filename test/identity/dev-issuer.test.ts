import { chmod, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import test from 'ava';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { devJwks, devKeyPath, loadOrCreateDevKey, mintDevToken, parseTtl } from '../../infra/dev-issuer.ts';
import { serveDevIssuer, tempDir } from './helpers.ts';

const posix = process.platform !== 'win32';

test('the key is created once, kept 0600 in a 0700 dir, and reloaded with the same kid', async (t) => {
  const stateDir = await tempDir();
  const first = await loadOrCreateDevKey(stateDir);
  const again = await loadOrCreateDevKey(stateDir);
  t.is(again.kid, first.kid);
  t.deepEqual(again.publicJwk, first.publicJwk);
  t.regex(first.kid, /^[A-Za-z0-9_-]{43}$/);
  if (posix) {
    t.is((await stat(devKeyPath(stateDir))).mode & 0o777, 0o600);
    t.is((await stat(dirname(devKeyPath(stateDir)))).mode & 0o777, 0o700);
  }
  const stored = JSON.parse(await readFile(devKeyPath(stateDir), 'utf8')) as Record<string, unknown>;
  t.is(stored.kid, first.kid);
});

test('two processes starting at once end up with one key', async (t) => {
  const stateDir = await tempDir();
  const keys = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateDevKey(stateDir)));
  t.is(new Set(keys.map((k) => k.kid)).size, 1);
});

test('a key file others can read is refused', async (t) => {
  if (!posix) return t.pass();
  const stateDir = await tempDir();
  await loadOrCreateDevKey(stateDir);
  await chmod(devKeyPath(stateDir), 0o644);
  await t.throwsAsync(loadOrCreateDevKey(stateDir), { message: /chmod 600/ });
});

test('the JWKS holds the public key only', async (t) => {
  const key = await loadOrCreateDevKey(await tempDir());
  const jwks = devJwks(key);
  t.is(jwks.keys.length, 1);
  const [jwk] = jwks.keys;
  for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']) t.false(Object.hasOwn(jwk ?? {}, secret), secret);
  t.deepEqual(Object.keys(jwk ?? {}).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
  t.is(jwk?.kid, key.kid);
  jwks.keys.pop();
  t.is(devJwks(key).keys.length, 1, 'callers cannot change what is served');
});

test('mintDevToken: claims and header', async (t) => {
  const key = await loadOrCreateDevKey(await tempDir());
  const now = new Date('2030-01-01T00:00:00Z');
  const token = await mintDevToken(key, { issuer: 'http://127.0.0.1:8080/dev', sub: 'alice@acme.com', aud: 'gatehouse-local', groups: ['dba'], now });
  t.deepEqual(decodeProtectedHeader(token), { alg: 'ES256', kid: key.kid, typ: 'JWT' });
  const iat = now.getTime() / 1000;
  t.deepEqual(decodeJwt(token), {
    iss: 'http://127.0.0.1:8080/dev',
    sub: 'alice@acme.com',
    aud: 'gatehouse-local',
    iat,
    exp: iat + 3600,
    email: 'alice@acme.com',
    email_verified: true,
    groups: ['dba'],
  });
  const bare = decodeJwt(await mintDevToken(key, { issuer: 'i', sub: 'ci-job', aud: 'a', ttlSec: 90, now }));
  t.false('email' in bare);
  t.false('groups' in bare);
  t.is(bare.exp, iat + 90);
  await t.throwsAsync(mintDevToken(key, { issuer: 'i', sub: '', aud: 'a' }), { instanceOf: TypeError });
  await t.throwsAsync(mintDevToken(key, { issuer: 'i', sub: 's', aud: 'a', ttlSec: 0 }), { instanceOf: TypeError });
});

test('parseTtl', (t) => {
  t.is(parseTtl('90s'), 90);
  t.is(parseTtl('30m'), 1800);
  t.is(parseTtl('1h'), 3600);
  t.is(parseTtl('2d'), 172800);
  for (const bad of ['', '1', 'h', '0s', '-1h', '1.5h', '1w', '1 h', '01h', '1H', 'soon']) {
    t.throws(() => parseTtl(bad), { instanceOf: TypeError, message: /90s, 30m, 1h, 2d/ }, bad);
  }
});

test('routes: JWKS and discovery document over HTTP, nothing else, GET only', async (t) => {
  const key = await loadOrCreateDevKey(await tempDir());
  const served = await serveDevIssuer(key);
  try {
    const jwks = await fetch(served.jwksUri);
    t.is(jwks.status, 200);
    t.deepEqual(await jwks.json(), devJwks(key));
    const discovery = await fetch(`${served.issuer}/.well-known/openid-configuration?x=1`);
    t.like(await discovery.json(), { issuer: served.issuer, jwks_uri: served.jwksUri, id_token_signing_alg_values_supported: ['ES256'] });
    t.is((await fetch(`${served.issuer}/token`, { method: 'POST' })).status, 404, 'falls through: there is no minting endpoint');
    t.is((await fetch(`${served.baseUrl}/jwks.json`)).status, 404);
    const post = await fetch(served.jwksUri, { method: 'POST' });
    t.is(post.status, 405);
  } finally {
    await served.close();
  }
});
