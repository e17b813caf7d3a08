// `npm run bench -- cli`: how long the `gatehouse` command takes, the compiled JavaScript in dist/
// through bin/gatehouse.js (what `npx gatehouse` runs after `npm ci`) beside the TypeScript through tsx (what it ran before,
// and still runs without dist/). Median of 5 runs each, wall clock from spawn:
//   --version · token · start until /healthz answers, on an existing state dir and on a new one.
// It needs dist/ (npm run build). Nothing here asserts a time.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../infra/free-port.ts';
import { newestSourceMtime } from '../bin/source-mtime.js';

const RUNS = 5;
const root = new URL('..', import.meta.url).pathname;

interface Mode {
  readonly label: string;
  readonly argv: readonly string[];
}

// The compiled path is the launcher, as a user runs it: it answers --version itself and runs dist/.
const MODES: readonly Mode[] = [
  { label: 'compiled (dist/)', argv: ['bin/gatehouse.js'] },
  { label: 'tsx (TypeScript)', argv: ['--import', 'tsx', 'bin/gatehouse.ts'] },
];

export interface CliFigures {
  readonly runs: number;
  readonly rows: { readonly what: string; readonly compiledMs: number; readonly tsxMs: number; readonly goalMs: number }[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timeCommand(mode: Mode, args: string[]): number {
  const started = performance.now();
  const r = spawnSync(process.execPath, [...mode.argv, ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`${mode.label} ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return ms;
}

/** Spawn `start`, poll /healthz until it answers, stop it with SIGTERM and wait for its exit. */
async function timeStart(mode: Mode, stateDir: string): Promise<number> {
  const port = await freePort();
  // The shipped policy trusts the dev issuer on 8080; on another port start refuses it (anyone
  // could serve keys on 8080), so the policy names the port this start listens on.
  const policy = `${stateDir}.policy.yaml`;
  writeFileSync(policy, readFileSync(join(root, 'gatehouse.policy.yaml'), 'utf8').replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`));
  const started = performance.now();
  const child = spawn(process.execPath, [...mode.argv, 'start', '--policy', policy, '--port', String(port), '--state-dir', stateDir], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`start exited ${child.exitCode}: ${stderr}`);
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      if (ok) return performance.now() - started;
      if (performance.now() - started > 180_000) throw new Error('start took over 3 minutes');
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

export async function benchCli(): Promise<CliFigures> {
  if (!existsSync(join(root, 'dist/bin/gatehouse.js'))) throw new Error('no dist/: run `npm run build` first');
  const built = (JSON.parse(readFileSync(join(root, 'dist/.built'), 'utf8')) as { sourceMtimeMs: number }).sourceMtimeMs;
  if (newestSourceMtime(root) > built) throw new Error('dist/ is older than the source (the launcher would run tsx): run `npm run build` first');
  const scratch = mkdtempSync(join(tmpdir(), 'gatehouse-bench-cli-'));
  const rows: CliFigures['rows'] = [];
  try {
    const keyDir = join(scratch, 'token-state');
    const tokenArgs = ['token', '--sub', 'review-bot@acme-prod.iam.gserviceaccount.com', '--state-dir', keyDir];
    const per = async (what: string, goalMs: number, run: (m: Mode, i: number) => Promise<number> | number) => {
      const figures: number[][] = [];
      for (const mode of MODES) {
        const xs: number[] = [];
        for (let i = 0; i < RUNS; i++) xs.push(await run(mode, i));
        figures.push(xs);
        console.error(`  ${what}, ${mode.label}: ${xs.map((x) => Math.round(x)).join(' ')} ms`);
      }
      rows.push({ what, compiledMs: Math.round(median(figures[0]!)), tsxMs: Math.round(median(figures[1]!)), goalMs });
    };
    // What the machine charges for any Node process at all: on a loaded machine it dominates.
    await per('node -e 0 (Node itself, for scale)', 0, () => timeCommand({ label: 'node', argv: ['-e', '0'] }, []));
    await per('gatehouse --version', 300, (m) => timeCommand(m, ['--version']));
    timeCommand(MODES[0]!, tokenArgs); // the signing key is created once, outside the measurement
    await per('gatehouse token', 500, (m) => timeCommand(m, tokenArgs));
    const existing = join(scratch, 'existing');
    await timeStart(MODES[0]!, existing); // create the databases once
    await per('gatehouse start → first answer (existing state dir)', 2000, (m) => timeStart(m, existing));
    await per('gatehouse start → first answer (first start, new state dir)', 10_000, (m, i) => timeStart(m, join(scratch, `first-${m.label.slice(0, 3)}-${i}`)));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return { runs: RUNS, rows };
}

export function printCli(f: CliFigures): void {
  console.log(`\n| command (median of ${f.runs}) | compiled (dist/) ms | tsx ms | goal ms |`);
  console.log('|---|---|---|---|');
  for (const r of f.rows) console.log(`| ${r.what} | ${r.compiledMs} | ${r.tsxMs} | ${r.goalMs ? `≤ ${r.goalMs}` : ''} |`);
  console.log(`(load average while measuring: ${loadavg().map((l) => l.toFixed(1)).join(', ')}; ${cpus().length} CPUs)`);
}
