// `npm start` uses the default state dir `.gatehouse`, a RELATIVE path. The embedded databases
// listen on Unix sockets under it, and a connection string's host is a socket directory only when
// it is absolute: a relative one was once taken for a host name (ENOTFOUND) and start failed.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'ava';
import { loadOrCreateDevKey, mintDevToken } from '../../infra/dev-issuer.ts';
import { freePort } from '../../infra/free-port.ts';

const BOT = 'relative-bot@example.com';

test('gatehouse start with a relative --state-dir (the default is .gatehouse) starts and runs a query on the demo database', async (t) => {
  t.timeout(300_000);
  const cwd = mkdtempSync(join(tmpdir(), 'gatehouse-relative-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const port = await freePort();
  writeFileSync(
    join(cwd, 'policy.yaml'),
    `version: 1
issuers:
  - issuer: http://127.0.0.1:${port}/dev
    audience: gatehouse-local
    jwksUri: http://127.0.0.1:${port}/dev/jwks.json
groups:
  bots: [${BOT}]
connections:
  demo:
    credentials: embedded://demo
rules:
  - name: bots-read
    principals: [group:bots]
    classes: [read]
    action: allow
  - name: nothing-else
    action: deny
`,
  );
  // The launcher (dist/ when built, else tsx), by absolute path: the working directory is elsewhere.
  const child = spawn(process.execPath, [resolve('bin/gatehouse.js'), 'start', '--policy', 'policy.yaml', '--port', String(port), '--state-dir', '.gatehouse'], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => void (child.exitCode === null && child.kill('SIGKILL')));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const deadline = Date.now() + 240_000;
  while (!stdout.includes('Gatehouse is listening') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.is(child.exitCode, null, stderr);
  t.true(stdout.includes('Gatehouse is listening'), stdout + stderr);

  const token = await mintDevToken(await loadOrCreateDevKey(join(cwd, '.gatehouse')), { issuer: `http://127.0.0.1:${port}/dev`, sub: BOT, aud: 'gatehouse-local', ttlSec: 600 });
  const r = await fetch(`http://127.0.0.1:${port}/v1/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ connection: 'demo', sql: 'SELECT count(*) AS n FROM customers' }),
  });
  const body = (await r.json()) as { status?: string; rows?: unknown[][] };
  t.is(r.status, 200, JSON.stringify(body));
  t.is(body.status, 'executed');
  t.true(Number(body.rows?.[0]?.[0]) > 0);
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  await exited;
});
