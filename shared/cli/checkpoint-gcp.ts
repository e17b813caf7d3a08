// `gatehouse checkpoint status --store firestore://PROJECT/DATABASE [--public-key FILE]`: on GCP
// the signer is the checkpoint function; its journal (the `checkpoints` collection) and its
// recorded failures (`checkpoint-failures`) are in the audit database, which an operator or
// auditor reads with their own credentials. With the published key, the newest checkpoint shown
// is the newest whose signature verifies (anyone who may append to the log may also create a
// document there); without it, the newest document, marked unchecked. Failure records are that
// writer's word too (made, or deleted): what status trusts is the server's create time of the first
// leaf no signed checkpoint covers — older than five minutes, the checkpoints are behind
// (shared/adapters/checkpoints/unsigned-leaf.ts).
import { readFileSync } from 'node:fs';
import type { Firestore } from '@google-cloud/firestore';
import { CHECKPOINT_COLLECTION, firestoreCheckpointStore } from '../adapters/checkpoints/firestore-store.ts';
import { FAILURE_COLLECTION } from '../adapters/checkpoints/gcp.ts';
import { unsignedTooLong } from '../adapters/checkpoints/unsigned-leaf.ts';
import { createClient } from '../adapters/firestore/client.ts';
import { asCheckpoint, type Checkpoint } from '../transparency/checkpoint.ts';
import { parseStoreOption } from './store-option.ts';

export async function gcpCheckpointStatusCommand(
  storeOption: string,
  publicKeyPath: string | undefined,
  json: boolean,
  options: { readonly firestore?: Firestore; readonly now?: Date } = {},
): Promise<{ text: string; ok: boolean }> {
  const store = parseStoreOption(storeOption);
  if (store.kind !== 'firestore') throw new TypeError('checkpoint status --store reads the checkpoint function\'s journal: firestore://PROJECT[/DATABASE]');
  const now = options.now ?? new Date();
  const db = options.firestore ?? (await createClient({ projectId: store.projectId, databaseId: store.databaseId, timeoutMs: 10_000 }));
  try {
    let latest: Checkpoint | undefined;
    let checked = false;
    if (publicKeyPath !== undefined) {
      const pem = readFileSync(publicKeyPath, 'utf8');
      latest = await firestoreCheckpointStore({ db, publicKeyPem: async () => pem }).latest!();
      checked = true;
    } else {
      const snap = await db.collection(CHECKPOINT_COLLECTION).orderBy('treeSize', 'desc').limit(1).get();
      const c = snap.docs[0] ? asCheckpoint(snap.docs[0].data()) : undefined;
      latest = typeof c === 'object' ? c : undefined;
    }
    const failures = await db.collection(FAILURE_COLLECTION).orderBy('at', 'desc').limit(1).get();
    const f = failures.docs[0]?.data() as { code?: unknown; message?: unknown; at?: unknown } | undefined;
    const lastFailure = f ? { code: String(f.code), message: String(f.message), at: String(f.at) } : null;
    const failing = lastFailure !== null && (latest === undefined || Date.parse(lastFailure.at) >= Date.parse(latest.time));
    const behind = await unsignedTooLong(db, latest?.treeSize ?? 0, now);
    const ok = !failing && behind === null && latest !== undefined;
    const where = `Firestore database ${store.databaseId} in project ${store.projectId}`;
    if (json) return { ok, text: JSON.stringify({ ok, store: where, signatureChecked: checked, latest: latest ?? null, behind, lastFailure, failing }, null, 2) };
    const age = latest ? Math.round((now.getTime() - Date.parse(latest.time)) / 1000) : undefined;
    const lines = [
      `journal        ${where}, collection ${CHECKPOINT_COLLECTION}`,
      `latest         ${latest ? `${latest.treeSize} leaves, root ${latest.rootHash}, signed ${latest.time} (${age} s ago)${latest.keyId ? ` by ${latest.keyId}` : ''}${checked ? '' : ' — signature NOT checked (pass --public-key)'}` : 'none yet'}`,
    ];
    if (behind) {
      lines.push(`BEHIND         leaf ${behind.leaf}, appended ${behind.appendedAt} (${behind.seconds} s ago, the server's clock), is in no ${checked ? 'verified ' : ''}signed checkpoint — the checkpoint function is not signing; appends carry on`);
    }
    if (lastFailure) {
      lines.push(`${failing ? 'FAILING' : 'last failure'}        [${lastFailure.code}] ${lastFailure.message} at ${lastFailure.at}${failing ? ' — appends carry on, checkpoints are delayed' : ''} (recorded in ${FAILURE_COLLECTION}, unsigned)`);
    }
    return { ok, text: lines.join('\n') };
  } finally {
    if (!options.firestore) await db.terminate();
  }
}

/**
 * `gatehouse checkpoint public-key --key kms://…`: the Cloud KMS checkpoint key's public half, read
 * with the caller's credentials (roles/cloudkms.publicKeyViewer on that key, or the terraform
 * output checkpoint_public_key, which is the same PEM).
 */
export async function kmsCheckpointPublicKeyCommand(ref: string, json: boolean, clientOptions?: Record<string, unknown>): Promise<{ text: string; ok: boolean }> {
  const { createKmsCheckpointSigner } = await import('../adapters/checkpoints/kms-signer.ts');
  const { logIdOf } = await import('../transparency/checkpoint.ts');
  if (!ref.startsWith('kms://')) return { ok: false, text: '--key must be kms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N' };
  let signer;
  try {
    signer = createKmsCheckpointSigner({ name: ref.slice('kms://'.length), clientOptions });
  } catch (e) {
    return { ok: false, text: (e as Error).message };
  }
  try {
    const pem = await signer.publicKeyPem();
    if (json) return { ok: true, text: JSON.stringify({ publicKeyPem: pem, logId: logIdOf(pem), keyId: signer.keyId, algorithm: 'ECDSA P-256 SHA-256' }, null, 2) };
    return { ok: true, text: `${pem.trimEnd()}\n# log id ${logIdOf(pem)} (ECDSA P-256, SHA-256), ${signer.keyId}` };
  } catch (e) {
    return { ok: false, text: `[public_key_missing] ${(e as Error).message}` };
  }
}
