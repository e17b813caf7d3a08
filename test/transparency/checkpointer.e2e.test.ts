// The checkpoint signer beside a real PostgreSQL session log: it signs what the log holds, proves
// each checkpoint extends the last, and when the signer is down (a KMS outage) it records the
// failure and the next attempt catches up — while appends carry on, never waiting for it.
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import pg from 'pg';
import { checkpointPublicKeyCommand, checkpointStatusCommand, sessionCoverage } from '../../shared/cli/checkpoint.ts';
import { showSession } from '../../shared/cli/sessions.ts';
import type { CheckpointSigner } from '../../shared/transparency/checkpoint.ts';
import { CheckpointFailure, checkpointOnce } from '../../shared/transparency/checkpointer.ts';
import { localCheckpointing } from '../../shared/transparency/local.ts';
import { startCheckpointRunner } from '../../shared/transparency/runner.ts';
import { readStatus, writeStatus } from '../../shared/transparency/status.ts';
import { verifyCheckpointChain } from '../../shared/transparency/verify-checkpoints.ts';
import { createTestDatabase } from '../helpers/pg.ts';

test('a signer outage delays checkpoints, is recorded, never blocks appends; recovery catches up with a consistency proof', async (t) => {
  const db = await createTestDatabase();
  const log = await createPostgresSessionLog({ connectionString: db.url, poolSize: 3 });
  const stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-cp-'));
  t.teardown(async () => {
    await log.close();
    await db.drop();
    rmSync(stateDir, { recursive: true, force: true });
  });
  const local = localCheckpointing(stateDir, { createKey: true });
  let kmsDown = false;
  const signer: CheckpointSigner = {
    describe: 'projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1 (test)',
    publicKeyPem: () => local.signer.publicKeyPem(),
    sign: (m) => (kmsDown ? Promise.reject(new Error('14 UNAVAILABLE: KMS unreachable')) : local.signer.sign(m)),
  };
  const lines: string[] = [];
  const runner = startCheckpointRunner({ log, signer, store: local.store, intervalMs: 3_600_000, saveStatus: (s) => writeStatus(local.statusPath, s), report: (l) => lines.push(l) });
  t.teardown(() => runner.stop());

  await log.append(randomUUID(), [{ type: 'request', data: { n: 1 } }]);
  const first = await runner.runOnce();
  t.false(first instanceof CheckpointFailure);

  kmsDown = true;
  // Appends while the signer is down: they land, and the failed attempts do not hold them up.
  const during = await Promise.all([runner.runOnce(), ...Array.from({ length: 5 }, (_, i) => log.append(randomUUID(), [{ type: 'request', data: { i } }]))]);
  t.true(during[0] instanceof CheckpointFailure && during[0].code === 'signing_failed');
  t.is(await log.treeSize(), 6);
  const down = readStatus(local.statusPath)!;
  t.is(down.consecutiveFailures, 1);
  t.is(down.lastError?.code, 'signing_failed');
  t.is(down.lastCheckpoint?.treeSize, 1, 'the last good checkpoint is still shown');
  const shown = await checkpointStatusCommand(stateDir, false);
  t.false(shown.ok);
  t.regex(shown.text, /FAILING.*\[signing_failed\].*appends carry on/s);
  t.true(lines.some((l) => l.includes('NOT signed [signing_failed]')), 'logged');

  kmsDown = false;
  const after = await runner.runOnce();
  t.false(after instanceof CheckpointFailure);
  t.is(readStatus(local.statusPath)!.consecutiveFailures, 0);
  t.true((await checkpointStatusCommand(stateDir, false)).ok);
  const { checkpoints } = await local.store.list();
  t.deepEqual(checkpoints.map((c) => c.treeSize), [1, 6]);
  t.deepEqual(checkpoints[1]!.consistency?.fromSize, 1);
  const checked = verifyCheckpointChain(checkpoints, await local.signer.publicKeyPem());
  t.deepEqual(checked.problems, []);
});

test('a signer that answers with another key\'s signature produces no checkpoint', async (t) => {
  const db = await createTestDatabase();
  const log = await createPostgresSessionLog({ connectionString: db.url, poolSize: 2 });
  const stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-cp-'));
  t.teardown(async () => {
    await log.close();
    await db.drop();
    rmSync(stateDir, { recursive: true, force: true });
  });
  const local = localCheckpointing(stateDir, { createKey: true });
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const runner = startCheckpointRunner({
    log,
    signer: { describe: 'misconfigured', publicKeyPem: () => local.signer.publicKeyPem(), sign: async (m) => sign('sha256', m, other.privateKey) },
    store: local.store,
    intervalMs: 3_600_000,
    saveStatus: () => {},
  });
  t.teardown(() => runner.stop());
  await log.append(randomUUID(), [{ type: 'request', data: {} }]);
  const r = await runner.runOnce();
  t.true(r instanceof CheckpointFailure && r.code === 'signing_failed');
  t.deepEqual((await local.store.list()).checkpoints, []);
});

test('the local key is a file of its own, 0600; public-key prints it with the log id', async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-cp-'));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  const none = await checkpointPublicKeyCommand(stateDir, false);
  t.false(none.ok, 'no key yet: said, not invented');
  const local = localCheckpointing(stateDir, { createKey: true });
  await local.signer.publicKeyPem();
  t.is(statSync(join(stateDir, 'checkpoint-signing-key.pem')).mode & 0o777, 0o600);
  const shown = await checkpointPublicKeyCommand(stateDir, true);
  t.true(shown.ok);
  const j = JSON.parse(shown.text);
  t.regex(j.publicKeyPem, /BEGIN PUBLIC KEY/);
  t.regex(j.logId, /^[0-9a-f]{64}$/);
  t.notRegex(shown.text, /PRIVATE/);
});

test('sessions show: a session is covered only once a signed checkpoint holds all of it, and not after a rewrite', async (t) => {
  const db = await createTestDatabase();
  const log = await createPostgresSessionLog({ connectionString: db.url, poolSize: 2 });
  const stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-cp-'));
  t.teardown(async () => {
    await log.close();
    await db.drop();
    rmSync(stateDir, { recursive: true, force: true });
  });
  const local = localCheckpointing(stateDir, { createKey: true });
  const sid = randomUUID();
  await log.append(sid, [{ type: 'request', data: { sql: 'SELECT 1' } }]);
  const sign = () => checkpointOnce({ log, signer: local.signer, store: local.store });
  await sign();
  await log.append(sid, [{ type: 'decision', data: { action: 'allow' } }]);
  const shown = await showSession(log, sid, true, (events) => sessionCoverage(log, events, stateDir));
  t.false(JSON.parse(shown.text).checkpoint.covered, 'its last event came after the checkpoint');
  t.regex(JSON.parse(shown.text).checkpoint.reason, /not yet/);
  await sign();
  const covered = await showSession(log, sid, false, (events) => sessionCoverage(log, events, stateDir));
  t.regex(covered.text, /signed {3}covered by a signed checkpoint: in the checkpoint of 2 leaves/);
  // The owner rewrites the decision past the triggers: the stored log no longer gives the signed root.
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  t.teardown(() => admin.end());
  await admin.query('BEGIN');
  await admin.query('SET LOCAL session_replication_role = replica');
  await admin.query("UPDATE gatehouse_session_events SET hash = $2 WHERE session_id = $1 AND seq = 1", [sid, 'ab'.repeat(32)]);
  await admin.query('COMMIT');
  const after = await sessionCoverage(log, await log.read(sid), stateDir);
  t.false(after.covered);
  t.regex(after.reason, /root_mismatch/);
});
