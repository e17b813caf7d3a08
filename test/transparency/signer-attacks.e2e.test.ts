// Attacks on the checkpoint signer's own inputs, on real PostgreSQL: the checkpoint store it builds
// on (a file planted in the checkpoints folder) and the log it reads (rows written with the
// gateway's INSERT right, or rewritten by the owner past the triggers). The signer must never
// sign a history that does not extend the last checkpoint it signed itself, and a planted file
// must neither steer it nor stop it.
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { hashEvent } from '../../shared/audit/chain.ts';
import { checkpointStatusCommand, sessionCoverage } from '../../shared/cli/checkpoint.ts';
import { showSession } from '../../shared/cli/sessions.ts';
import { CHECKPOINT_FORMAT, signCheckpoint, signedBytes, type Checkpoint } from '../../shared/transparency/checkpoint.ts';
import { checkpointName } from '../../shared/transparency/checkpoint-store.ts';
import { CheckpointFailure, checkpointOnce, readLeafHashes } from '../../shared/transparency/checkpointer.ts';
import { consistencyProof, treeHash } from '../../shared/transparency/merkle-tree.ts';
import { startCheckpointRunner } from '../../shared/transparency/runner.ts';
import { readStatus, writeStatus, type CheckpointStatus } from '../../shared/transparency/status.ts';
import { verifyCheckpointChain } from '../../shared/transparency/verify-checkpoints.ts';
import { pgSignedLog } from './pg-signed-log.ts';

async function setup(t: ExecutionContext) {
  const { db, log, stateDir, admin, local, asOwner } = await pgSignedLog(t, 'gatehouse-signer-attack-');
  const attempt = async (at: Date): Promise<string> => {
    try {
      return (await checkpointOnce({ log, signer: local.signer, store: local.store, clock: () => at })).kind;
    } catch (e) {
      if (e instanceof CheckpointFailure) return e.code;
      throw e;
    }
  };
  return { log, local, stateDir, admin, attempt, asOwner, dbUrl: db.url };
}

/** A checkpoint file anyone can write: the right shape, a signature by some other key. */
function planted(logId: string, treeSize: number, rootHash: string, time: Date): Checkpoint {
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const body = { format: CHECKPOINT_FORMAT, logId, treeSize, rootHash, time: time.toISOString() } as const;
  return { ...body, signature: sign('sha256', signedBytes(body), other.privateKey).toString('base64'), consistency: null };
}

test('a planted checkpoint carrying the root of a rewritten log does not let the signer sign the rewrite', async (t) => {
  const { log, local, stateDir, attempt, asOwner } = await setup(t);
  const sid = randomUUID();
  const events = await log.append(sid, [
    { type: 'request', data: { sql: 'DROP TABLE customers' } },
    { type: 'decision', data: { action: 'deny' } },
  ]);
  await log.append(randomUUID(), [{ type: 'request', data: { sql: 'SELECT 1' } }]);
  const T = Date.now();
  t.is(await attempt(new Date(T)), 'signed');
  const genuine = (await local.store.list()).checkpoints.at(-1)!;

  // The owner rewrites the DROP into a SELECT and re-hashes the session's chain.
  const first = events[0]!;
  const data = { sql: 'SELECT 1 /* harmless */' };
  const h0 = hashEvent({ sessionId: sid, seq: 0, type: first.type, at: first.at, data, prevHash: null });
  const h1 = hashEvent({ sessionId: sid, seq: 1, type: events[1]!.type, at: events[1]!.at, data: events[1]!.data, prevHash: h0 });
  await asOwner('UPDATE gatehouse_session_events SET data = $3, hash = $4 WHERE session_id = $1 AND seq = $2', [sid, 0, JSON.stringify(data), h0]);
  await asOwner('UPDATE gatehouse_session_events SET prev_hash = $3, hash = $4 WHERE session_id = $1 AND seq = $2', [sid, 1, h0, h1]);
  await log.append(randomUUID(), [{ type: 'request', data: { sql: 'SELECT 2' } }]);
  // A run that reads the whole log (at least hourly; incremental runs in between only read new leaves).
  t.is(await attempt(new Date(T + 61 * 60_000)), 'log_inconsistent', 'without help the signer refuses the rewrite');

  // Then plants a "checkpoint" of a bigger tree with the rewritten log's root: anyone can compute it.
  const leaves = await readLeafHashes(log);
  const fakeRoot = treeHash(leaves).toString('hex');
  const fake = planted(genuine.logId, leaves.length, fakeRoot, new Date(T + 62 * 60_000));
  writeFileSync(join(stateDir, 'checkpoints', checkpointName(fake)), JSON.stringify(fake));
  await log.append(randomUUID(), [{ type: 'request', data: { sql: 'SELECT 3' } }]);

  t.is(await attempt(new Date(T + 63 * 60_000)), 'log_inconsistent', 'the signer still holds the log to the last checkpoint it signed itself');
  const signed = (await local.store.list()).checkpoints.filter((c) => c.signature !== fake.signature);
  t.deepEqual(signed.map((c) => c.rootHash), [genuine.rootHash], 'nothing new was signed');
});

