// The checkpoint signer's one step: read the log's leaves, recompute the root, check that the log
// still extends the last checkpoint (a rewritten history is refused, loudly, never signed), prove
// the consistency, sign, store. It runs beside the request path, never on it: `gatehouse start`
// runs it on a timer; on GCP Cloud Scheduler calls the checkpoint function every minute. If
// signing fails (KMS down) the step fails and the next one tries again; appends never wait.
// Each checkpoint carries the tree's right frontier (frontier.ts), so the next run reads only the
// leaves appended since; every fullReadEveryMs a run reads them all and re-checks the signed prefix.
import type { LogLeafReader } from '../ports.ts';
import { createPublicKey } from 'node:crypto';
import { checkSignature, logIdOf, signCheckpoint, type Checkpoint, type CheckpointSigner } from './checkpoint.ts';
import type { CheckpointStore } from './checkpoint-store.ts';
import { consistencyProofFromFrontier, extendFrontier, frontierHex, frontierOf, frontierRoot, parseFrontier, type Frontier } from './frontier.ts';
import { consistencyProof, leafHash, treeHash } from './merkle-tree.ts';

export interface CheckpointDeps {
  readonly log: LogLeafReader;
  readonly signer: CheckpointSigner;
  readonly store: CheckpointStore;
  readonly clock?: () => Date;
  /** Re-sign an unchanged tree once its last checkpoint is this old; default 10 minutes. */
  readonly refreshMs?: number;
  /** Read every leaf again (and check the signed history) once the last full read is this old; default 1 hour. */
  readonly fullReadEveryMs?: number;
  /** false: read every leaf on every run (the behaviour before frontiers were kept). */
  readonly incremental?: boolean;
  /**
   * The newest checkpoint this signer is known to have signed (the runner remembers it, and reads
   * it back from its status at start). The store must still hold it or a newer one of ours: else
   * checkpoints were removed, and the log would be held only to an older one.
   */
  readonly lastSigned?: { readonly treeSize: number; readonly rootHash: string };
}

export const DEFAULT_REFRESH_MS = 10 * 60_000;
export const DEFAULT_FULL_READ_MS = 60 * 60_000;

export type CheckpointOutcome =
  | { readonly kind: 'signed'; readonly checkpoint: Checkpoint }
  | { readonly kind: 'unchanged'; readonly checkpoint: Checkpoint };

