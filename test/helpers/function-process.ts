// A deployed function, locally: the Functions Framework's own CLI in a child process, serving one
// target, configured only by the environment it is given (as on Cloud Run functions).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../infra/free-port.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
export const FRAMEWORK = join(ROOT, 'node_modules/@google-cloud/functions-framework/build/src/main.js');

export interface FunctionProcess {
  readonly target: string;
  readonly url: string;
  readonly child: ChildProcess;
  output(): string;
}

export interface FunctionProcessOptions {
  readonly target: string;
  /** The module that registers the target (`--source`). */
  readonly source: string;
  readonly cwd: string;
  /** The whole environment of the child: nothing of this process's leaks in. */
  readonly env: NodeJS.ProcessEnv;
  /** Default: a free port. */
  readonly port?: number;
  /** Before the framework's script, e.g. `['--import', 'tsx']`. */
  readonly nodeArgs?: readonly string[];
  readonly signatureType?: 'http' | 'cloudevent';
}

/** Starts the function and resolves once it answers HTTP; a child that fails to get there is killed. */
export async function startFunctionProcess(options: FunctionProcessOptions): Promise<FunctionProcess> {
  const { target } = options;
  const port = options.port ?? (await freePort());
  const args = [
    ...(options.nodeArgs ?? []),
    FRAMEWORK,
    `--target=${target}`,
    `--source=${options.source}`,
    `--port=${port}`,
    ...(options.signatureType === 'cloudevent' ? ['--signature-type=cloudevent'] : []),
  ];
  const child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  const fn: FunctionProcess = { target, url: `http://127.0.0.1:${port}`, child, output: () => output };
  try {
    await untilListening(fn);
    return fn;
  } catch (e) {
    await stopFunctionProcesses([fn]);
    throw e;
  }
}

// Listening: any HTTP answer will do (a GET to the query function is a 4xx, built lazily or not).
async function untilListening(fn: FunctionProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (fn.child.exitCode !== null) throw new Error(`the ${fn.target} function exited ${fn.child.exitCode}:\n${fn.output().slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`the ${fn.target} function did not listen within 60 s:\n${fn.output().slice(-3000)}`);
    try {
      const res = await fetch(`${fn.url}/healthz-probe`, { method: 'GET' });
      await res.arrayBuffer();
      return;
    } catch (e) {
      if (!(e instanceof TypeError)) throw e; // fetch failed: not listening yet
      await sleep(50);
    }
  }
}

export async function stopFunctionProcesses(fns: readonly FunctionProcess[]): Promise<void> {
  for (const fn of fns) {
    if (fn.child.exitCode === null && fn.child.signalCode === null) {
      const exited = new Promise((r) => fn.child.once('exit', r));
      fn.child.kill('SIGKILL');
      await Promise.race([exited, sleep(5000)]);
    }
  }
}
