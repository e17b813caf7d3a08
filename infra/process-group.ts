// Google's emulators start as a shell script that starts Java: the Java child outlives the script
// unless the whole process group is signalled (docs/design.md#local-stand-ins-for-gcp). Both emulator launchers use these.
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.ts';

export interface StartedEmulator {
  /** `127.0.0.1:PORT` */
  readonly host: string;
  /** Milliseconds from spawn to the first answer. */
  readonly startMs: number;
  stop(): Promise<void>;
}

/**
 * Spawns `bin args(port)` in a process group of its own, on a free loopback port, and waits until
 * it answers; a start that fails is stopped and reported with the emulator's last output.
 */
export async function startEmulatorProcess(options: {
  readonly name: string;
  readonly bin: string;
  readonly args: (port: number) => string[];
  readonly startTimeoutMs?: number;
}): Promise<StartedEmulator> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const started = performance.now();
  const child = spawn(options.bin, options.args(port), {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, METADATA_SERVER_DETECTION: 'none' },
  });
  // Kept for the error message only: the emulators are chatty, and a start that fails says why here.
  let output = '';
  const keep = (b: Buffer) => {
    output = (output + b.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // A spawn failure (ENOENT, EACCES) arrives as an event; without a listener it would crash us.
  let spawnError: Error | undefined;
  child.on('error', (e) => (spawnError = e));
  const stop = () => stopGroup(child);
  try {
    await waitUntilAnswering(host, child, options.startTimeoutMs ?? 60_000, () => spawnError);
  } catch (e) {
    await stop();
    throw new Error(`${options.name} did not start: ${e instanceof Error ? e.message : String(e)}\n${output}`);
  }
  return { host, startMs: Math.round(performance.now() - started), stop };
}

/** Waits until `http://host/` answers 200 (the emulators answer "Ok" once serving). */
export async function waitUntilAnswering(host: string, child: ChildProcess, timeoutMs: number, failed: () => Error | undefined = () => undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const e = failed();
    if (e) throw e;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`exited (code ${child.exitCode ?? child.signalCode})`);
    try {
      const res = await fetch(`http://${host}/`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(150);
  }
  throw new Error(`no answer on ${host} within ${timeoutMs} ms`);
}

/** SIGTERM to the child's process group (spawned with `detached: true`), SIGKILL after 5 s. */
export function stopGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const pid = child.pid;
  return new Promise((resolve) => {
    const force = setTimeout(() => signalGroup(pid, 'SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      // The script exits when Java does; make sure nothing else in the group lingers.
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
