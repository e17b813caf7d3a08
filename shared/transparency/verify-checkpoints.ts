// Checks a run of checkpoints as a verifier holding only them and the public key can: every
// signature, every log id, and that each one extends the one before (RFC 6962 consistency). Two
// checkpoints that cannot both be true — same size and different roots, or a proof that fails —
// are a forked log: someone showed different histories to different readers.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { checkSignature, logIdOf, SIGNER_CLOCK_MARGIN_MS, type Checkpoint } from './checkpoint.ts';
import { verifyConsistency } from './merkle-tree.ts';

export interface CheckpointProblem {
  readonly kind: 'checkpoint_signature_invalid' | 'checkpoint_inconsistent' | 'checkpoint_unreadable' | 'public_key_missing';
  readonly message: string;
  readonly treeSize?: number;
}

export interface CheckedCheckpoints {
  /** Checkpoints whose signature holds, oldest first. */
  readonly valid: readonly Checkpoint[];
  readonly problems: readonly CheckpointProblem[];
  readonly logId?: string;
}

export function parsePublicKey(pem: string): { key: KeyObject; logId: string } | undefined {
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') return undefined;
    return { key, logId: logIdOf(pem) };
  } catch {
    return undefined;
  }
}

export function verifyCheckpointChain(checkpoints: readonly Checkpoint[], publicKeyPem: string): CheckedCheckpoints {
  const problems: CheckpointProblem[] = [];
  const pk = parsePublicKey(publicKeyPem);
  if (!pk) return { valid: [], problems: [{ kind: 'public_key_missing', message: 'the public key is not an EC P-256 public key in PEM' }] };
  const valid: Checkpoint[] = [];
  for (const c of checkpoints) {
    if (c.logId !== pk.logId) {
      problems.push({ kind: 'checkpoint_signature_invalid', treeSize: c.treeSize, message: `the checkpoint of ${c.treeSize} leaves names log ${c.logId.slice(0, 16)}…, the public key is log ${pk.logId.slice(0, 16)}…: signed with another key` });
      continue;
    }
    if (!checkSignature(c, c.signature, pk.key)) {
      problems.push({ kind: 'checkpoint_signature_invalid', treeSize: c.treeSize, message: `the signature of the checkpoint of ${c.treeSize} leaves (${c.time}) does not verify with the public key` });
      continue;
    }
    valid.push(c);
  }
  // Each valid checkpoint must extend the previous valid one.
  let latestMs = valid.length ? Date.parse(valid[0]!.time) : Number.NaN;
  let latestOf = valid[0];
  for (let i = 1; i < valid.length; i++) {
    const prev = valid[i - 1]!;
    const cur = valid[i]!;
    // A bigger tree signed (more than the clock margin) before a smaller one: both cannot be true —
    // the log only grows. Verify dates leaves by checkpoints (leaf_backdated, coverage), so a signer
    // whose clock went back must not go unnoticed.
    const curMs = Date.parse(cur.time);
    if (cur.treeSize > latestOf!.treeSize && curMs < latestMs - SIGNER_CLOCK_MARGIN_MS) {
      problems.push({ kind: 'checkpoint_inconsistent', treeSize: cur.treeSize, message: `the checkpoint of ${cur.treeSize} leaves is signed ${cur.time}, before the one of ${latestOf!.treeSize} leaves (${latestOf!.time}): the log cannot have shrunk, so the signer's clock went back` });
    }
    if (curMs > latestMs) {
      latestMs = curMs;
      latestOf = cur;
    }
    if (cur.treeSize === prev.treeSize) {
      if (cur.rootHash !== prev.rootHash) {
        problems.push({ kind: 'checkpoint_inconsistent', treeSize: cur.treeSize, message: `two signed checkpoints of ${cur.treeSize} leaves have different roots (${prev.rootHash.slice(0, 16)}…, ${cur.rootHash.slice(0, 16)}…): the log forked` });
      }
      continue;
    }
    const k = cur.consistency;
    const proven =
      k !== null &&
      k.fromSize === prev.treeSize &&
      k.fromRoot === prev.rootHash &&
      verifyConsistency(prev.treeSize, cur.treeSize, k.proof.map((h) => Buffer.from(h, 'hex')), Buffer.from(prev.rootHash, 'hex'), Buffer.from(cur.rootHash, 'hex'));
    if (!proven) {
      problems.push({ kind: 'checkpoint_inconsistent', treeSize: cur.treeSize, message: `the checkpoint of ${cur.treeSize} leaves (${cur.time}) is not proven to extend the one of ${prev.treeSize} leaves (${prev.time}): the log was rewritten or forked between them` });
    }
  }
  return { valid, problems, logId: pk.logId };
}
