// A checkpoint: the signed statement "the log `logId` had `treeSize` leaves with root `rootHash` at
// `time`". Signed with a key the query path cannot use (a Cloud KMS key only the checkpoint
// function may sign with; locally a key file of its own), so whoever holds the writer's
// credentials can append to the log but cannot make a signed root for a history they rewrote.
//
//   signed bytes  RFC 8785 canonical JSON of {format, logId, treeSize, rootHash, time}, UTF-8
//   signature     ECDSA P-256 over SHA-256 of those bytes, DER, base64 (what KMS
//                 asymmetricSign returns for EC_SIGN_P256_SHA256)
//   logId         SHA-256 of the public key's DER SubjectPublicKeyInfo, hex (as in RFC 6962 §3.2)
// The consistency proof from the previous checkpoint travels with it, unsigned: it proves
// itself against the two signed roots.
import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';

export const CHECKPOINT_FORMAT = 'gatehouse-checkpoint/1';

/** How far clocks may disagree (the evidence code's CLOCK_MARGIN_MS is the same 5 minutes). */
export const SIGNER_CLOCK_MARGIN_MS = 5 * 60_000;

export interface CheckpointBody {
  readonly format: typeof CHECKPOINT_FORMAT;
  readonly logId: string;
  readonly treeSize: number;
  /** Lowercase hex of the RFC 6962 root. */
  readonly rootHash: string;
  /** ISO-8601 UTC: when the signer read the log. */
  readonly time: string;
}

export interface Checkpoint extends CheckpointBody {
  /** base64 DER ECDSA signature over signedBytes(body). */
  readonly signature: string;
  /** The previous checkpoint this one extends, and the RFC 6962 proof that it does. */
  readonly consistency: { readonly fromSize: number; readonly fromRoot: string; readonly proof: readonly string[] } | null;
  // Unsigned extras, never believed by a verifier (the logId, which is signed, names the key):
  /** The key that signed: a Cloud KMS key version (`kms:projects/…/cryptoKeyVersions/N`), for people. */
  readonly keyId?: string;
  /** The signer's own state (frontier.ts), believed only when it folds back to rootHash. */
  readonly frontier?: readonly string[];
  /** When a run last read every leaf and found the signed history intact (checkpointer.ts). */
  readonly fullReadAt?: string;
}

/** What signs checkpoints: a local key file or Cloud KMS. */
export interface CheckpointSigner {
  /** Where the key lives, for status output (a path or a KMS key version name; never key material). */
  readonly describe: string;
  /** Names the key in each checkpoint it signs (a KMS key version); absent for the local key file. */
  readonly keyId?: string;
  publicKeyPem(): Promise<string>;
  /** DER ECDSA P-256 signature over SHA-256(message). */
  sign(message: Buffer): Promise<Buffer>;
}

export function signedBytes(body: CheckpointBody): Buffer {
  const { format, logId, treeSize, rootHash, time } = body;
  return Buffer.from(canonicalize({ format, logId, treeSize, rootHash, time })!, 'utf8');
}

export function logIdOf(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex');
}

export async function signCheckpoint(
  signer: CheckpointSigner,
  facts: { treeSize: number; rootHash: string; time: Date },
  consistency: Checkpoint['consistency'],
): Promise<Checkpoint> {
  const pem = await signer.publicKeyPem();
  const body: CheckpointBody = {
    format: CHECKPOINT_FORMAT,
    logId: logIdOf(pem),
    treeSize: facts.treeSize,
    rootHash: facts.rootHash,
    time: facts.time.toISOString(),
  };
  const signature = await signer.sign(signedBytes(body));
  // A signer that answers with another key's signature (a misconfigured KMS key version) must
  // not produce a checkpoint nobody can verify later.
  if (!checkSignature(body, signature.toString('base64'), createPublicKey(pem))) {
    throw new Error('the checkpoint signer returned a signature its own public key does not verify');
  }
  return { ...body, signature: signature.toString('base64'), consistency, ...(signer.keyId ? { keyId: signer.keyId } : {}) };
}

export function checkSignature(body: CheckpointBody, signatureB64: string, key: KeyObject): boolean {
  try {
    return verifySignature('sha256', signedBytes(body), key, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}

/** A parsed JSON value narrowed to a checkpoint, or why it is not one. */
export function asCheckpoint(v: unknown): Checkpoint | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const c = v as Record<string, unknown>;
  if (c.format !== CHECKPOINT_FORMAT) return `format is not ${CHECKPOINT_FORMAT}`;
  if (typeof c.logId !== 'string' || !/^[0-9a-f]{64}$/.test(c.logId)) return 'no logId';
  if (typeof c.treeSize !== 'number' || !Number.isSafeInteger(c.treeSize) || c.treeSize < 0) return 'no treeSize';
  if (typeof c.rootHash !== 'string' || !/^[0-9a-f]{64}$/.test(c.rootHash)) return 'no rootHash';
  if (typeof c.time !== 'string' || Number.isNaN(Date.parse(c.time))) return 'no time';
  if (typeof c.signature !== 'string' || c.signature === '') return 'no signature';
  const k = c.consistency;
  if (k !== null && k !== undefined) {
    if (typeof k !== 'object') return 'consistency is not an object';
    const p = k as Record<string, unknown>;
    if (typeof p.fromSize !== 'number' || typeof p.fromRoot !== 'string' || !Array.isArray(p.proof) || !p.proof.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h))) {
      return 'consistency is malformed';
    }
  }
  // The unsigned extras are kept only when well-formed: a malformed one is as if absent (the signer
  // then reads the whole log), never a reason to reject a checkpoint whose signature holds.
  const { keyId, frontier, fullReadAt, ...rest } = c;
  return {
    ...(rest as unknown as Checkpoint),
    consistency: (k ?? null) as Checkpoint['consistency'],
    ...(typeof keyId === 'string' && keyId.length <= 300 ? { keyId } : {}),
    ...(Array.isArray(frontier) && frontier.length <= 64 && frontier.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h)) ? { frontier: frontier as string[] } : {}),
    ...(typeof fullReadAt === 'string' && !Number.isNaN(Date.parse(fullReadAt)) ? { fullReadAt } : {}),
  };
}