test('planted checkpoints (a huge tree, junk) neither stop the signer nor become its base; status shows only verified checkpoints', async (t) => {
  const { log, local, stateDir, attempt } = await setup(t);
  await log.append(randomUUID(), [{ type: 'request', data: { n: 1 } }]);
  const T = Date.now();
  t.is(await attempt(new Date(T)), 'signed');
  const genuine = (await local.store.list()).checkpoints.at(-1)!;
  const folder = join(stateDir, 'checkpoints');
  const huge = planted(genuine.logId, 1e12, createHash('sha256').update('x').digest('hex'), new Date(T + 60_000));
  writeFileSync(join(folder, checkpointName(huge)), JSON.stringify(huge));
  writeFileSync(join(folder, '999999999999999-000000000000000.json'), '{"format":"gatehouse-checkpoint/1"');

  // The status must not present the planted tree as the latest signed checkpoint.
  const status = JSON.parse((await checkpointStatusCommand(stateDir, true)).text);
  t.is(status.latest?.treeSize, 1, 'the latest verified checkpoint, not the planted one');

  await log.append(randomUUID(), [{ type: 'request', data: { n: 2 } }]);
  t.is(await attempt(new Date(T + 2 * 60_000)), 'signed', 'the planted files are not the last checkpoint');
  const { checkpoints } = await local.store.list();
  const ours = checkpoints.filter((c) => c.signature !== huge.signature);
  t.deepEqual(ours.map((c) => c.treeSize), [1, 2]);
  t.is(ours[1]!.consistency?.fromSize, 1, 'proved from the genuine checkpoint');
  t.deepEqual(verifyCheckpointChain(ours, await local.signer.publicKeyPem()).problems, []);
});

test('a signer clock that went back refuses to sign (clock_skew), appends carry on, and it signs again once the clock has caught up', async (t) => {
  const { log, local, attempt } = await setup(t);
  await log.append(randomUUID(), [{ type: 'request', data: { n: 1 } }]);
  const T = Date.now();
  t.is(await attempt(new Date(T)), 'signed');
  await log.append(randomUUID(), [{ type: 'request', data: { n: 2 } }]);
  t.is(await attempt(new Date(T - 60 * 60_000)), 'clock_skew', 'an hour behind the last checkpoint');
  t.is(await attempt(new Date(Number.NaN)), 'clock_skew', 'no valid time at all');
  await log.append(randomUUID(), [{ type: 'request', data: { n: 3 } }]);
  t.is(await log.treeSize(), 3, 'appends never wait for the signer');
  t.deepEqual((await local.store.list()).checkpoints.map((c) => c.treeSize), [1]);
  t.is(await attempt(new Date(T + 60_000)), 'signed');
  const { checkpoints } = await local.store.list();
  t.deepEqual(checkpoints.map((c) => c.treeSize), [1, 3]);
  t.deepEqual(verifyCheckpointChain(checkpoints, await local.signer.publicKeyPem()).problems, []);
});

test('verify: a bigger tree signed well before a smaller one (a signer whose clock went back) is checkpoint_inconsistent', async (t) => {
  const { log, local } = await setup(t);
  await log.append(randomUUID(), [{ type: 'request', data: { n: 1 } }]);
  const T = Date.now();
  const leaves1 = await readLeafHashes(log);
  const first = await signCheckpoint(local.signer, { treeSize: 1, rootHash: treeHash(leaves1).toString('hex'), time: new Date(T) }, null);
  await log.append(randomUUID(), [{ type: 'request', data: { n: 2 } }]);
  const leaves2 = await readLeafHashes(log);
  const proof = consistencyProof(leaves2, 1, 2).map((h) => h.toString('hex'));
  const pem = await local.signer.publicKeyPem();
  // Within the clock margin (two runs a few seconds apart): consistent.
  const close = await signCheckpoint(local.signer, { treeSize: 2, rootHash: treeHash(leaves2).toString('hex'), time: new Date(T - 30_000) }, { fromSize: 1, fromRoot: first.rootHash, proof });
  t.deepEqual(verifyCheckpointChain([first, close], pem).problems, []);
  // An hour before: the two signed statements cannot both be true.
  const back = await signCheckpoint(local.signer, { treeSize: 2, rootHash: treeHash(leaves2).toString('hex'), time: new Date(T - 60 * 60_000) }, { fromSize: 1, fromRoot: first.rootHash, proof });
  const checked = verifyCheckpointChain([first, back], pem);
  t.deepEqual(checked.problems.map((p) => p.kind), ['checkpoint_inconsistent']);
  t.regex(checked.problems[0]!.message, /clock went back/);
});

