// The bench's child processes (gateway, load generator): TypeScript entries run through tsx, spoken
// to over IPC, one request → one answer.
import { fork, type ChildProcess } from 'node:child_process';

/** A child Node process running a TypeScript entry through tsx; stdout discarded, stderr shown. */
export async function startChild(entry: string, args: string[], env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const child = fork(entry, args, { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  if (entry.endsWith('loadgen-main.ts')) await nextMessage(child); // 'loaded'
  return child;
}

export function nextMessage<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${child.spawnargs.join(' ')} exited (code ${code})`));
    child.once('exit', onExit);
    child.once('message', (m: { kind: string; message?: string }) => {
      child.off('exit', onExit);
      if (m.kind === 'failed') reject(new Error(m.message));
      else resolve(m as T);
    });
  });
}

export async function request<T>(child: ChildProcess, message: object): Promise<T> {
  const answer = nextMessage<T>(child);
  child.send(message);
  return answer;
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    if (child.connected) child.send({ kind: 'stop' });
    else child.kill('SIGTERM');
  });
}
