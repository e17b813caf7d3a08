// The checkpoint function's runtime on GCP: the Firestore audit log as the leaves, the Cloud KMS
// key as the signer, the journal collection + retention-locked bucket as the store. One run signs
// at most one checkpoint (shared/transparency/checkpointer.ts). A failure — KMS down, the bucket
// refusing — is logged, recorded as a create-only document in `checkpoint-failures` (so `GET
// /v1/checkpoints/status` and auditors see it), answered 503 so Cloud Scheduler marks the run
// failed, and tried again a minute later. The function never touches the request path: queries
// append to the log whether or not a checkpoint is being signed.
import type { Firestore } from '@google-cloud/firestore';
import { createClient } from '../firestore/client.ts';
import { createFirestoreSessionLog } from '../firestore/session-log.ts';
import type { TransparentSessionLog } from '../../ports.ts';
import type { CheckpointSigner } from '../../transparency/checkpoint.ts';
import { CheckpointFailure, checkpointOnce, newestSignedBy, type CheckpointOutcome } from '../../transparency/checkpointer.ts';
import { firestoreCheckpointStore } from './firestore-store.ts';
import { gcpCheckpointStore } from './gcp-store.ts';
import { gcsCheckpointStore, type GcsOptions } from './gcs-store.ts';
import { createKmsCheckpointSigner, KMS_VERSION_NAME } from './kms-signer.ts';
import { unsignedTooLong, type UnsignedLeaf } from './unsigned-leaf.ts';

export const FAILURE_COLLECTION = 'checkpoint-failures';

export interface GcpCheckpointConfig {
  readonly projectId: string;
  /** The audit database: the log's leaves, and the checkpoint and failure collections. */
  readonly databaseId: string;
  /** Crypto key version name (GATEHOUSE_CHECKPOINT_KEY without `kms://`). */
  readonly kmsKeyVersion: string;
  /** `gs://BUCKET/PREFIX` (GATEHOUSE_CHECKPOINT_BUCKET). */
  readonly bucketUrl: string;
  readonly kmsClientOptions?: Record<string, unknown>;
  readonly gcs?: GcsOptions;
  /** Tests: a client of their own (closed by them). */
  readonly firestore?: Firestore;
  readonly clock?: () => Date;
  readonly refreshMs?: number;
  readonly fullReadEveryMs?: number;
  readonly log?: (entry: Record<string, unknown>) => void;
}

/** GATEHOUSE_CHECKPOINT_KEY (kms://…), GATEHOUSE_CHECKPOINT_BUCKET (gs://…), GATEHOUSE_FIRESTORE_PROJECT, GATEHOUSE_AUDIT_DATABASE. */
export function checkpointConfigFromEnv(env: NodeJS.ProcessEnv = process.env): GcpCheckpointConfig {
  const key = env.GATEHOUSE_CHECKPOINT_KEY ?? '';
  const name = key.startsWith('kms://') ? key.slice('kms://'.length) : '';
  if (!KMS_VERSION_NAME.test(name)) throw new TypeError('GATEHOUSE_CHECKPOINT_KEY must be kms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N');
  const bucketUrl = env.GATEHOUSE_CHECKPOINT_BUCKET ?? '';
  if (!bucketUrl.startsWith('gs://')) throw new TypeError('GATEHOUSE_CHECKPOINT_BUCKET must be gs://BUCKET/PREFIX');
  const projectId = env.GATEHOUSE_FIRESTORE_PROJECT;
  if (!projectId) throw new TypeError('GATEHOUSE_FIRESTORE_PROJECT is not set');
  return { projectId, databaseId: env.GATEHOUSE_AUDIT_DATABASE || 'gatehouse-audit', kmsKeyVersion: name, bucketUrl };
}

export interface RunResult {
  readonly ok: boolean;
  readonly outcome?: CheckpointOutcome['kind'];
  readonly checkpoint?: { readonly treeSize: number; readonly rootHash: string; readonly time: string; readonly keyId?: string };
  readonly error?: { readonly code: string; readonly message: string };
}

export interface CheckpointStatusReport {
  readonly latest: { readonly treeSize: number; readonly rootHash: string; readonly time: string } | null;
  readonly lastFailure: { readonly code: string; readonly message: string; readonly at: string } | null;
  /**
   * The last attempt failed: a failure recorded after the newest checkpoint was signed. Failure
   * records are documents in the audit database, unsigned: their writer's word.
   */
  readonly failing: boolean;
  /** A leaf past the newest checkpoint, created (server clock) more than five minutes ago (unsigned-leaf.ts). */
  readonly behind: UnsignedLeaf | null;
  readonly signer: string;
  readonly store: string;
}