test('sessions show: an event whose content was edited under its signed hash is not "covered by a signed checkpoint"', async (t) => {
  const { log, local, stateDir, attempt, asOwner } = await setup(t);
  const sid = randomUUID();
  await log.append(sid, [
    { type: 'request', data: { sql: 'DROP TABLE customers' } },
    { type: 'decision', data: { action: 'deny' } },
  ]);
  t.is(await attempt(new Date()), 'signed');
  t.true((await sessionCoverage(log, await log.read(sid), stateDir)).covered, 'the genuine session is covered');
  // The owner edits the request's SQL and keeps its hash: the leaf, and so the signed root, still hold.
  await asOwner('UPDATE gatehouse_session_events SET data = $3 WHERE session_id = $1 AND seq = $2', [sid, 0, JSON.stringify({ sql: 'SELECT 1' })]);
  const shown = JSON.parse((await showSession(log, sid, true, (events) => sessionCoverage(log, events, stateDir))).text);
  t.false(shown.verified, 'the chain says it is broken');
  t.false(shown.checkpoint.covered, 'and the signed log must not vouch for what is shown');
  t.regex(shown.checkpoint.reason, /event 0/);
  t.truthy(local);
});

test('checkpoints removed from the folder (a rollback) stop the signer (checkpoints_missing) instead of letting it build on an older one — also after a restart', async (t) => {
  const { log, local, stateDir } = await setup(t);
  const statusPath = join(stateDir, 'checkpoint-status.json');
  let now = Date.now();
  const runnerOptions = { log, signer: local.signer, store: local.store, intervalMs: 3_600_000, clock: () => new Date(now), saveStatus: (s: CheckpointStatus) => writeStatus(statusPath, s) };
  const runner = startCheckpointRunner(runnerOptions);
  t.teardown(() => runner.stop());
  await log.append(randomUUID(), [{ type: 'request', data: { n: 1 } }]);
  t.false((await runner.runOnce()) instanceof CheckpointFailure);
  await log.append(randomUUID(), [{ type: 'request', data: { n: 2 } }]);
  now += 60_000;
  t.false((await runner.runOnce()) instanceof CheckpointFailure);
  const [older, newest] = (await local.store.list()).checkpoints;
  t.is(newest!.treeSize, 2);
  // Someone removes the newest checkpoint: the signer would otherwise hold the log to the older one only.
  rmSync(join(stateDir, 'checkpoints', checkpointName(newest!)));
  await log.append(randomUUID(), [{ type: 'request', data: { n: 3 } }]);
  now += 60_000;
  const r = await runner.runOnce();
  t.true(r instanceof CheckpointFailure && r.code === 'checkpoints_missing', String(r));
  t.deepEqual((await local.store.list()).checkpoints.map((c) => c.treeSize), [older!.treeSize], 'nothing signed on the older base');
  t.regex((await checkpointStatusCommand(stateDir, false)).text, /\[checkpoints_missing\]/);
  // A restarted signer remembers its last checkpoint from its status.
  const restarted = startCheckpointRunner({ ...runnerOptions, initialStatus: readStatus(statusPath) });
  t.teardown(() => restarted.stop());
  const again = await restarted.runOnce();
  t.true(again instanceof CheckpointFailure && again.code === 'checkpoints_missing', String(again));
  // Restored, it signs again, proved from the restored checkpoint.
  writeFileSync(join(stateDir, 'checkpoints', checkpointName(newest!)), JSON.stringify(newest));
  now += 60_000;
  const ok = await restarted.runOnce();
  t.false(ok instanceof CheckpointFailure, String(ok));
  t.is((await local.store.list()).checkpoints.at(-1)!.consistency?.fromSize, 2);
});

test('a FIFO or junk in place of checkpoint-status.json: status says so (never hangs), the signer still starts and signs', async (t) => {
  const { log, local, stateDir, dbUrl } = await setup(t);
  const statusPath = join(stateDir, 'checkpoint-status.json');
  await log.append(randomUUID(), [{ type: 'request', data: { n: 1 } }]);
  for (const plant of ['fifo', 'junk'] as const) {
    rmSync(statusPath, { force: true });
    if (plant === 'fifo') execFileSync('mkfifo', [statusPath]);
    else writeFileSync(statusPath, '{"lastCheckpoint": ');
    const shown = await Promise.race([checkpointStatusCommand(stateDir, true), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000).unref())]);
    t.not(shown, 'hung', plant);
    if (shown === 'hung') return;
    t.false(shown.ok, plant);
    t.truthy(JSON.parse(shown.text).statusUnreadable, plant);
  }
  const { startLocalCheckpointSigner } = await import('../../infra/checkpoint-signer.ts');
  rmSync(statusPath, { force: true });
  execFileSync('mkfifo', [statusPath]);
  const started = await Promise.race([
    startLocalCheckpointSigner({ stateDir, sessionStoreUrl: dbUrl, intervalMs: 3_600_000 }).catch((e: unknown) => e),
    new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000).unref()),
  ]);
  t.not(started, 'hung', 'the signer does not hang on its status file at start');
  t.false(started instanceof Error, String(started));
  if (started && typeof started === 'object' && 'close' in started) {
    const s = started as { runner: { runOnce(): Promise<unknown> }; close(): Promise<void> };
    const r = await s.runner.runOnce();
    t.false(r instanceof CheckpointFailure, String(r));
    await s.close();
  }
  t.truthy(local);
});