/** Why a step failed, with a stable code (shown by `gatehouse checkpoint status`). */
export class CheckpointFailure extends Error {
  override readonly name = 'CheckpointFailure';
  constructor(
    readonly code: 'log_unreadable' | 'log_inconsistent' | 'signing_failed' | 'store_failed' | 'checkpoints_unreadable' | 'checkpoints_missing' | 'clock_skew',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const PAGE = 50_000;

export async function checkpointOnce(deps: CheckpointDeps): Promise<CheckpointOutcome> {
  const clock = deps.clock ?? (() => new Date());
  const previous = await lastSignedByUs(deps);
  // Rolled back: the newest checkpoint of ours in the store is older than one we signed. Building on
  // it would let a history rewritten after it be signed; the missing checkpoint must be restored.
  const known = deps.lastSigned;
  if (known && (!previous || previous.treeSize < known.treeSize || (previous.treeSize === known.treeSize && previous.rootHash !== known.rootHash))) {
    throw new CheckpointFailure(
      'checkpoints_missing',
      `${deps.store.describe} no longer holds the checkpoint of ${known.treeSize} leaves (root ${known.rootHash}) this signer signed${previous ? `; its newest is of ${previous.treeSize} leaves` : ''}: checkpoints were removed or replaced — restore them before signing again`,
    );
  }
  const time = clock();
  // A clock behind the last checkpoint's would sign "at T the log had N leaves" for a T at which an
  // earlier checkpoint says it had fewer: false (the log only grows), and it would weaken every
  // later check that dates leaves by checkpoints. Refused until the clock is past it again.
  if (previous && !(time.getTime() >= Date.parse(previous.time))) {
    throw new CheckpointFailure('clock_skew', `the signer's clock says ${Number.isNaN(time.getTime()) ? 'nothing valid' : time.toISOString()}, before the last checkpoint's time ${previous.time}: not signing until it has caught up`);
  }
  let read: TreeRead;
  try {
    read = await readTree(deps, previous, time);
  } catch (e) {
    if (e instanceof CheckpointFailure) throw e;
    throw new CheckpointFailure('log_unreadable', 'the session log cannot be read', { cause: e });
  }
  const { size, root } = read;
  if (previous) {
    // Nothing appended: the last checkpoint still stands, but it is re-signed with a fresh time now
    // and then — "still N leaves at time X" is what proves a quiet period complete (an export
    // needs a checkpoint signed after its range ends).
    if (size === previous.treeSize && time.getTime() - Date.parse(previous.time) < (deps.refreshMs ?? DEFAULT_REFRESH_MS)) {
      return { kind: 'unchanged', checkpoint: previous };
    }
  }
  let checkpoint: Checkpoint;
  try {
    const signed = await signCheckpoint(deps.signer, { treeSize: size, rootHash: root, time }, read.consistency);
    checkpoint = { ...signed, frontier: frontierHex(read.frontier), fullReadAt: read.fullReadAt };
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
 * The newest checkpoint in the store that this signer signed: the one the log must still extend.
 * Anything else in the store — a file planted in the checkpoints folder, a document created with
 * the writer's rights — is not a base to build on: a planted "checkpoint" carrying the root of a
 * rewritten log would otherwise become the prefix the log is checked against (and a planted huge
 * tree would stop the signer for good). The store's own latest() is taken when it is ours; else
 * the whole listing is searched, newest first.
 */
async function lastSignedByUs(deps: CheckpointDeps): Promise<Checkpoint | undefined> {
  let pem: string;
  try {
    pem = await deps.signer.publicKeyPem();
  } catch (e) {
    throw new CheckpointFailure('signing_failed', `the signer's public key could not be read (${deps.signer.describe}): ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  try {
    const latest = deps.store.latest ? await deps.store.latest() : undefined;
    if (latest && newestSignedBy([latest], pem)) return latest;
    return newestSignedBy((await deps.store.list()).checkpoints, pem);
  } catch (e) {
    // A store that cannot be listed would let this step sign without checking the last root.
    throw new CheckpointFailure('checkpoints_unreadable', `the checkpoint store ${deps.store.describe} cannot be read`, { cause: e });
  }
}

/** The newest of `checkpoints` (oldest first) that the key `pem` signed for its own log, if any. */
export function newestSignedBy(checkpoints: readonly Checkpoint[], pem: string): Checkpoint | undefined {
  const logId = logIdOf(pem);
  const key = createPublicKey(pem);
  for (let i = checkpoints.length - 1; i >= 0; i--) {
    const c = checkpoints[i]!;
    if (c.logId === logId && checkSignature(c, c.signature, key)) return c;
  }
  return undefined;
}

interface TreeRead {
  readonly size: number;
  readonly root: string;
  readonly frontier: Frontier;
  readonly consistency: Checkpoint['consistency'];
  readonly fullReadAt: string;
}

/**
 * The log's tree now and its consistency with `previous`. Incremental (only the leaves appended
 * since) when the previous checkpoint carries a frontier that folds back to its signed root and
 * its history was last read in full less than fullReadEveryMs ago; otherwise every leaf is read,
 * which also proves the signed prefix was not rewritten since (an incremental run cannot see a
 * rewrite below the frontier: verifiers do, and the next full read does).
 */
async function readTree(deps: CheckpointDeps, previous: Checkpoint | undefined, time: Date): Promise<TreeRead> {
  // `previous` is a checkpoint this signer signed (lastSignedByUs): its frontier is believed when it
  // folds back to its signed root.
  const old = previous ? usableFrontier(previous) : undefined;
  const lastFull = previous?.fullReadAt ? Date.parse(previous.fullReadAt) : Number.NaN;
  // NaN (never, or unreadable) or in the future (a clock that jumped back) is due as well.
  const sinceFull = time.getTime() - lastFull;
  const fullDue = !(sinceFull >= 0 && sinceFull < (deps.fullReadEveryMs ?? DEFAULT_FULL_READ_MS));
  if (previous && old && !fullDue && deps.incremental !== false) {
    const size = await deps.log.treeSize();
    if (size < previous.treeSize) {
      throw new CheckpointFailure('log_inconsistent', `the log holds ${size} leaves, fewer than the ${previous.treeSize} of the last checkpoint: leaves were deleted`);
    }
    const fresh = await readLeafRange(deps.log, previous.treeSize, size);
    const frontier = extendFrontier(old, fresh);
    const consistency = size === previous.treeSize ? consistencyOf(previous, []) : consistencyOf(previous, consistencyProofFromFrontier(old, fresh));
    return { size, root: frontierRoot(frontier).toString('hex'), frontier, consistency, fullReadAt: previous.fullReadAt! };
  }
  const leaves = await readLeafHashes(deps.log);
  const size = leaves.length;
  if (previous) {
    if (size < previous.treeSize) {
      throw new CheckpointFailure('log_inconsistent', `the log holds ${size} leaves, fewer than the ${previous.treeSize} of the last checkpoint: leaves were deleted`);
    }
    const prefix = treeHash(leaves, 0, previous.treeSize).toString('hex');
    if (prefix !== previous.rootHash) {
      throw new CheckpointFailure('log_inconsistent', `the first ${previous.treeSize} leaves now hash to ${prefix}, the last checkpoint signed ${previous.rootHash}: history was rewritten`);
    }
  }
  const frontier = frontierOf(leaves);
  return {
    size,
    root: frontierRoot(frontier).toString('hex'),
    frontier,
    consistency: previous ? consistencyOf(previous, consistencyProof(leaves, previous.treeSize, size)) : null,
    fullReadAt: time.toISOString(),
  };
}

const consistencyOf = (previous: Checkpoint, proof: readonly Buffer[]): NonNullable<Checkpoint['consistency']> => ({
  fromSize: previous.treeSize,
  fromRoot: previous.rootHash,
  proof: proof.map((h) => h.toString('hex')),
});

/** The previous checkpoint's frontier, when it is the one of its signed tree; else undefined. */
function usableFrontier(previous: Checkpoint): Frontier | undefined {
  const f = parseFrontier(previous.treeSize, previous.frontier);
  return f && frontierRoot(f).toString('hex') === previous.rootHash ? f : undefined;
}

/**
 * Every leaf hash, in index order; a gap in the indices is itself a rewritten log. Packed 32 bytes
 * a leaf in one buffer (a Buffer object per leaf cost ~130 bytes each: 57 MB at 440k leaves, which
 * broke an export's 160 MB heap); read as an array whose elements are views made on access.
 */
export async function readLeafHashes(log: LogLeafReader, end?: number): Promise<Buffer[]> {
  return readLeafRange(log, 0, end ?? (await log.treeSize()));
}

/**
 * The leaf hashes of [from, to), in index order (element i is leaf from + i); a gap is refused.
 * Memory is taken a page at a time, as the leaves arrive: the size comes from the store, and a
 * leaf planted far ahead (Firestore's create() lets the writer choose any index) must be a gap
 * found on the first short page — not a buffer sized by it, nor millions of empty pages read.
 */
export async function readLeafRange(log: LogLeafReader, from: number, to: number): Promise<Buffer[]> {
  const count = Math.max(0, to - from);
  const chunks: Buffer[] = [];
  let n = from;
  for (let start = from; start < to; start += PAGE) {
    const want = Math.min(to, start + PAGE);
    const page = await log.leaves(start, want);
    const chunk = Buffer.alloc((want - start) * 32);
    for (const leaf of page) {
      if (leaf.index !== n) throw new CheckpointFailure('log_inconsistent', `leaf ${n} is missing from the log (found ${leaf.index})`);
      leafHash(leaf.hash).copy(chunk, (n - start) * 32);
      n++;
    }
    if (n !== want) throw new CheckpointFailure('log_inconsistent', `the log says it holds ${to} leaves, but leaf ${n} is missing from it`);
    chunks.push(chunk);
  }
  if (n !== to) throw new CheckpointFailure('log_inconsistent', `the log says it holds ${to} leaves, ${n} were read`);
  return packedDigests(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, count * 32), count);
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
