// What every chunk task of the clean pass needs to know about the export, in shared memory so a
// task message carries it without a copy: the run of the global log (its leaves' event hashes and
// which leaves were seen where), the exported sessions' ids, the time range, the checkpoints that
// date the leaves, the approval desk's key. A worker unpacks it once per verify run and keeps it.
import { firstSignedMs, signedHolding } from '../leaf-dating.ts';
import { voteKeyOf, type VoteKey } from '../votes.ts';

export interface PassContext {
  /** Distinguishes verify runs: a worker keeps the unpacked context of the latest one only. */
  readonly id: string;
  readonly log?: {
    readonly start: number;
    readonly n: number;
    /** Event hash of leaf start + i at [32 i, 32 i + 32). */
    readonly eventHashes: Uint8Array;
    /** 1 once leaf i was read from leaves.jsonl / is claimed by an event / belongs to an exported session. */
    readonly inLeaves: Uint8Array;
    readonly inEvents: Uint8Array;
    readonly exportedSession: Uint8Array;
    /** Valid signed checkpoints, oldest first: tree size and signing time (ms). */
    readonly checkpoints: readonly { readonly treeSize: number; readonly signedMs: number }[];
  };
  /** The manifest's session ids, newline-separated UTF-8. */
  readonly exportedIds: Uint8Array;
  readonly range: { readonly fromMs: number; readonly toMs: number };
  readonly votePublicKeyPem?: string;
}

export interface Unpacked {
  readonly ctx: PassContext;
  readonly exported: ReadonlySet<string>;
  readonly voteKey?: VoteKey;
  /** When the log was first signed (ms), +Infinity without checkpoints (verify-log.ts firstSignedMs). */
  readonly firstSignedMs: number;
  /** When leaf `index` was first in a signed tree (verify-log.ts signedHolding). */
  readonly heldSince: (index: number) => number | undefined;
}

let current: Unpacked | undefined;

/** The context with its id set unpacked (once per thread and verify run). */
export function unpack(ctx: PassContext): Unpacked {
  if (current?.ctx.id === ctx.id) return current;
  const ids = Buffer.from(ctx.exportedIds.buffer, ctx.exportedIds.byteOffset, ctx.exportedIds.byteLength).toString('utf8');
  const key = ctx.votePublicKeyPem === undefined ? undefined : voteKeyOf(ctx.votePublicKeyPem);
  // verify resolved the key before; a task that cannot use it must fail, never skip the votes.
  if (typeof key === 'string') throw new Error(`the approval desk key is ${key}`);
  const firstSigned = firstSignedMs(ctx.log?.checkpoints.map((c) => c.signedMs) ?? []);
  const heldSince = signedHolding(ctx.log?.checkpoints ?? []);
  current = { ctx, exported: new Set(ids === '' ? [] : ids.split('\n')), ...(key ? { voteKey: key } : {}), firstSignedMs: firstSigned, heldSince };
  return current;
}

/** Marks leaf i in a shared flag array; false when it was marked already (by any thread). */
export function markOnce(flags: Uint8Array, i: number): boolean {
  return Atomics.exchange(flags, i, 1) === 0;
}
