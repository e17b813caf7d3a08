// A pid file that one live process at a time holds: beside a PGlite data directory (PGlite writes no
// postmaster.pid, so nothing else stops two `gatehouse start` on one state dir from opening it and
// corrupting it), and beside `gatehouse mcp --http`'s generated secret (a second server would
// replace the first's secret under its clients).
//
// Two races the obvious version (open 'wx', then write the pid; on EEXIST read the pid and remove
// the file when its process is dead) lets through, each leaving two servers on one directory:
// - a lock read between its creation and its write is empty, reads as "pid 0, dead", and is taken;
// - two starts that both find a dead process's lock both remove it: the second removes the lock
//   the first has just made, and both go on.
// So a lock appears only whole (the pid is written to a file of our own, which is then hard-linked
// to the lock's name: link fails if the name exists), and a dead process's lock is taken over only
// while holding a second, short-lived guard, after reading the lock again under it. A lock whose
// content is not a pid is never taken over: it is not ours to judge, and guessing wrong corrupts.
import { linkSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

const heldHere = new Set<string>();

/**
 * Locks `<target>.lock` for this process; returns its release (idempotent). Throws, naming
 * `what` (e.g. "PGlite data directory /x"), when a live process holds it.
 */
export function lockPidFile(target: string, what: string): () => void {
  const path = `${target}.lock`;
  const mine = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(mine, String(process.pid), { flag: 'wx', mode: 0o600 });
  try {
    for (let tries = 0; tries < 3; tries++) {
      if (linked(mine, path)) return releaser(path);
      const holder = readHolder(path);
      if (holder === 'gone') continue;
      if (holder === 'unreadable') throw inUse(what, path, 'its content is not a process id; remove it if no gatehouse uses this directory');
      if (heldHere.has(path) || (holder !== process.pid && isAlive(holder))) throw inUse(what, path, `process ${holder}`);
      if (takeOver(what, path, holder, mine)) return releaser(path);
    }
    throw new Error(`could not lock ${what} (${path})`);
  } finally {
    rmSync(mine, { force: true });
  }
}

/** Under `<lock>.takeover`: removes the lock only if it still names the dead `holder`, then links ours. */
function takeOver(what: string, path: string, holder: number, mine: string): boolean {
  const guard = `${path}.takeover`;
  if (!linked(mine, guard)) {
    const taker = readHolder(guard);
    if (taker === 'gone') return false; // finished meanwhile: look at the lock again
    if (typeof taker === 'number' && isAlive(taker)) throw inUse(what, path, `being taken over by process ${taker}`);
    // A taker died within its few microseconds under the guard: rare, and only a person can tell.
    throw inUse(what, guard, 'a takeover left by a process that died; remove it if no gatehouse uses this directory');
  }
  try {
    if (readHolder(path) === holder) unlinkSync(path);
    return linked(mine, path);
  } finally {
    rmSync(guard, { force: true });
  }
}

function releaser(path: string): () => void {
  heldHere.add(path);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    heldHere.delete(path);
    rmSync(path, { force: true });
  };
}

function linked(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

function readHolder(path: string): number | 'gone' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw e;
  }
  const pid = /^\d{1,10}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  return Number.isSafeInteger(pid) && pid > 0 ? pid : 'unreadable';
}

function inUse(what: string, path: string, why: string): Error {
  return new Error(`${what} is in use (lock ${path}: ${why})`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
