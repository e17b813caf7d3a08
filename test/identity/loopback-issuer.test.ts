// Attack review of issue 14 item 6 (a local user against the embedded gateway): an issuer whose
// keys come over plain HTTP from a loopback port is only as trustworthy as whoever holds that
// port. `gatehouse start --port 9090` with the shipped policy (issuer http://127.0.0.1:8080/dev)
// left 8080 to anyone on the machine: a local user serving their own JWKS there minted a token
// for alice (a DBA) or carol (an auditor) and the gateway believed it. Start now refuses a policy
// that trusts a plain-HTTP loopback JWKS this server does not serve itself.
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startEmbedded, type Embedded } from '../../infra/embedded.ts';
import { freePort } from '../../infra/free-port.ts';
import { loadOrCreateDevKey, mintDevToken } from '../../infra/dev-issuer.ts';

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
  // and its own tokens verify (its keys answered in process, not over its port)
  const token = await mintDevToken(await loadOrCreateDevKey(join(dir, 'state')), { issuer: `http://127.0.0.1:${port}/dev`, sub: 'reader@acme.com', aud: 'gatehouse-local' });
  const r = await fetch(`${g.url}/v1/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ connection: 'demo', sql: 'SELECT 1' }),
  });
  t.is(r.status, 200, await r.text());
});

// The same squatter, at the one moment the gateway's own port is free while it still verifies
// tokens: a graceful stop closes the listening socket, then lets requests already in flight
// finish. A request whose body was still arriving carried a token with a key id the gateway had
// not seen; its keys were refetched from the gateway's own (now released) port — served by then by
// someone else.
test.serial('during a graceful stop, the dev issuer\'s keys are not fetched from the port just released', async (t) => {
  t.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-squat-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}/dev`;
  writeFileSync(join(dir, 'policy.yaml'), policy(issuer));
  const g = await startEmbedded({ policyPath: join(dir, 'policy.yaml'), stateDir: join(dir, 'state'), port });
  t.teardown(() => g.close());

  // A request in flight: headers sent, the body not yet complete.
  const body = JSON.stringify({ connection: 'demo', sql: 'SELECT 1' });
  const sock = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  let answer = '';
  sock.on('data', (d: Buffer) => (answer += d.toString()));
  const ended = new Promise<void>((resolve) => sock.once('close', () => resolve()));
  // the squatter's key, unknown to the gateway; signed once the squatter exists (below)
  const headers = (token: string) =>
    [`POST /v1/query HTTP/1.1`, `Host: 127.0.0.1:${port}`, `Authorization: Bearer ${token}`, 'Content-Type: application/json', `Content-Length: ${body.length}`, '', ''].join('\r\n');
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'squat', alg: 'ES256', use: 'sig' };
  const token = await new SignJWT({ email: 'reader@acme.com', email_verified: true })
    .setProtectedHeader({ alg: 'ES256', kid: 'squat' })
    .setIssuer(issuer)
    .setAudience('gatehouse-local')
    .setSubject('reader@acme.com')
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(privateKey);
  sock.write(headers(token) + body.slice(0, 5));
  while (g.inFlight() < 1) await new Promise((r) => setTimeout(r, 10));

  const stopping = g.shutdown(20_000);
  // The port comes free; someone else takes it and serves their key as the dev issuer's.
  let fetched = 0;
  const squat: Server = createServer((req, res) => {
    fetched++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      squat.once('error', () => resolve(false));
      squat.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) break;
    if (i > 500) return t.fail('the port never came free');
    await new Promise((r) => setTimeout(r, 10));
  }
  t.teardown(() => new Promise<void>((resolve) => squat.close(() => resolve())));
  const sent = Date.now();
  sock.write(body.slice(5));
  await ended;
  await stopping;
  t.is(fetched, 0, `the gateway fetched its own issuer's keys from whoever held its port; it answered (${Date.now() - sent} ms): ${answer.split('\r\n')[0]} ${answer.slice(answer.indexOf('\r\n\r\n') + 4, 300)}`);
  t.regex(answer, /^HTTP\/1\.1 401 /, answer);
});
