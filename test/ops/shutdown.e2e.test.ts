// Graceful shutdown. In process: shutdown() stops accepting at once, lets the request in flight
// finish, and cuts what outlives the deadline. As a process: `gatehouse start` on SIGTERM answers
// the request in flight, says what it did, and exits 0.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { loadOrCreateDevKey, mintDevToken } from '../../infra/dev-issuer.ts';
import { freePort } from '../../infra/free-port.ts';
import { SLOW_BOT, startOpsGateway, type OpsGateway } from './fixture.ts';

test('shutdown(): the request in flight completes, new connections are refused, the report counts it', async (t) => {
  const gw = await startOpsGateway();
  t.teardown(() => gw.close());
  await warm(gw);
  const slow = gw.query('SELECT pg_sleep(1)', {}, SLOW_BOT);
  await until(() => gw.server.inFlight() >= 1);
  const stopping = gw.server.shutdown(10_000);
  await until(() => gw.server.stopping());
  // no new connection is accepted while the old request runs on
  await t.throwsAsync(fetch(`${gw.url}/healthz`));
  const answer = await slow;
  t.is(answer.status, 200, JSON.stringify(answer.body));
  t.is(answer.body.status, 'executed');
  const report = await stopping;
  t.like(report, { inFlight: 1, finished: 1, abandoned: 0 });
  // and its line was written
  t.true(gw.lines().some((l) => l.httpRequest?.status === 200 && l.subject === SLOW_BOT));
});

test('shutdown(): a request that outlives the deadline is cut, and shutdown still returns', async (t) => {
  const gw = await startOpsGateway();
  t.teardown(() => gw.close());
  await warm(gw);
  const slow = gw.query('SELECT pg_sleep(5)', {}, SLOW_BOT).then(
    (r) => r.status,
    () => 'cut',
  );
  await until(() => gw.server.inFlight() >= 1);
  const started = Date.now();
  const report = await gw.server.shutdown(300);
  t.true(Date.now() - started < 4000);
  t.like(report, { inFlight: 1, finished: 0, abandoned: 1 });
  t.is(await slow, 'cut');
});

function policy(port: number): string {
  return `version: 1
issuers:
  - issuer: http://127.0.0.1:${port}/dev
    audience: gatehouse-local
    jwksUri: http://127.0.0.1:${port}/dev/jwks.json
groups:
  slow-bots: [${SLOW_BOT}]
connections:
  demo:
    credentials: embedded://demo
    maxRows: 10
    statementTimeoutMs: 10000
rules:
  - name: slow-bots
    principals: [group:slow-bots]
    classes: [read, unknown]
    action: allow
  - name: nothing-else
    action: deny
`;
}

test('gatehouse start: SIGTERM with a request in flight answers it, logs what it did, and exits 0', async (t) => {
  t.timeout(300_000);
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-shutdown-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const policyPath = join(dir, 'policy.yaml');
  writeFileSync(policyPath, policy(port));
  const stateDir = join(dir, 'state');
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/gatehouse.ts', 'start', '--policy', policyPath, '--port', String(port), '--state-dir', stateDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => void (child.exitCode === null && child.kill('SIGKILL')));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await until(() => stdout.includes('Gatehouse is listening') || child.exitCode !== null, 240_000);
  t.is(child.exitCode, null, stderr);

  const token = await mintDevToken(await loadOrCreateDevKey(stateDir), { issuer: `http://127.0.0.1:${port}/dev`, sub: SLOW_BOT, aud: 'gatehouse-local', ttlSec: 600 });
  const query = (sql: string) =>
    fetch(`http://127.0.0.1:${port}/v1/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'x-agent-model': 'm', 'content-type': 'application/json' },
      body: JSON.stringify({ connection: 'demo', sql }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
  // A first query warms the path (the dev issuer's keys are read in process, so no log line
  // says when the token was verified); the slow one is then in flight well within a second.
  t.is((await query('SELECT 1 AS warm')).status, 200);
  const inFlight = query('SELECT pg_sleep(3) AS slept');
  await new Promise((r) => setTimeout(r, 1000));
  child.kill('SIGTERM');

  const answer = await inFlight;
  t.is(answer.status, 200, JSON.stringify(answer.body));
  t.is(answer.body.status, 'executed');
  t.is(await exited, 0, stderr);
  const lines = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
  const messages = lines.map((l) => String(l.message));
  t.true(messages.some((m) => /^SIGTERM: stopped accepting connections; 1 request\(s\) in flight/.test(m)), messages.join('\n'));
  t.true(messages.some((m) => /^1 in-flight request\(s\) finished/.test(m)), messages.join('\n'));
  t.true(messages.some((m) => /closed the connection pools and the embedded databases/.test(m)), messages.join('\n'));
  // the query's own line came before the stop
  const q = lines.findIndex((l) => l.httpRequest?.requestUrl === '/v1/query');
  t.true(q >= 0);
  t.like(lines[q], { httpRequest: { status: 200 }, subject: SLOW_BOT, decision: 'allow' });
  t.is(lines.filter((l) => !('severity' in l)).length, 0, 'every stdout line is a structured log line (stdout is not a TTY)');
});

/**
 * The token verifier fetches the dev issuer's keys from this same server on first use; once the
 * server stops accepting, it could not. One request first, so the keys are cached.
 */
async function warm(gw: OpsGateway): Promise<void> {
  const r = await gw.query('SELECT 1', {}, SLOW_BOT);
  if (r.status !== 200) throw new Error(`warm-up: ${JSON.stringify(r.body)}`);
}

async function until(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

