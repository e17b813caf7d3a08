// What verify hands to its worker threads (verify-pool.ts): pure functions of shared memory or a
// file, so the same code runs in a worker or, without one, in the calling thread. None of them
// decides anything: verify's own checks read their answers, and a worker that answers "no" (or
// not at all) only sends verify down its slower path.
import { createHash, hash as oneShotHash } from 'node:crypto';
import { threadId, isMainThread } from 'node:worker_threads';
import { sha256File, sha256FileSync } from './files.ts';
import { eventHashHolds } from './event-hash.ts';
import { eventHashesTreeHash } from './leaf-hashes.ts';
import { splitLines } from './lines.ts';
import { asEvent } from './verify-session.ts';
import { isVoteEvent, voteKeyOf, voteSignatureHolds } from './votes.ts';
import type { PassContext } from './clean-pass/context.ts';
import { eventsChunk } from './clean-pass/events.ts';
import { leavesChunk } from './clean-pass/leaves.ts';

export type Task =
  | { readonly kind: 'sha256File'; readonly path: string }
  | { readonly kind: 'eventHashBits'; readonly bytes: Uint8Array; readonly votePublicKeyPem?: string }
  | { readonly kind: 'subtreeRoots'; readonly hashes: Uint8Array; readonly ranges: readonly (readonly [number, number])[] }
  /** The clean pass (clean-pass/): a chunk of leaves.jsonl, or of events.jsonl cut between sessions. */
  | { readonly kind: 'cleanLeaves'; readonly bytes: Uint8Array; readonly pass: PassContext }
  | { readonly kind: 'cleanEvents'; readonly bytes: Uint8Array; readonly pass: PassContext }
  /** Which thread ran it (0: the main thread): for tests that must know a worker did. */
  | { readonly kind: 'threadId' };

export async function runTask(task: Task): Promise<unknown> {
  switch (task.kind) {
    case 'sha256File':
      // A worker has nothing else to do meanwhile: reading in its own thread, not through the
      // event loop and libuv's pool, keeps the core it holds busy with the hashing.
      return isMainThread ? sha256File(task.path) : sha256FileSync(task.path);
    case 'eventHashBits':
      return eventHashBits(task.bytes, task.votePublicKeyPem);
    case 'subtreeRoots':
      return task.ranges.map(([a, b]) => mth(task.hashes, a, b));
    case 'cleanLeaves':
      return leavesChunk(task.bytes, task.pass);
    case 'cleanEvents':
      return eventsChunk(task.bytes, task.pass);
    case 'threadId':
      return threadId;
  }
}

/** Bit of eventHashBits: the line is an event whose own hash is the hash of its content. */
export const HASH_HOLDS = 1;
/** Bit of eventHashBits: the line is a vote event whose signature verifies with the desk key given. */
export const VOTE_SIGNATURE_HOLDS = 2;

/**
 * One byte per line of the chunk (split as verify splits it): HASH_HOLDS and VOTE_SIGNATURE_HOLDS
 * as they hold, 0 otherwise (unreadable, not an event, modified, unsigned, another key).
 */
export function eventHashBits(bytes: Uint8Array, votePublicKeyPem?: string): Uint8Array {
  const lines = splitLines(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  const bits = new Uint8Array(lines.length);
  const key = votePublicKeyPem === undefined ? undefined : voteKeyOf(votePublicKeyPem);
  for (let i = 0; i < lines.length; i++) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(lines[i]!);
    } catch {
      continue;
    }
    const event = asEvent(parsed);
    if (typeof event === 'string') continue;
    if (eventHashHolds(event)) bits[i] = HASH_HOLDS;
    if (typeof key === 'object' && isVoteEvent(event) && voteSignatureHolds(key, event)) bits[i]! |= VOTE_SIGNATURE_HOLDS;
  }
  return bits;
}

// RFC 6962 hashing with one native call per hash (shared/transparency/merkle-tree.ts defines it;
// test/evidence/verify-pool.test.ts checks these agree).
const sha256: (data: Buffer) => Buffer =
  typeof oneShotHash === 'function' ? (data) => oneShotHash('sha256', data, 'buffer') as unknown as Buffer : (data) => createHash('sha256').update(data).digest();

/** MTH over the leaves whose event hashes are at [a, b) of `hashes` (leaf-hashes.ts). */
export function mth(hashes: Uint8Array, a: number, b: number): Buffer {
  return eventHashesTreeHash(hashes, a, b);
}

/** node(l, r) of RFC 6962. */
export function nodeOf(l: Buffer, r: Buffer): Buffer {
  return sha256(Buffer.concat([Buffer.from([1]), l, r]));
}
