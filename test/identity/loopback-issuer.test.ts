// Attack review of issue 14 item 6 (a local user against the embedded gateway): an issuer whose
// keys come over plain HTTP from a loopback port is only as trustworthy as whoever holds that
// port. `gatehouse start --port 9090` with the shipped policy (issuer http://127.0.0.1:8080/dev)
// left 8080 to anyone on the machine: a local user serving their own JWKS there minted a token
// for alice (a DBA) or carol (an auditor) and the gateway believed it. Start now refuses a policy
// that trusts a plain-HTTP loopback JWKS this server does not serve itself.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startEmbedded, type Embedded } from '../../infra/embedded.ts';
import { freePort } from '../../infra/free-port.ts';

const policy = (issuer: string, jwksHost = '127.0.0.1') => {
  const u = new URL(issuer);
  return `version: 1
issuers:
  - issuer: ${issuer}
    audience: gatehouse-local
    jwksUri: http://${jwksHost}:${u.port}${u.pathname}/jwks.json
    groupsClaim: groups
groups:
  auditors: [carol@acme.com]
  readers: [reader@acme.com]
connections:
  demo:
    credentials: embedded://demo
rules:
  - name: readers
    principals: [group:readers]
    classes: [read]
    action: allow
  - name: nothing-else
    action: deny
`;
};

/** Someone else on the machine: their own key, served as a JWKS on a loopback port. */
async function squatter(port: number, host = '127.0.0.1') {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'squat', alg: 'ES256', use: 'sig' };
  let fetched = 0;
  const server: Server = createServer((req, res) => {
    fetched++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    fetched: () => fetched,
    token: (issuer: string) =>
      new SignJWT({ email: 'reader@acme.com', email_verified: true, groups: ['auditors'] })
        .setProtectedHeader({ alg: 'ES256', kid: 'squat' })
        .setIssuer(issuer)
        .setAudience('gatehouse-local')
        .setSubject('reader@acme.com')
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(privateKey),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

for (const [name, jwksHost, listenHost] of [
  ['127.0.0.1', '127.0.0.1', '127.0.0.1'],
  ['localhost', 'localhost', '127.0.0.1'],
  ['[::1]', '[::1]', '::1'],
] as const) {
  test.serial(`start refuses to trust a plain-HTTP loopback JWKS (${name}) on a port it does not hold`, async (t) => {
    t.timeout(120_000);
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-squat-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const squatPort = await freePort();
    const issuer = `http://127.0.0.1:${squatPort}/dev`; // what the policy trusts (the shipped one says 8080)
    const other = await squatter(squatPort, listenHost);
    t.teardown(() => other.close());
    writeFileSync(join(dir, 'policy.yaml'), policy(issuer, jwksHost));
    let g: Embedded | undefined;
    try {
      g = await startEmbedded({ policyPath: join(dir, 'policy.yaml'), stateDir: join(dir, 'state'), port: await freePort() });
    } catch (e) {
      t.regex(String((e as Error).message), /does not serve|plain HTTP/);
      return;
    }
    t.teardown(() => g!.close());
    // Before the fix: the squatter's token was believed.
    const r = await fetch(`${g.url}/v1/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await other.token(issuer)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ connection: 'demo', sql: 'SELECT 1' }),
    });
    t.fail(`gatehouse start trusted keys served by someone else on ${name}:${squatPort}: ${r.status} ${await r.text()} (JWKS fetched ${other.fetched()} times)`);
  });
}

test.serial('start still runs with its own dev issuer on its own port', async (t) => {
  t.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-squat-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  writeFileSync(join(dir, 'policy.yaml'), policy(`http://127.0.0.1:${port}/dev`));
  const g = await startEmbedded({ policyPath: join(dir, 'policy.yaml'), stateDir: join(dir, 'state'), port });
  t.teardown(() => g.close());
  t.is((await fetch(`${g.url}/healthz`)).status, 200);
});
