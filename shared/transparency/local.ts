// Checkpoints on one machine: the key file, the checkpoints folder and the status file under the
// state dir.
import { join } from 'node:path';
import { CHECKPOINTS_DIR, folderCheckpointStore, type CheckpointStore } from './checkpoint-store.ts';
import { localKeyPaths, localSigner } from './local-signer.ts';
import type { CheckpointSigner } from './checkpoint.ts';
import { STATUS_FILE } from './status.ts';

export interface LocalCheckpointing {
  readonly signer: CheckpointSigner;
  readonly store: CheckpointStore;
  readonly statusPath: string;
  readonly publicKeyPath: string;
}

export function localCheckpointing(stateDir: string, options: { createKey?: boolean } = {}): LocalCheckpointing {
  return {
    signer: localSigner(stateDir, { create: options.createKey }),
    store: folderCheckpointStore(join(stateDir, CHECKPOINTS_DIR)),
    statusPath: join(stateDir, STATUS_FILE),
    publicKeyPath: localKeyPaths(stateDir).publicKey,
  };
}
