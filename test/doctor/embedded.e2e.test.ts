// The embedded demo (PGlite over the wire): `gatehouse start` prints the doctor's one line per
// connection, as a warning, and keeps running; `gatehouse doctor` reaches the demo through the
// running server, and opens its data directory itself once the server is gone. PGlite runs as a
// superuser by construction, so the demo fails — what matters is that it is reported, not crashed.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { freePort } from '../../infra/free-port.ts';
import { startupDoctorLines } from '../../infra/doctor-access.ts';
import { loadPolicy } from '../../shared/policy/index.ts';
import { runCli, tempDir } from '../evidence/helpers.ts';

test.serial('start prints the doctor line for the demo; doctor works through the running server and without it', async (t) => {
  t.timeout(240_000);
  const stateDir = tempDir(t, 'gatehouse-doctor-embedded-');
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
      // Not a terminal: JSON lines; the doctor's comes once the server listens.
      if (/"message":"doctor /.test(log)) resolve();
    });
    server.once('exit', (code) => reject(new Error(`gatehouse start exited (${code}): ${log}`)));
  });
  const line = log
    .split('\n')
    .flatMap((l) => {
      try {
        const m = (JSON.parse(l) as { message?: unknown }).message;
        return typeof m === 'string' && m.startsWith('doctor ') ? [m] : [];
      } catch {
        return [];
      }
    })[0];
  t.truthy(line, log);
  t.regex(line!, /demo: \d+ failed \(not_superuser, [^)]*\) \(role postgres\); see npx gatehouse doctor --connection demo \(expected of the embedded demo: warnings only\)/);

  const through = await runCli(['doctor', '--policy', policy, '--state-dir', stateDir, '--json']);
  t.is(through.code, 1, through.stderr);
  const report = JSON.parse(through.stdout);
  const demo = report.connections[0];
  t.like(demo, { connection: 'demo', ok: false, role: 'postgres' });
  t.like(demo.checks[0], { id: 'connect', status: 'pass' });
  t.like(demo.checks.find((c: { id: string }) => c.id === 'not_superuser'), { status: 'fail', code: 'role_is_superuser' });
  // PGlite answers every catalog query the doctor asks: nothing is left unchecked.
  t.deepEqual(demo.checks.filter((c: { status: string }) => c.status === 'error'), []);
  t.is(server.exitCode, null, 'the server kept running');

  await stop(server);
  const alone = await runCli(['doctor', '--policy', policy, '--state-dir', stateDir, '--connection', 'demo']);
  t.is(alone.code, 1, alone.stderr);
  t.regex(alone.stdout, /connection demo \(role postgres\): NOT OK/);
  t.regex(alone.stdout, /PASS\s+connect/);
});

test.serial('the start summary is bounded: a server that never answers is a line, not a hang', async (t) => {
  const sockets: Socket[] = [];
  const blackHole: Server = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    blackHole.close();
  });
  const { port } = blackHole.address() as { port: number };
  const policy = await loadPolicy('gatehouse.policy.yaml');
  process.env.DOCTOR_BLACK_HOLE_URL = `postgres://gatehouse_app:pw-never-shown@127.0.0.1:${port}/prod`;
  t.teardown(() => delete process.env.DOCTOR_BLACK_HOLE_URL);
  const lines = await startupDoctorLines({ policy: { ...policy, connections: { prod: { ...policy.connections.demo!, credentials: 'env://DOCTOR_BLACK_HOLE_URL' } } } }, 300);
  t.deepEqual(lines, ['WARNING prod: 1 failed (connect); see npx gatehouse doctor --connection prod']);
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
