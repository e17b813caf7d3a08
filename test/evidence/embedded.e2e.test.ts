// Export while `gatehouse start` runs on the same embedded store: PGlite lets one process open a
// data directory, so the CLI reads through the session store the running server serves (its
// address is in STATE_DIR/server.json). This runs the real commands as separate processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { loadOrCreateDevKey, mintDevToken } from '../../infra/dev-issuer.ts';
import { freePort } from '../../infra/free-port.ts';
import { runCli, tempDir } from './helpers.ts';

test('evidence export and sessions replay work while gatehouse start holds the embedded store', async (t) => {
  t.timeout(180_000);
  const stateDir = tempDir(t, 'gatehouse-embedded-');
  const port = await freePort();
  const policy = join(stateDir, 'policy.yaml');
  writeFileSync(policy, readFileSync('gatehouse.policy.yaml', 'utf8').replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`));

  const server = spawn(process.execPath, ['--import', 'tsx', 'bin/gatehouse.ts', 'start', '--policy', policy, '--port', String(port), '--state-dir', stateDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => stop(server));
  let log = '';
  server.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes('Gatehouse is listening')) resolve();
    });
    server.once('exit', (code) => reject(new Error(`gatehouse start exited (${code}): ${log}`)));
  });

  const key = await loadOrCreateDevKey(stateDir);
  const token = await mintDevToken(key, { issuer: `http://127.0.0.1:${port}/dev`, sub: 'review-bot@acme-prod.iam.gserviceaccount.com', aud: 'gatehouse-local', ttlSec: 600 });
  const res = await fetch(`http://127.0.0.1:${port}/v1/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'x-agent-model': 'demo-model-1', 'content-type': 'application/json' },
    body: JSON.stringify({ connection: 'demo', sql: 'SELECT id FROM products ORDER BY id LIMIT 2' }),
  });
  const body = (await res.json()) as { sessionId: string; status: string };
  t.is(res.status, 200, JSON.stringify(body));

  const out = join(tempDir(t), 'export');
  const from = new Date(Date.now() - 3600_000).toISOString();
  const to = new Date(Date.now() + 3600_000).toISOString();
  const exported = await runCli(['evidence', 'export', '--state-dir', stateDir, '--from', from, '--to', to, '--out', out, '--json']);
  t.is(exported.code, 0, exported.stderr);
  t.is(JSON.parse(exported.stdout).sessions, 1);
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  t.regex(manifest.source, /read through the running gatehouse start/);
  t.is(manifest.chainHeads[0].sessionId, body.sessionId);

  const replay = await runCli(['sessions', 'replay', body.sessionId, '--state-dir', stateDir]);
  t.is(replay.code, 0, replay.stderr);
  t.regex(replay.stdout, /RESULT as returned to the bot \(2 rows\)/);
  t.is((await runCli(['evidence', 'verify', out])).code, 0);
  t.is(server.exitCode, null, 'the server kept running throughout');
});

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
