// How long the log has held a leaf that no signed checkpoint covers, by the server's clock. The
// checkpoint function signs every minute; a KMS outage records failures in the audit database —
// but whoever may write that database (the query function's account) may also delete them, and a
// function that stopped running records nothing at all. The leaf's own document says it anyway:
// Firestore gives every document a create time no client can set, so the first leaf past the
// newest signed tree, created more than UNSIGNED_FOR_MS ago, means checkpoints are not being made.
import type { Firestore } from '@google-cloud/firestore';
import { leafId } from '../firestore/documents.ts';

/** Five of the scheduler's minutes: a leaf unsigned for longer is a checkpoint function not signing. */
export const UNSIGNED_FOR_MS = 5 * 60_000;

/** The session log's global log collection (shared/adapters/firestore/session-log.ts, no prefix). */
const LOG_COLLECTION = 'log';

export interface UnsignedLeaf {
  /** The first index past the newest signed tree: the oldest place no checkpoint covers. */
  readonly leaf: number;
  /** When Firestore created its document. */
  readonly appendedAt: string;
  readonly seconds: number;
}

/**
 * The first place past `treeSize` (the newest signed checkpoint's, 0 without one) when a document
 * is there and was created more than UNSIGNED_FOR_MS before `now`; otherwise null. Whatever the
 * document holds: a leaf, or a document created there behind the log's back (which the signer
 * cannot sign past either).
 */
export async function unsignedTooLong(db: Firestore, treeSize: number, now: Date): Promise<UnsignedLeaf | null> {
  const doc = await db.collection(LOG_COLLECTION).doc(leafId(treeSize)).get();
  if (!doc.exists || doc.createTime === undefined) return null;
  const created = doc.createTime.toDate();
  const ms = now.getTime() - created.getTime();
  return ms > UNSIGNED_FOR_MS ? { leaf: treeSize, appendedAt: created.toISOString(), seconds: Math.round(ms / 1000) } : null;
}
