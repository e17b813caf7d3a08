// Google's own emulators for tests (DESIGN §4 "Local stand-ins for GCP"). The launcher script in
// the Cloud SDK execs a Java child that outlives a plain kill of the script, so each emulator runs
// in a process group of its own and is stopped by signalling the whole group.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.ts';

export const PUBSUB_EMULATOR_BIN = '/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator';

export interface RunningEmulator {
  /** `127.0.0.1:PORT`, the form PUBSUB_EMULATOR_HOST and the client's `apiEndpoint` take. */
  readonly host: string;
  stop(): Promise<void>;
}

/** Why the Pub/Sub emulator cannot run here, or undefined when it can. */
export function pubSubEmulatorMissing(bin = PUBSUB_EMULATOR_BIN): string | undefined {
  if (!existsSync(bin)) return `${bin} not found (install the Google Cloud CLI with the pubsub-emulator component)`;
  return undefined;
}

export async function startPubSubEmulator(options: { bin?: string; startTimeoutMs?: number } = {}): Promise<RunningEmulator> {
  const bin = options.bin ?? PUBSUB_EMULATOR_BIN;
  const missing = pubSubEmulatorMissing(bin);
  if (missing) throw new Error(`Pub/Sub emulator unavailable: ${missing}`);
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const child = spawn(bin, [`--host=127.0.0.1`, `--port=${port}`], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, METADATA_SERVER_DETECTION: 'none' },
  });
  // Kept for the error message only: the emulator is chatty, and a start that fails says why here.
  let output = '';
  const keep = (b: Buffer) => {
    output = (output + b.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const stop = () => stopGroup(child);
  try {
    await waitUntilAnswering(host, child, options.startTimeoutMs ?? 60_000);
  } catch (e) {
    await stop();
    throw new Error(`Pub/Sub emulator did not start: ${e instanceof Error ? e.message : String(e)}\n${output}`);
  }
  return { host, stop };
}

async function waitUntilAnswering(host: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (code ${child.exitCode ?? child.signalCode})`);
    try {
      // The emulator answers plain HTTP on its gRPC port ("Ok") once it is serving.
      const res = await fetch(`http://${host}/`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`no answer on ${host} within ${timeoutMs} ms`);
}

function stopGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const pid = child.pid;
  return new Promise((resolve) => {
    const force = setTimeout(() => signalGroup(pid, 'SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      // The shell script exits with Java; make sure nothing else in the group lingers.
      signalGroup(pid, 'SIGKILL');
      resolve();
    });
    signalGroup(pid, 'SIGTERM');
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}
