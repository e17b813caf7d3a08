// Checkpoints on GCP are kept twice: in the audit database's `checkpoints` collection (the
// signer's journal: the newest one is one query away) and in the retention-locked bucket (the copy
// no one can delete; what auditors verify). Written journal first, then bucket, each create-only.
// A run that stops between the two leaves the newest checkpoint only in the journal; the next run
// first copies it to the bucket (latest()), so the bucket never misses a link of the chain that
// the next checkpoint's consistency proof starts from.
import type { Checkpoint } from '../../transparency/checkpoint.ts';
import { checkpointName, type CheckpointStore } from '../../transparency/checkpoint-store.ts';
import { isStatus, type GcsCheckpointStore } from './gcs-store.ts';
import type { FirestoreCheckpointStore } from './firestore-store.ts';

export function gcpCheckpointStore(journal: FirestoreCheckpointStore, bucket: GcsCheckpointStore): CheckpointStore {
  const toBucket = async (c: Checkpoint) => {
    try {
      await bucket.put(c);
    } catch (e) {
      // 412: already there (a retried run). Anything else fails the run.
      if (!isStatus(e, 412)) throw e;
    }
  };
  return {
    describe: `${bucket.describe} and ${journal.describe}`,
    list: () => bucket.list(),
    async put(c) {
      await journal.put(c);
      await toBucket(c);
    },
    async latest() {
      const c = await journal.latest!();
      if (c && !(await bucket.get(checkpointName(c)))) await toBucket(c);
      return c;
    },
  };
}
