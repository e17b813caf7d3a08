// `gatehouse checkpoint public-key|status|sign`, and the "covered by a signed checkpoint" line of
// `sessions show`.
import { existsSync, readFileSync } from 'node:fs';
import { hashEvent } from '../audit/chain.ts';
import type { SessionEvent } from '../audit/events.ts';
import type { LogLeafReader } from '../ports.ts';
import { checkSignature, logIdOf, type Checkpoint } from '../transparency/checkpoint.ts';
import { loadCheckpointSource, SourceFailure } from '../transparency/checkpoint-source.ts';
import { cloudStorageReader } from './gcs-reader.ts';
import { CheckpointFailure, checkpointOnce, readLeafHashes } from '../transparency/checkpointer.ts';
import { localCheckpointing } from '../transparency/local.ts';
import { treeHash } from '../transparency/merkle-tree.ts';
import { leafNotShown, type SessionReader } from '../transparency/session-leaves.ts';
import { readStatus, writeStatus } from '../transparency/status.ts';
import { parsePublicKey, verifyCheckpointChain } from '../transparency/verify-checkpoints.ts';

export async function checkpointPublicKeyCommand(stateDir: string, json: boolean): Promise<{ text: string; ok: boolean }> {
  const local = localCheckpointing(stateDir, { createKey: false });
  if (!existsSync(local.publicKeyPath)) {
    return { ok: false, text: `no checkpoint key in ${stateDir} yet (\`gatehouse start\` creates it); on GCP: terraform output -raw checkpoint_public_key` };
  }
  const pem = await local.signer.publicKeyPem();
  if (json) return { ok: true, text: JSON.stringify({ publicKeyPem: pem, logId: logIdOf(pem), algorithm: 'ECDSA P-256 SHA-256' }, null, 2) };
  return { ok: true, text: `${pem.trimEnd()}\n# log id ${logIdOf(pem)} (ECDSA P-256, SHA-256); publish this key apart from the state dir` };
}

export async function checkpointStatusCommand(stateDir: string, json: boolean, now = new Date()): Promise<{ text: string; ok: boolean }> {
  const local = localCheckpointing(stateDir, { createKey: false });
  let status: ReturnType<typeof readStatus>;
  let statusUnreadable: string | undefined;
  try {
    status = readStatus(local.statusPath);
  } catch (e) {
    statusUnreadable = e instanceof Error ? e.message : String(e);
  }
  let latest: Checkpoint | undefined;
  let count = 0;
  let unverified = 0;
  try {
    const listing = await local.store.list();
    // Only checkpoints whose signature holds with the state dir's own key are counted or shown as
    // the latest: a file planted in the folder is not a checkpoint of this log.
    const pk = existsSync(local.publicKeyPath) ? parsePublicKey(readFileSync(local.publicKeyPath, 'utf8')) : undefined;
    const verified = pk ? listing.checkpoints.filter((c) => c.logId === pk.logId && checkSignature(c, c.signature, pk.key)) : [];
    latest = verified.at(-1);
    count = verified.length;
    unverified = listing.checkpoints.length - verified.length + listing.unreadable.length;
  } catch {
    // No checkpoints folder yet: said below.
  }
  const failing = (status?.consecutiveFailures ?? 0) > 0;
  const ok = !failing && latest !== undefined && statusUnreadable === undefined;
  if (json) return { ok, text: JSON.stringify({ ok, checkpoints: count, unverified, latest: latest ?? null, status: status ?? null, ...(statusUnreadable ? { statusUnreadable } : {}) }, null, 2) };
  const age = latest ? Math.round((now.getTime() - Date.parse(latest.time)) / 1000) : undefined;
  const lines = [
    `checkpoints    ${count} in ${local.store.describe}${unverified ? ` (and ${unverified} file${unverified === 1 ? '' : 's'} there that are not checkpoints signed with this key: ignored)` : ''}`,
    `latest         ${latest ? `${latest.treeSize} leaves, root ${latest.rootHash}, signed ${latest.time} (${age} s ago)` : 'none yet'}`,
    `signer         ${status?.signer ?? local.signer.describe}`,
    `last attempt   ${status?.lastAttemptAt ?? 'never (is `gatehouse start` running?)'}`,
    ...(statusUnreadable ? [`status         UNREADABLE: ${statusUnreadable}`] : []),
  ];
  if (status?.lastError) {
    lines.push(`${failing ? 'FAILING' : 'last failure'}        [${status.lastError.code}] ${status.lastError.message} at ${status.lastError.at}${failing ? ` — ${status.consecutiveFailures} attempts in a row; appends carry on, checkpoints are delayed` : ''}`);
  }
  return { ok, text: lines.join('\n') };
}

