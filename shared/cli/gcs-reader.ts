// The Cloud Storage reader behind `--checkpoints gs://BUCKET/PREFIX`, chosen here at the edge:
// shared/transparency/ and shared/evidence/ take a GcsReader and never import an adapter (no
// folder cycle: test/repo/import-cycles.test.ts). Loaded on first use, with the caller's (the
// auditor's) application default credentials, or STORAGE_EMULATOR_HOST.
import type { GcsReader } from '../transparency/checkpoint-source.ts';

export const cloudStorageReader: GcsReader = async (bucket, prefix) => {
  const { gcsCheckpointReader } = await import('../adapters/checkpoints/gcs-store.ts');
  return gcsCheckpointReader()(bucket, prefix);
};
