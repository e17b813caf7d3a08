// Where checkpoints are kept: locally a folder under the state dir; on GCP the retention-locked
// bucket (gcs-checkpoints.ts). Create-only: a checkpoint, once written, is never replaced.
import { closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, statSync, writeFileSync } from 'node:fs';
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
      const refused: { name: string; reason: string }[] = [];
      for (const name of readdirSync(dir).sort()) {
        if (!name.endsWith('.json')) continue;
        const read = readSmallRegularFile(join(dir, name), MAX_CHECKPOINT_BYTES);
        if (typeof read === 'string') entries.push({ name, text: read });
        else refused.push({ name, reason: read.refused });
      }
      const listing = parseListing(entries);
      return { checkpoints: listing.checkpoints, unreadable: [...listing.unreadable, ...refused] };
    },
    async put(checkpoint) {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      writeFileSync(join(dir, checkpointName(checkpoint)), `${JSON.stringify(checkpoint, null, 1)}\n`, { flag: 'wx', mode: 0o644 });
    },
  };
}

/** A checkpoint is a few hundred bytes (its frontier ≤ 64 hashes, its proof ≤ 2·64): far below this. */
export const MAX_CHECKPOINT_BYTES = 64 * 1024;

/**
 * A file's text when it is a regular file of at most maxBytes; else why not. Opened non-blocking and
 * checked on the open descriptor: a FIFO named like a checkpoint would block the process for good,
 * a link to /dev/zero would be read until memory runs out, a folder would throw — someone who can
 * write the folder must get "unreadable", not a hang or a crash.
 */
export function readSmallRegularFile(path: string, maxBytes: number): string | { refused: string } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    return { refused: `cannot be opened (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { refused: 'not a regular file' };
    if (st.size > maxBytes) return { refused: `${st.size} bytes, more than a checkpoint can be (${maxBytes})` };
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, buf, got, st.size - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got).toString('utf8');
  } catch (e) {
    return { refused: `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
  } finally {
    closeSync(fd);
  }
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
