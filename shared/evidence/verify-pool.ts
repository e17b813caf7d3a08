// Worker threads for `evidence verify` (node:worker_threads): hashing — of files, of events, of
// the Merkle tree — is most of verify's work, and it splits across cores. One worker per core
// (os.availableParallelism()), each running one task at a time from a shared queue. Small
// exports run the same tasks in the calling thread: starting workers costs more than it saves.
// A pool that cannot start (or a worker that fails) never changes an answer: the task runs in
// the calling thread instead.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { runTask, type Task } from './verify-tasks.ts';

export interface TaskRunner {
  run<T>(task: Task): Promise<T>;
  close(): Promise<void>;
  readonly threads: number;
}

export function inThread(): TaskRunner {
  return { run: async <T>(task: Task) => (await runTask(task)) as T, close: async () => {}, threads: 0 };
}

export function workerPool(size = availableParallelism()): TaskRunner {
  const here = new URL(import.meta.url);
  // Compiled (dist/) the worker is a .js file beside this one. From source it is TypeScript, and
  // a worker does not inherit the parent's tsx loader (neither `--import tsx` nor register()):
  // it registers tsx itself before importing the entry.
  const ts = here.pathname.endsWith('.ts');
  const entry = new URL(ts ? './verify-worker.ts' : './verify-worker.js', here);
  const spawn = (): Worker =>
    ts
      ? new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`, { eval: true })
      : new Worker(entry);
  type Pending = { resolve: (v: unknown) => void; reject: (e: unknown) => void; task: Task };
  const idle: Worker[] = [];
  const queue: { id: number; task: Task }[] = [];
  const pending = new Map<number, Pending>();
  const busy = new Map<Worker, number>();
  let next = 0;
  let workers: Worker[] = [];
  const fallback = (id: number) => {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    runTask(p.task).then(p.resolve, p.reject);
  };
  const pump = () => {
    while (idle.length && queue.length) {
      const w = idle.pop()!;
      const job = queue.shift()!;
      busy.set(w, job.id);
      w.postMessage(job);
    }
  };
  try {
    workers = Array.from({ length: Math.max(1, size) }, () => {
      const w = spawn();
      w.unref();
      w.on('message', (m: { id: number; result?: unknown; error?: string }) => {
        busy.delete(w);
        idle.push(w);
        const p = pending.get(m.id);
        if (p) {
          if (m.error !== undefined) fallback(m.id);
          else {
            pending.delete(m.id);
            p.resolve(m.result);
          }
        }
        pump();
      });
      w.on('error', () => {
        // The worker is gone: its task runs here, and it takes no more.
        const id = busy.get(w);
        busy.delete(w);
        workers = workers.filter((x) => x !== w);
        if (id !== undefined) fallback(id);
        if (workers.length === 0) for (const job of queue.splice(0)) fallback(job.id);
      });
      idle.push(w);
      return w;
    });
  } catch {
    return inThread();
  }
  return {
    threads: workers.length,
    run<T>(task: Task): Promise<T> {
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject, task });
        if (workers.length === 0) return fallback(id);
        queue.push({ id, task });
        pump();
      });
    },
    async close() {
      await Promise.allSettled(workers.map((w) => w.terminate()));
      workers = [];
      for (const job of queue.splice(0)) fallback(job.id);
    },
  };
}
