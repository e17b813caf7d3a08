// A worker thread of verify's pool (verify-pool.ts): runs verify-tasks.ts on what it is sent.
import { parentPort } from 'node:worker_threads';
import { runTask, type Task } from './verify-tasks.ts';

parentPort?.on('message', (m: { id: number; task: Task }) => {
  runTask(m.task).then(
    (result) => parentPort!.postMessage({ id: m.id, result }),
    (e: unknown) => parentPort!.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) }),
  );
});