/** One checkpoint now (what the timer in `gatehouse start` and the GCP scheduler do). */
export async function checkpointSignCommand(log: LogLeafReader, stateDir: string, json: boolean): Promise<{ text: string; ok: boolean }> {
  const local = localCheckpointing(stateDir, { createKey: true });
  let prior: NonNullable<ReturnType<typeof readStatus>>;
  try {
    prior = readStatus(local.statusPath) ?? { consecutiveFailures: 0 };
  } catch {
    prior = { consecutiveFailures: 0 }; // replaced by this attempt's status
  }
  const at = new Date().toISOString();
  try {
    const r = await checkpointOnce({ log, signer: local.signer, store: local.store, lastSigned: prior.lastCheckpoint });
    const c = r.checkpoint;
    writeStatus(local.statusPath, { ...prior, lastAttemptAt: at, lastSuccessAt: at, lastCheckpoint: { treeSize: c.treeSize, rootHash: c.rootHash, time: c.time }, consecutiveFailures: 0, signer: local.signer.describe, store: local.store.describe });
    if (json) return { ok: true, text: JSON.stringify({ outcome: r.kind, checkpoint: c }, null, 2) };
    return { ok: true, text: `${r.kind === 'signed' ? 'signed' : 'unchanged since'} checkpoint: ${c.treeSize} leaves, root ${c.rootHash}, ${c.time}` };
  } catch (e) {
    const f = e instanceof CheckpointFailure ? e : new CheckpointFailure('signing_failed', e instanceof Error ? e.message : String(e));
    writeStatus(local.statusPath, { ...prior, lastAttemptAt: at, lastError: { code: f.code, message: f.message, at }, consecutiveFailures: prior.consecutiveFailures + 1 });
    return { ok: false, text: json ? JSON.stringify({ error: { code: f.code, message: f.message } }, null, 2) : `checkpoint NOT signed [${f.code}]: ${f.message}` };
  }
}

export interface Coverage {
  readonly covered: boolean;
  readonly reason: string;
  readonly checkpoint?: { readonly treeSize: number; readonly rootHash: string; readonly time: string };
}

/**
 * Whether every event of a session is in the tree of a signed checkpoint: the events have indices
 * below its size, are the log's leaves there, the log's first treeSize leaves still give its
 * signed root, and no leaf of the tree after the session's first event is an event of the session
 * that is not shown (session-leaves.ts).
 */
export async function sessionCoverage(log: LogLeafReader & SessionReader, events: readonly SessionEvent[], checkpointSource: string, publicKey?: string): Promise<Coverage> {
  let valid: readonly Checkpoint[];
  try {
    const source = await loadCheckpointSource(checkpointSource, { publicKey, gcs: cloudStorageReader });
    const checked = verifyCheckpointChain(source.listing.checkpoints, source.publicKeyPem!);
    if (checked.problems.length) return { covered: false, reason: `the checkpoints do not verify: [${checked.problems[0]!.kind}] ${checked.problems[0]!.message}` };
    valid = checked.valid;
  } catch (e) {
    if (e instanceof SourceFailure) return { covered: false, reason: `[${e.code}] ${e.message}` };
    throw e;
  }
  const latest = valid.at(-1);
  if (!latest) return { covered: false, reason: 'no signed checkpoint yet' };
  const indices = events.map((e) => e.index);
  if (indices.some((i) => i === undefined)) return { covered: false, reason: 'some events predate the global log (no index)' };
  const top = Math.max(...(indices as number[]));
  if (top >= latest.treeSize) return { covered: false, reason: `not yet: its last event is leaf ${top}, the latest checkpoint (${latest.time}) covers ${latest.treeSize} leaves` };
  const leaves = await readLeafHashes(log, latest.treeSize);
  const root = treeHash(leaves).toString('hex');
  if (root !== latest.rootHash) return { covered: false, reason: `[root_mismatch] the log's first ${latest.treeSize} leaves no longer give the signed root: the store was rewritten` };
  // The leaf is the event's stored hash: a content edited under it would still sit in the signed
  // tree. Covered means the events shown are the ones signed, so each must hash to its leaf.
  const edited = events.find((e) => {
    try {
      return hashEvent(e) !== e.hash;
    } catch {
      return true; // not even hashable: not what was signed
    }
  });
  if (edited) return { covered: false, reason: `[event_modified] event ${edited.seq}'s content does not hash to its leaf: what is shown is not what was signed` };
  const stored = await log.leaves(Math.min(...(indices as number[])), top + 1);
  const byIndex = new Map(stored.map((l) => [l.index, l.hash]));
  if (events.some((e) => byIndex.get(e.index!) !== e.hash)) return { covered: false, reason: '[leaf_inserted] an event of this session is not the leaf at its index' };
  const notShown = await leafNotShown(log, events[0]!.sessionId, events, latest.treeSize);
  if (notShown) return { covered: false, reason: `[leaf_missing] ${notShown}` };
  return { covered: true, reason: `in the checkpoint of ${latest.treeSize} leaves signed ${latest.time}`, checkpoint: { treeSize: latest.treeSize, rootHash: latest.rootHash, time: latest.time } };
}

/**
 * The valid checkpoints an export is proved against, from `src` when it holds any; undefined when
 * there is no source (the export then proves against the log as it is).
 */
export async function exportCheckpoints(src: string | undefined, publicKey?: string): Promise<readonly Checkpoint[] | undefined> {
  if (src === undefined) return undefined;
  try {
    const source = await loadCheckpointSource(src, { publicKey, gcs: cloudStorageReader });
    return verifyCheckpointChain(source.listing.checkpoints, source.publicKeyPem!).valid;
  } catch (e) {
    if (e instanceof SourceFailure) return undefined;
    throw e;
  }
}
