// Step 1's cost per token (issue 17 item 6): jose's jwtVerify against a remote JWKS (what the
// gateway did before), the node:crypto verifier with KeyObjects cached per kid (what it does now,
// claims checks included), and a token-cache hit (policy issuers[].tokenCache). ES256 and RS256,
// each token distinct (a jti per token), keys served over real loopback HTTP and fetched once.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify, SignJWT } from 'jose';
import { createVerifier } from '../shared/identity/index.ts';

const TOKENS = 2000;

interface Timing {
  readonly medianUs: number;
  readonly p99Us: number;
}

export async function benchIdentity(): Promise<Record<string, Record<string, Timing>>> {
  const keys = (['ES256', 'RS256'] as const).map((alg) => {
    const { privateKey, publicKey } = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
    return { alg, kid: `k-${alg}`, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid: `k-${alg}`, alg, use: 'sig' } };
  });
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: keys.map((k) => k.jwk) })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/iss`;
  const jwksUri = `${issuer}/jwks.json`;
  const out: Record<string, Record<string, Timing>> = {};
  try {
    const now = Math.floor(Date.now() / 1000);
    for (const key of keys) {
      const tokens = await Promise.all(
        Array.from({ length: TOKENS }, (_, i) =>
          new SignJWT({ iss: issuer, aud: 'bench', sub: `bot-${i % 7}`, iat: now, exp: now + 600, jti: `t${i}` })
            .setProtectedHeader({ alg: key.alg, kid: key.kid })
            .sign(key.privateKey),
        ),
      );
      const remote = createRemoteJWKSet(new URL(jwksUri));
      const joseVerify = (t: string) => jwtVerify(t, remote, { algorithms: [key.alg], issuer, audience: 'bench', requiredClaims: ['exp', 'iat', 'sub'] });
      const verify = createVerifier({ issuers: [{ issuer, audience: 'bench', jwksUri }], groups: {} });
      const cached = createVerifier({ issuers: [{ issuer, audience: 'bench', jwksUri, tokenCacheSec: 60 }], groups: {} });
      // Warm each (JIT, key fetch) on the first tokens, then time them over all of them.
      for (const t of tokens.slice(0, 200)) {
        await joseVerify(t);
        await verify(t);
      }
      for (const t of tokens) await cached(t);
      out[key.alg] = {
        joseJwtVerify: await timeEach(tokens, joseVerify),
        nodeCryptoCachedKeys: await timeEach(tokens, verify),
        tokenCacheHit: await timeEach(tokens, cached),
      };
    }
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return out;
}

async function timeEach(tokens: readonly string[], f: (t: string) => Promise<unknown>): Promise<Timing> {
  const us: number[] = [];
  for (const t of tokens) {
    const start = process.hrtime.bigint();
    await f(t);
    us.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  us.sort((a, b) => a - b);
  const at = (q: number) => Math.round(us[Math.min(us.length - 1, Math.floor(q * us.length))]! * 10) / 10;
  return { medianUs: at(0.5), p99Us: at(0.99) };
}
