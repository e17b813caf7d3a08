// Runs in the child process: start the PGlite databases, report their URLs, stop on request or
// when the parent goes away (the IPC channel closes), so no orphan holds the data directories.
import { join, resolve } from 'node:path';
import { startDemoDatabase } from './demo-db/index.ts';
import { startEmbeddedPostgres } from './embedded-postgres.ts';
import type { ChildFailed, ChildReady } from './embedded-databases.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as { stateDir: string; demo: boolean };
const stops: (() => Promise<void>)[] = [];
let stopping = false;
// Registered before the databases start: a parent that dies during a (slow, first) start must not
// leave this process running on, to fail later writing to a closed channel.
process.on('disconnect', () => void stopAll(0));
const tell = (m: ChildReady | ChildFailed) => {
  if (process.connected) process.send?.(m);
};

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
  process.exit(code);
}

try {
  // Each on a Unix socket in a 0700 directory of the state dir: no TCP port anyone on the machine
  // could connect to (PGlite has no passwords).
  // Absolute: a connection string's host is a socket directory only when it starts with '/', and
  // the default state dir (.gatehouse) is relative.
  const socketDir = (name: string) => join(resolve(options.stateDir), 'sockets', name);
  const demo = options.demo ? await startDemoDatabase(options.stateDir, { socketDir: socketDir('demo-db') }) : undefined;
  if (demo) stops.push(demo.stop);
  const sessions = await startEmbeddedPostgres({ dataDir: join(options.stateDir, 'session-db'), maxConnections: 20, socketDir: socketDir('session-db') });
  stops.push(sessions.stop);
  // Approval state in a PGlite of its own: PGlite is one session, and an approval update holds
  // its transaction open while the session event is appended — on a shared one it would wait forever.
  const state = await startEmbeddedPostgres({ dataDir: join(options.stateDir, 'state-db'), maxConnections: 20, socketDir: socketDir('state-db') });
  stops.push(state.stop);
  const ready: ChildReady = { kind: 'ready', demoUrl: demo?.url, sessionStoreUrl: sessions.url, stateStoreUrl: state.url };
  tell(ready);
} catch (e) {
  const failed: ChildFailed = { kind: 'failed', message: e instanceof Error ? e.message : String(e) };
  tell(failed);
  await stopAll(1);
}

process.on('message', (m: { kind?: string }) => {
  if (m?.kind === 'stop') void stopAll(0);
});
process.on('SIGINT', () => {}); // the parent decides when we stop (Ctrl-C reaches the whole group)
process.on('SIGTERM', () => void stopAll(0));
