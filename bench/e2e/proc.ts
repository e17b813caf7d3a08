// CPU time and write syscalls of processes, read from Linux's /proc, so the bench can say what a
// request costs the gateway's process and each PostgreSQL server — not only how long it took.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// USER_HZ: the unit of utime/stime in /proc/PID/stat. 100 on every Linux the bench runs on
// (x86-64 and arm64 fix it at 100 for user space).
const TICK_MS = 10;

interface Stat {
  readonly ppid: number;
  /** utime + stime, ms. */
  readonly selfMs: number;
  /** cutime + cstime, ms: children that exited and were waited for. */
  readonly childrenMs: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone
  }
  // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state); utime is field 14 → f[11].
  const n = (i: number) => Number(f[i]);
  return { ppid: n(1), selfMs: (n(11) + n(12)) * TICK_MS, childrenMs: (n(13) + n(14)) * TICK_MS };
}

/** CPU ms one process has used so far. */
export function processCpuMs(pid: number): number {
  return readStat(pid)?.selfMs ?? Number.NaN;
}

/**
 * CPU ms a PostgreSQL server has used so far: the postmaster, its live children (backends,
 * walwriter, checkpointer, …), and the children that already exited (the postmaster's cutime).
 */
export function postgresCpuMs(dataDir: string): number {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const root = readStat(postmaster);
  if (!root) return Number.NaN;
  let ms = root.selfMs + root.childrenMs;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s?.ppid === postmaster) ms += s.selfMs;
  }
  return ms;
}

/** Write-type syscalls (write, writev, pwrite: /proc/PID/io `syscw`) a process has made so far. */
export function writeSyscalls(pid: number): number {
  try {
    const m = /^syscw:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}
