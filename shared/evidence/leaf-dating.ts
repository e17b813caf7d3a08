// When an event of the global log can have happened, given the signed checkpoints. The gateway
// dates an event when it happens and appends it then, so a leaf appended after a checkpoint was
// signed cannot be dated (much) before it — backdated — and a leaf already in a signed tree cannot
// be dated (much) after that tree was signed — postdated. Export (log-coverage.ts) and verify
// (verify-log.ts, clean-pass/) hold every indexed event to both, with the same words.
import type { Checkpoint } from '../transparency/checkpoint.ts';

/** How far a gateway's clock may be from the checkpoint signer's. */
export const CLOCK_MARGIN_MS = 5 * 60_000;

export interface Misdated {
  readonly kind: 'leaf_backdated' | 'leaf_postdated';
  readonly message: string;
}

const NONE: readonly Misdated[] = Object.freeze([]);

/**
 * The dating check over valid checkpoints (oldest first): what is wrong with an indexed event's
 * date — nothing, or one or both kinds (both only where the checkpoints' own times disagree with
 * their order). Without checkpoints nothing is signed, so nothing can be misdated.
 */
export function leafDating(checkpoints: readonly Checkpoint[]): (event: { readonly sessionId: string; readonly seq: number; readonly index: number; readonly at: string }) => readonly Misdated[] {
  if (checkpoints.length === 0) return () => NONE;
  const signed = checkpoints.map((c) => ({ treeSize: c.treeSize, time: c.time, signedMs: Date.parse(c.time) }));
  const heldSince = signedHolding(signed);
  return (event) => {
    let found: Misdated[] | undefined;
    // A leaf appended after a signed checkpoint cannot have happened before that checkpoint.
    const before = latestAtOrBelow(signed, event.index);
    if (before && Date.parse(event.at) < before.signedMs - CLOCK_MARGIN_MS) {
      (found ??= []).push({ kind: 'leaf_backdated', message: `event ${event.seq} of session ${event.sessionId} says ${event.at}, but it is leaf ${event.index}, appended after the checkpoint of ${before.treeSize} leaves signed ${before.time}` });
    }
    // Nor dated well after a checkpoint that already held it.
    const held = heldSince(event.index);
    if (isPostdated(event.at, held)) {
      (found ??= []).push({ kind: 'leaf_postdated', message: `event ${event.seq} of session ${event.sessionId} says ${event.at}, but its leaf ${event.index} was in a tree signed ${new Date(held!).toISOString()}: an append dated ahead` });
    }
    return found ?? NONE;
  };
}

/** The latest checkpoint (oldest first) whose tree size is ≤ index: signed before leaf `index` existed. */
export function latestAtOrBelow<C extends { readonly treeSize: number }>(checkpoints: readonly C[], index: number): C | undefined {
  let lo = 0;
  let hi = checkpoints.length - 1;
  let found: C | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (checkpoints[mid]!.treeSize <= index) {
      found = checkpoints[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/**
 * When a leaf was first known to be in a signed tree: for leaf `index`, the earliest signing time
 * (ms) among the checkpoints (tree order, as verify lists them) whose tree holds it, or undefined
 * when none does. An event dated more than the clock margin after that time is postdated: the
 * gateway dates an event when it happens and appends it then (isPostdated).
 */
export function signedHolding(checkpoints: readonly { readonly treeSize: number; readonly signedMs: number }[]): (index: number) => number | undefined {
  // Earliest time over each suffix: a checkpoint holding leaf i holds every leaf below its size.
  const earliest = new Array<number>(checkpoints.length);
  let min = Infinity;
  for (let k = checkpoints.length - 1; k >= 0; k--) {
    const ms = checkpoints[k]!.signedMs;
    if (ms < min) min = ms;
    earliest[k] = min;
  }
  return (index) => {
    let lo = 0;
    let hi = checkpoints.length;
    // The first checkpoint (tree order) whose size is above index.
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (checkpoints[mid]!.treeSize > index) hi = mid;
      else lo = mid + 1;
    }
    return lo < checkpoints.length ? earliest[lo] : undefined;
  };
}

/** Whether an event dated `at` is postdated for a leaf first signed at `heldMs` (an unreadable date is). */
export function isPostdated(at: string, heldMs: number | undefined): boolean {
  return heldMs !== undefined && !(Date.parse(at) <= heldMs + CLOCK_MARGIN_MS);
}

/** The earliest signing time of the valid checkpoints (ms), or +Infinity without any. */
export function firstSignedMs(signedMs: readonly number[]): number {
  let first = Infinity;
  for (const ms of signedMs) if (ms < first) first = ms;
  return first;
}

/**
 * Whether an event without a place in the log can be from before the log existed: dated before the
 * log's first signed checkpoint (plus the clock margin). A writer that inserts one now (Firestore's
 * create() cannot refuse it) is named, unless it also backdates it to before the first checkpoint
 * — which no signature can tell from an event of that time (docs/evidence.md).
 */
export function unindexedPredatesLog(at: string, firstSignedMs: number): boolean {
  return firstSignedMs === Infinity || Date.parse(at) < firstSignedMs + CLOCK_MARGIN_MS;
}