export interface GcpCheckpointing {
  readonly signer: CheckpointSigner;
  runOnce(): Promise<RunResult>;
  status(): Promise<CheckpointStatusReport>;
  close(): Promise<void>;
}

export async function createGcpCheckpointing(config: GcpCheckpointConfig): Promise<GcpCheckpointing> {
  const clock = config.clock ?? (() => new Date());
  const db = config.firestore ?? (await createClient({ projectId: config.projectId, databaseId: config.databaseId, timeoutMs: 10_000 }));
  const log: TransparentSessionLog = await createFirestoreSessionLog({ projectId: config.projectId, databaseId: config.databaseId, firestore: db });
  const signer = createKmsCheckpointSigner({ name: config.kmsKeyVersion, clientOptions: config.kmsClientOptions });
  const journal = firestoreCheckpointStore({ db, publicKeyPem: () => signer.publicKeyPem() });
  const bucket = gcsCheckpointStore(config.bucketUrl, config.gcs);
  const store = gcpCheckpointStore(journal, bucket);
  const emit = config.log ?? ((entry) => console.log(JSON.stringify(entry)));
  let keyPublished = false;
  let running: Promise<RunResult> | undefined;

  const attempt = async (): Promise<RunResult> => {
    const at = clock().toISOString();
    try {
      if (!keyPublished) {
        // Beside the checkpoints, for a reader without --public-key (the published key, the
        // terraform output, is what an auditor should pass).
        await signer.publicKeyPem().then((pem) => bucket.putPublicKey(pem)).catch((e: unknown) => {
          throw new CheckpointFailure(e instanceof Error && e.name === 'KmsSigningError' ? 'signing_failed' : 'store_failed', e instanceof Error ? e.message : String(e), { cause: e });
        });
        keyPublished = true;
      }
      const r = await checkpointOnce({ log, signer, store, clock, refreshMs: config.refreshMs, fullReadEveryMs: config.fullReadEveryMs });
      const c = r.checkpoint;
      if (r.kind === 'signed') emit({ severity: 'INFO', message: `checkpoint signed: ${c.treeSize} leaves, root ${c.rootHash}`, treeSize: c.treeSize, rootHash: c.rootHash });
      return { ok: true, outcome: r.kind, checkpoint: { treeSize: c.treeSize, rootHash: c.rootHash, time: c.time, keyId: c.keyId } };
    } catch (e) {
      const f = e instanceof CheckpointFailure ? e : new CheckpointFailure('signing_failed', e instanceof Error ? e.message : String(e), { cause: e });
      emit({ severity: 'ERROR', message: `checkpoint NOT signed [${f.code}]: ${f.message}`, code: f.code });
      // Recorded create-only beside the checkpoints; if even that fails, the log line above stands.
      await db.collection(FAILURE_COLLECTION).doc(`${at}-${Math.random().toString(36).slice(2, 8)}`).create({ code: f.code, message: f.message, at }).catch(() => {});
      return { ok: false, error: { code: f.code, message: f.message } };
    }
  };

  return {
    signer,
    runOnce() {
      // One run at a time per instance: an on-demand call during a scheduled one waits for it.
      running ??= attempt().finally(() => (running = undefined));
      return running;
    },
    async status() {
      // The journal's newest of ours; past a flood of forged documents it finds none, and the
      // bucket, which only the signer writes, answers (as it does for the signer itself).
      const latest =
        (await journal.latest!().catch(() => undefined)) ??
        (await signer
          .publicKeyPem()
          .then(async (pem) => newestSignedBy((await bucket.list()).checkpoints, pem))
          .catch(() => undefined));
      const failures = await db.collection(FAILURE_COLLECTION).orderBy('at', 'desc').limit(1).get();
      const f = failures.docs[0]?.data() as { code: string; message: string; at: string } | undefined;
      const lastFailure = f ? { code: String(f.code), message: String(f.message), at: String(f.at) } : null;
      return {
        latest: latest ? { treeSize: latest.treeSize, rootHash: latest.rootHash, time: latest.time } : null,
        lastFailure,
        failing: lastFailure !== null && (latest === undefined || Date.parse(lastFailure.at) >= Date.parse(latest.time)),
        behind: await unsignedTooLong(db, latest?.treeSize ?? 0, clock()),
        signer: signer.describe,
        store: store.describe,
      };
    },
    async close() {
      await running?.catch(() => {});
      await log.close();
      if (!config.firestore) await db.terminate();
    },
  };
}
