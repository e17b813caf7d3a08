// Where checkpoints are kept: locally a folder under the state dir; on GCP the retention-locked
// bucket (gcs-checkpoints.ts). Create-only: a checkpoint, once written, is never replaced.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { asCheckpoint, type Checkpoint } from './checkpoint.ts';

export interface CheckpointListing {
  /** Ordered by treeSize, then time. */
  readonly checkpoints: readonly Checkpoint[];
  /** Entries that are not checkpoints: a verifier reports them rather than skipping them. */
  readonly unreadable: readonly { readonly name: string; readonly reason: string }[];
}

export interface CheckpointStore {
  readonly describe: string;
  list(): Promise<CheckpointListing>;
  /** Create-only; rejects if a checkpoint of that name exists. */
  put(checkpoint: Checkpoint): Promise<void>;
  /**
   * The newest checkpoint, when the store can find it without listing every one (the Firestore
   * collection: one indexed query); without it, the last of list().
   */
  latest?(): Promise<Checkpoint | undefined>;
}

export const CHECKPOINTS_DIR = 'checkpoints';

/** `{treeSize, 15 digits}-{time in ms, 15 digits}.json`: listing order is tree order. */
export function checkpointName(c: Pick<Checkpoint, 'treeSize' | 'time'>): string {
  return `${String(c.treeSize).padStart(15, '0')}-${String(Date.parse(c.time)).padStart(15, '0')}.json`;
}

export function folderCheckpointStore(dir: string): CheckpointStore {
  return {
    describe: dir,
    async list() {
      // No folder yet: no checkpoint yet (the first one creates it). Anything else there is an error.
      if (!existsSync(dir)) return { checkpoints: [], unreadable: [] };
      if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a folder of checkpoints`);
      const entries: { name: string; text: string }[] = [];
      for (const name of readdirSync(dir).sort()) {
        if (!name.endsWith('.json')) continue;
        entries.push({ name, text: readFileSync(join(dir, name), 'utf8') });
      }
      return parseListing(entries);
    },
    async put(checkpoint) {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      writeFileSync(join(dir, checkpointName(checkpoint)), `${JSON.stringify(checkpoint, null, 1)}\n`, { flag: 'wx', mode: 0o644 });
    },
  };
}

export function parseListing(entries: readonly { name: string; text: string }[]): CheckpointListing {
  const checkpoints: Checkpoint[] = [];
  const unreadable: { name: string; reason: string }[] = [];
  for (const { name, text } of entries) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      unreadable.push({ name, reason: 'not JSON' });
      continue;
    }
    const c = asCheckpoint(parsed);
    if (typeof c === 'string') unreadable.push({ name, reason: c });
    else checkpoints.push(c);
  }
  checkpoints.sort((a, b) => a.treeSize - b.treeSize || Date.parse(a.time) - Date.parse(b.time));
  return { checkpoints, unreadable };
}
