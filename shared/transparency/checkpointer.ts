// The checkpoint signer's one step: read the log's leaves, recompute the root, check that the log
// still extends the last checkpoint (a rewritten history is refused, loudly, never signed), prove
// the consistency, sign, store. It runs beside the request path, never on it: `gatehouse start`
// runs it on a timer; on GCP Cloud Scheduler calls the checkpoint function every minute. If
// signing fails (KMS down) the step fails and the next one tries again; appends never wait.
import type { LogLeafReader } from '../ports.ts';
import { signCheckpoint, type Checkpoint, type CheckpointSigner } from './checkpoint.ts';
import type { CheckpointStore } from './checkpoint-store.ts';
import { consistencyProof, leafHash, treeHash } from './merkle-tree.ts';

export interface CheckpointDeps {
  readonly log: LogLeafReader;
  readonly signer: CheckpointSigner;
  readonly store: CheckpointStore;
  readonly clock?: () => Date;
  /** Re-sign an unchanged tree once its last checkpoint is this old; default 10 minutes. */
  readonly refreshMs?: number;
}

export const DEFAULT_REFRESH_MS = 10 * 60_000;

export type CheckpointOutcome =
  | { readonly kind: 'signed'; readonly checkpoint: Checkpoint }
  | { readonly kind: 'unchanged'; readonly checkpoint: Checkpoint };

/** Why a step failed, with a stable code (shown by `gatehouse checkpoint status`). */
export class CheckpointFailure extends Error {
  override readonly name = 'CheckpointFailure';
  constructor(
    readonly code: 'log_unreadable' | 'log_inconsistent' | 'signing_failed' | 'store_failed' | 'checkpoints_unreadable',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const PAGE = 50_000;

export async function checkpointOnce(deps: CheckpointDeps): Promise<CheckpointOutcome> {
  const clock = deps.clock ?? (() => new Date());
  let previous: Checkpoint | undefined;
  try {
    previous = (await deps.store.list()).checkpoints.at(-1);
  } catch (e) {
    // A store that cannot be listed would let this step sign without checking the last root.
    throw new CheckpointFailure('checkpoints_unreadable', `the checkpoint store ${deps.store.describe} cannot be read`, { cause: e });
  }
  const time = clock();
  let leaves: Buffer[];
  try {
    leaves = await readLeafHashes(deps.log);
  } catch (e) {
    if (e instanceof CheckpointFailure) throw e;
    throw new CheckpointFailure('log_unreadable', 'the session log cannot be read', { cause: e });
  }
  const size = leaves.length;
  const root = treeHash(leaves).toString('hex');
  let consistency: Checkpoint['consistency'] = null;
  if (previous) {
    if (size < previous.treeSize) {
      throw new CheckpointFailure('log_inconsistent', `the log holds ${size} leaves, fewer than the ${previous.treeSize} of the last checkpoint: leaves were deleted`);
    }
    const prefix = treeHash(leaves, 0, previous.treeSize).toString('hex');
    if (prefix !== previous.rootHash) {
      throw new CheckpointFailure('log_inconsistent', `the first ${previous.treeSize} leaves now hash to ${prefix}, the last checkpoint signed ${previous.rootHash}: history was rewritten`);
    }
    // Nothing appended: the last checkpoint still stands, but it is re-signed with a fresh time now
    // and then — "still N leaves at time X" is what proves a quiet period complete (an export
    // needs a checkpoint signed after its range ends).
    if (size === previous.treeSize && time.getTime() - Date.parse(previous.time) < (deps.refreshMs ?? DEFAULT_REFRESH_MS)) {
      return { kind: 'unchanged', checkpoint: previous };
    }
    consistency = {
      fromSize: previous.treeSize,
      fromRoot: previous.rootHash,
      proof: consistencyProof(leaves, previous.treeSize, size).map((h) => h.toString('hex')),
    };
  }
  let checkpoint: Checkpoint;
  try {
    checkpoint = await signCheckpoint(deps.signer, { treeSize: size, rootHash: root, time }, consistency);
  } catch (e) {
    throw new CheckpointFailure('signing_failed', `signing with ${deps.signer.describe} failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  try {
    await deps.store.put(checkpoint);
  } catch (e) {
    throw new CheckpointFailure('store_failed', `the checkpoint could not be written to ${deps.store.describe}`, { cause: e });
  }
  return { kind: 'signed', checkpoint };
}

/**
 * Every leaf hash, in index order; a gap in the indices is itself a rewritten log. Packed 32 bytes
 * a leaf in one buffer (a Buffer object per leaf cost ~130 bytes each: 57 MB at 440k leaves, which
 * broke an export's 160 MB heap); read as an array whose elements are views made on access.
 */
export async function readLeafHashes(log: LogLeafReader, end?: number): Promise<Buffer[]> {
  const size = end ?? (await log.treeSize());
  const packed = Buffer.alloc(size * 32);
  let n = 0;
  for (let start = 0; start < size; start += PAGE) {
    const page = await log.leaves(start, Math.min(size, start + PAGE));
    for (const leaf of page) {
      if (leaf.index !== n) throw new CheckpointFailure('log_inconsistent', `leaf ${n} is missing from the log (found ${leaf.index})`);
      leafHash(leaf.hash).copy(packed, n * 32);
      n++;
    }
  }
  if (n !== size) throw new CheckpointFailure('log_inconsistent', `the log says it holds ${size} leaves, ${n} were read`);
  return packedDigests(packed, size);
}

/** A read-only array view of n 32-byte digests packed in one buffer. */
export function packedDigests(packed: Buffer, n: number): Buffer[] {
  return new Proxy([] as Buffer[], {
    get(target, prop, receiver) {
      if (prop === 'length') return n;
      if (typeof prop === 'string') {
        const i = Number(prop);
        if (Number.isInteger(i) && i >= 0 && i < n) return packed.subarray(i * 32, i * 32 + 32);
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}
