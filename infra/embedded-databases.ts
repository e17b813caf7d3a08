// The embedded databases (demo target, session store, approval state) run in a child process of their own.
// PGlite executes a statement synchronously on the thread that hosts it (measured: `pg_sleep(1)`
// froze a 10 ms timer for 1004 ms), so in the gateway's process one slow statement would stop
// every request, and the client-side deadline could not fire. In a child, the gateway stays
// responsive and a statement past its deadline is abandoned (its connection dropped, no COMMIT).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface EmbeddedDatabases {
  readonly demoUrl?: string;
  readonly sessionStoreUrl: string;
  readonly stateStoreUrl: string;
  /** The child process serving them (tests check what it listens on). */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

export interface ChildReady {
  readonly kind: 'ready';
  readonly demoUrl?: string;
  readonly sessionStoreUrl: string;
  readonly stateStoreUrl: string;
}
export interface ChildFailed {
  readonly kind: 'failed';
  readonly message: string;
}

// Compiled (dist/), this module is a .js file and its sibling embedded-databases-main.js runs as
// is; from the TypeScript source, the .child.js launcher loads it through tsx.
const CHILD = fileURLToPath(
  import.meta.url.endsWith('.js') ? new URL('./embedded-databases-main.js', import.meta.url) : new URL('./embedded-databases.child.js', import.meta.url),
);

export async function startEmbeddedDatabases(options: { stateDir: string; demo: boolean }): Promise<EmbeddedDatabases> {
  const child = fork(CHILD, [JSON.stringify(options)], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise<ChildReady>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`embedded databases exited during start (code ${code})`));
    child.once('exit', onExit);
    child.once('message', (m: ChildReady | ChildFailed) => {
      child.off('exit', onExit);
      if (m.kind === 'ready') resolve(m);
      else reject(new Error(`embedded databases failed to start: ${m.message}`));
    });
  }).catch((e: unknown) => {
    child.kill('SIGKILL');
    throw e;
  });
  return { demoUrl: ready.demoUrl, sessionStoreUrl: ready.sessionStoreUrl, stateStoreUrl: ready.stateStoreUrl, pid: child.pid, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    // PGlite flushes its data directory on a clean stop; give it time, then insist.
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.send({ kind: 'stop' });
  });
}
