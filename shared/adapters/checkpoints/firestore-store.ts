// Checkpoints in a collection of the Firestore audit database (`checkpoints`, one document per
// checkpoint, id = its name without .json). Create-only like the rest of that database: the
// checkpoint function's account holds the audit appender role (create, get, list). It is the
// signer's journal: the newest checkpoint is one indexed query away (treeSize descending), where
// the bucket would have to be listed whole. Anyone who may append to the log may also create a
// document here, so a document is believed only if its signature verifies with the signer's own
// public key and its id is its name: a forged one is skipped (and counted), never built upon.
// Forged documents can also bury the real newest one (a tree size above the log's sorts first):
// latest() reads on past them a page at a time, and after `maxScan` documents with none of ours
// answers "none found", so the signer searches the bucket, which only it may write
// (transparency/checkpointer.ts lastSignedByUs). Before, 50 such documents stopped the signer.
import type { Firestore } from '@google-cloud/firestore';
import { asCheckpoint, type Checkpoint } from '../../transparency/checkpoint.ts';
import { checkpointName, type CheckpointListing, type CheckpointStore } from '../../transparency/checkpoint-store.ts';
import { parsePublicKey } from '../../transparency/verify-checkpoints.ts';
import { checkSignature } from '../../transparency/checkpoint.ts';

export const CHECKPOINT_COLLECTION = 'checkpoints';

export interface FirestoreCheckpointStoreOptions {
  readonly db: Firestore;
  readonly collection?: string;
  /** The key checkpoints must verify with to be taken as the latest. */
  publicKeyPem(): Promise<string>;
  /** Documents read per page, newest tree first. */
  readonly scan?: number;
  /** How many documents to look through for one that verifies before answering none. */
  readonly maxScan?: number;
}

export interface FirestoreCheckpointStore extends CheckpointStore {
  /** Documents among the newest that did not verify (forged or broken), from the last latest(). */
  readonly skipped: number;
}

const docId = (c: Pick<Checkpoint, 'treeSize' | 'time'>): string => checkpointName(c).replace(/\.json$/, '');

export function firestoreCheckpointStore(options: FirestoreCheckpointStoreOptions): FirestoreCheckpointStore {
  const name = options.collection ?? CHECKPOINT_COLLECTION;
  const col = options.db.collection(name);
  let skipped = 0;
  const toCheckpoint = (id: string, data: unknown): Checkpoint | undefined => {
    const c = asCheckpoint(data);
    return typeof c === 'string' || docId(c) !== id ? undefined : c;
  };
  return {
    describe: `Firestore collection ${name} of database ${options.db.databaseId}`,
    get skipped() {
      return skipped;
    },
    async list(): Promise<CheckpointListing> {
      const snap = await col.orderBy('treeSize', 'asc').get();
      const checkpoints: Checkpoint[] = [];
      const unreadable: { name: string; reason: string }[] = [];
      for (const d of snap.docs) {
        const c = toCheckpoint(d.id, d.data());
        if (c) checkpoints.push(c);
        else unreadable.push({ name: d.id, reason: 'not a checkpoint stored under its own name' });
      }
      checkpoints.sort((a, b) => a.treeSize - b.treeSize || Date.parse(a.time) - Date.parse(b.time));
      return { checkpoints, unreadable };
    },
    async put(checkpoint) {
      // create(): fails with ALREADY_EXISTS if the document exists; never set or update.
      await col.doc(docId(checkpoint)).create(JSON.parse(JSON.stringify(checkpoint)) as Record<string, unknown>);
    },
    async latest() {
      const pk = parsePublicKey(await options.publicKeyPem());
      if (!pk) throw new Error('the checkpoint signer\'s public key is not an EC P-256 key');
      const page = options.scan ?? 50;
      const maxScan = options.maxScan ?? 1000;
      skipped = 0;
      let query = col.orderBy('treeSize', 'desc').limit(page);
      for (let read = 0; read < maxScan; ) {
        const snap = await query.get();
        read += snap.size;
        const valid: Checkpoint[] = [];
        for (const d of snap.docs) {
          const c = toCheckpoint(d.id, d.data());
          if (c && c.logId === pk.logId && checkSignature(c, c.signature, pk.key)) valid.push(c);
          else skipped++;
        }
        // Pages come in tree-size order, so the first page holding one of ours holds the newest.
        if (valid.length > 0) return valid.sort((a, b) => b.treeSize - a.treeSize || Date.parse(b.time) - Date.parse(a.time))[0];
        if (snap.size < page) return undefined;
        query = query.startAfter(snap.docs[snap.size - 1]!);
      }
      return undefined;
    },
  };
}
