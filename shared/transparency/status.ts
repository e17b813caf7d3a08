// What the checkpoint signer last did, for `gatehouse checkpoint status`: when it last tried, when
// it last signed, the last checkpoint, and the last failure with its code. A KMS outage shows up
// here (and in the process log) as consecutive `signing_failed` attempts while appends carry on.
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { readSmallRegularFile } from './checkpoint-store.ts';

export interface CheckpointStatus {
  readonly lastAttemptAt?: string;
  readonly lastSuccessAt?: string;
  readonly lastCheckpoint?: { readonly treeSize: number; readonly rootHash: string; readonly time: string };
  readonly lastError?: { readonly code: string; readonly message: string; readonly at: string };
  readonly consecutiveFailures: number;
  readonly signer?: string;
  readonly store?: string;
}

export const STATUS_FILE = 'checkpoint-status.json';

export function readStatus(path: string): CheckpointStatus | undefined {
  if (!existsSync(path)) return undefined;
  // Not readFileSync: a FIFO or a device in its place would hang `checkpoint status` and the
  // signer's start (which reads its last checkpoint from here).
  const text = readSmallRegularFile(path, 1024 * 1024);
  if (typeof text !== 'string') throw new Error(`${path} is not a status file: ${text.refused}`);
  return JSON.parse(text) as CheckpointStatus;
}

/** Replaced whole (write then rename), so a reader never sees half a file. */
export function writeStatus(path: string, status: CheckpointStatus): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(status, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, path);
}
