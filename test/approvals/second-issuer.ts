// A second trusted OIDC issuer for the tests: its own key, its JWKS served over HTTP. Used to show
// that the same person (by email) under another issuer is still the same person.
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { freePort } from '../../infra/free-port.ts';

export interface SecondIssuer {
  readonly issuer: string;
  /** `emailVerified` defaults to true; `null` leaves the claim out (an issuer that omits it). */
  token(claims: { sub: string; email?: string; groups?: string[]; aud: string; emailVerified?: unknown }): Promise<string>;
  close(): Promise<void>;
}

export async function startSecondIssuer(): Promise<SecondIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'second-1', alg: 'ES256', use: 'sig' };
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}/other`;
  const server = createServer((req, res) => {
    if (req.url === '/other/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  return {
    issuer,
    token: ({ sub, email, groups, aud, emailVerified = true }) =>
      new SignJWT({ ...(email ? { email, ...(emailVerified === null ? {} : { email_verified: emailVerified }) } : {}), ...(groups ? { groups } : {}) })
        .setProtectedHeader({ alg: 'ES256', kid: 'second-1' })
        .setIssuer(issuer)
        .setAudience(aud)
        .setSubject(sub)
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(privateKey),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
