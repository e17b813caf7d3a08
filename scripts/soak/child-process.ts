// Starting and stopping scripts/soak/gateway-child.ts, and reading its memory, for the fault
// tests and the soak run. Linux only for RSS (/proc), which is where they run.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ChildConfig } from './gateway-child.ts';

const CHILD = new URL('./gateway-child.ts', import.meta.url).pathname;

export interface GatewayChild {
  readonly url: string;
  readonly child: ChildProcess;
  output(): string;
  /** Resident set size in bytes, or 0 once the process is gone. */
  rss(): number;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function startGatewayChild(config: ChildConfig, timeoutMs = 60_000): Promise<GatewayChild> {
  // GATEHOUSE_SOAK_HEAP_MB: the gateway's V8 old-space cap for a memory run (scripts/soak/heavy.ts --heap-mb).
  const heapMb = process.env.GATEHOUSE_SOAK_HEAP_MB;
  const heap = heapMb && /^[1-9][0-9]{1,4}$/.test(heapMb) ? [`--max-old-space-size=${heapMb}`] : [];
  const child = spawn(process.execPath, [...heap, '--import', 'tsx', CHILD, JSON.stringify(config)], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway child did not start: ${output.slice(-2000)}`)), timeoutMs);
    child.stdout!.on('data', (b: Buffer) => {
      output += b.toString();
      const m = /READY (\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway child exited (${code}): ${output.slice(-2000)}`));
    });
  }).catch(async (e: unknown) => {
    child.kill('SIGKILL');
    throw e;
  });
  return {
    url,
    child,
    output: () => output,
    rss: () => rssOf(child.pid),
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

export function rssOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
