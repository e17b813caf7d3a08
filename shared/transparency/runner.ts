// The checkpoint signer on a timer, for `gatehouse start` (on GCP the checkpoint function is called
// by Cloud Scheduler instead). It never touches the request path: it reads the log through its own
// connection, and a failure — the log unreadable, the signer down, a rewritten history — is
// recorded in the status and logged, and the next tick tries again. Appends never wait for it.
import { CheckpointFailure, checkpointOnce, type CheckpointDeps, type CheckpointOutcome } from './checkpointer.ts';
import type { CheckpointStatus } from './status.ts';

export interface RunnerOptions extends CheckpointDeps {
  readonly intervalMs: number;
  /** Where each attempt's outcome goes (a file locally). */
  readonly saveStatus: (status: CheckpointStatus) => void;
  readonly report?: (line: string) => void;
  /** The status saved by the last run of this signer (its last checkpoint is held to: checkpoints_missing). */
  readonly initialStatus?: CheckpointStatus;
}

export interface Runner {
  /** One attempt now (also what the timer calls); resolves to its outcome or its failure. */
  runOnce(): Promise<CheckpointOutcome | CheckpointFailure>;
  stop(): Promise<void>;
}

export function startCheckpointRunner(options: RunnerOptions): Runner {
  const clock = options.clock ?? (() => new Date());
  let status: CheckpointStatus = { ...(options.initialStatus ?? {}), consecutiveFailures: options.initialStatus?.consecutiveFailures ?? 0, signer: options.signer.describe, store: options.store.describe };
  let running: Promise<CheckpointOutcome | CheckpointFailure> | undefined;
  let stopped = false;

  const attempt = async (): Promise<CheckpointOutcome | CheckpointFailure> => {
    const at = clock().toISOString();
    try {
      const outcome = await checkpointOnce({ ...options, lastSigned: options.lastSigned ?? status.lastCheckpoint });
      const c = outcome.checkpoint;
      status = {
        ...status,
        lastAttemptAt: at,
        lastSuccessAt: at,
        lastCheckpoint: { treeSize: c.treeSize, rootHash: c.rootHash, time: c.time },
        consecutiveFailures: 0,
      };
      if (outcome.kind === 'signed') options.report?.(`checkpoint signed: ${c.treeSize} leaves, root ${c.rootHash}`);
      return outcome;
    } catch (e) {
      const failure = e instanceof CheckpointFailure ? e : new CheckpointFailure('signing_failed', e instanceof Error ? e.message : String(e), { cause: e });
      status = {
        ...status,
        lastAttemptAt: at,
        lastError: { code: failure.code, message: failure.message, at },
        consecutiveFailures: status.consecutiveFailures + 1,
      };
      options.report?.(`checkpoint NOT signed [${failure.code}]: ${failure.message} (${status.consecutiveFailures} attempts in a row)`);
      return failure;
    } finally {
      try {
        options.saveStatus(status);
      } catch {
        // The status is for people; failing to write it must not stop the signer.
      }
    }
  };

  const runOnce = () => {
    // One attempt at a time: a slow one (a large log) is not overlapped by the next tick.
    running ??= attempt().finally(() => (running = undefined));
    return running;
  };
  const timer = setInterval(() => {
    if (!stopped) void runOnce();
  }, options.intervalMs);
  timer.unref();
  return {
    runOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
