// `gatehouse start`'s checkpoint signer: a step of its own beside the server, with its own
// connection to the session store and the key file no request handler opens.
import { createPostgresSessionLog } from '../shared/adapters/postgres-store/index.ts';
import { localCheckpointing } from '../shared/transparency/local.ts';
import { startCheckpointRunner, type Runner } from '../shared/transparency/runner.ts';
import { readStatus, writeStatus, type CheckpointStatus } from '../shared/transparency/status.ts';

export const DEFAULT_CHECKPOINT_INTERVAL_MS = 60_000;

export async function startLocalCheckpointSigner(options: {
  stateDir: string;
  sessionStoreUrl: string;
  intervalMs?: number;
  report?: (line: string) => void;
}): Promise<{ runner: Runner; close(): Promise<void> }> {
  const local = localCheckpointing(options.stateDir, { createKey: true });
  const log = await createPostgresSessionLog({ connectionString: options.sessionStoreUrl, poolSize: 1 });
  const runner = startCheckpointRunner({
    log,
    signer: local.signer,
    store: local.store,
    intervalMs: options.intervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS,
    saveStatus: (s) => writeStatus(local.statusPath, s),
    report: options.report,
    initialStatus: previousStatus(local.statusPath),
  });
  // A first checkpoint at start, in the background: start does not wait for it.
  void runner.runOnce();
  return {
    runner,
    async close() {
      await runner.stop();
      await log.close();
    },
  };
}

/** GATEHOUSE_CHECKPOINT_INTERVAL_MS, when set: a positive integer. */
export function checkpointIntervalFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.GATEHOUSE_CHECKPOINT_INTERVAL_MS;
  if (raw === undefined || raw === '') return DEFAULT_CHECKPOINT_INTERVAL_MS;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1000) throw new TypeError('GATEHOUSE_CHECKPOINT_INTERVAL_MS must be an integer ≥ 1000');
  return n;
}

/** The last run's status, so the signer holds the store to the last checkpoint it signed; unreadable: none. */
function previousStatus(path: string): CheckpointStatus | undefined {
  try {
    const s = readStatus(path);
    const c = s?.lastCheckpoint;
    if (!c || !Number.isSafeInteger(c.treeSize) || typeof c.rootHash !== 'string') return s ? { ...s, lastCheckpoint: undefined } : undefined;
    return s;
  } catch {
    return undefined;
  }
}
