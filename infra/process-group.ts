// Google's emulators start as a shell script that starts Java: the Java child outlives the script
// unless the whole process group is signalled (DESIGN §4). Both emulator launchers use these.
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

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
