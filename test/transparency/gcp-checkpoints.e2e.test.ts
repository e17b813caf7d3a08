// The GCP half of issue 14 item 2, end to end with the real client libraries: the checkpoint
// function's handler over Google's Firestore emulator (the log's leaves, the checkpoint journal),
// a gRPC Cloud KMS built from @google-cloud/kms's own protos (test/helpers/kms-server.ts), and a
// server speaking Cloud Storage's JSON API to @google-cloud/storage (test/helpers/gcs-server.ts,
// there is no official emulator). Then what an auditor runs: checkpoints read back from
// gs://bucket/prefix, and an export verified against them.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { checkpointHandler } from '../../functions/checkpoint.ts';
import type { HttpRequest } from '../../functions/http.ts';
import { createGcpCheckpointing, FAILURE_COLLECTION, type GcpCheckpointing } from '../../shared/adapters/checkpoints/gcp.ts';
import { gcsCheckpointReader, gcsCheckpointStore, PUBLIC_KEY_OBJECT } from '../../shared/adapters/checkpoints/gcs-store.ts';
import { CHECKPOINT_COLLECTION } from '../../shared/adapters/checkpoints/firestore-store.ts';
import { createKmsCheckpointSigner } from '../../shared/adapters/checkpoints/kms-signer.ts';
import { createFirestoreSessionLog } from '../../shared/adapters/firestore/index.ts';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { verifyEvidence } from '../../shared/evidence/verify.ts';
import { sessionCoverage } from '../../shared/cli/checkpoint.ts';
import { gcpCheckpointStatusCommand, kmsCheckpointPublicKeyCommand } from '../../shared/cli/checkpoint-gcp.ts';
import type { TransparentSessionLog } from '../../shared/ports.ts';
import { signCheckpoint, type Checkpoint } from '../../shared/transparency/checkpoint.ts';
import { loadCheckpointSource } from '../../shared/transparency/checkpoint-source.ts';
import { cloudStorageReader } from '../../shared/cli/gcs-reader.ts';
import { localSigner } from '../../shared/transparency/local-signer.ts';
import { treeHash, leafHash } from '../../shared/transparency/merkle-tree.ts';
import { verifyCheckpointChain } from '../../shared/transparency/verify-checkpoints.ts';
import { firestoreSuite } from '../helpers/firestore-suite.ts';
import { startGcsServer, type GcsServer } from '../helpers/gcs-server.ts';
import { startKmsServer, type KmsServer } from '../helpers/kms-server.ts';

const execFileAsync = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const PROJECT = 'gatehouse-cp-test';
const KEY = `projects/${PROJECT}/locations/europe-west1/keyRings/gatehouse/cryptoKeys/gatehouse-checkpoints/cryptoKeyVersions/1`;
const BUCKET = 'acme-gatehouse-audit-exports';

// Serial: some tests take KMS or the bucket down (shared test servers), which must not hit another.
firestoreSuite('GCP checkpoints', (emulator) => {
  let kms: KmsServer;
  let gcs: GcsServer;
  test.before(async () => {
    await emulator.ready();
    [kms, gcs] = await Promise.all([startKmsServer(), startGcsServer()]);
    kms.addKey(KEY);
    // The auditor's path (the CLI's reader, shared/cli/gcs-reader.ts) finds the test server the way a
    // developer would point it at one.
    process.env.STORAGE_EMULATOR_HOST = gcs.endpoint;
  });
  test.after.always(async () => {
    await Promise.allSettled([kms?.close(), gcs?.close()]);
  });

  interface Fixture {
    readonly log: TransparentSessionLog;
    readonly cp: GcpCheckpointing;
    readonly prefix: string;
    readonly src: string;
    readonly databaseId: string;
    readonly handler: ReturnType<typeof checkpointHandler>;
    readonly lines: Record<string, unknown>[];
    append(n: number): Promise<void>;
    now: number;
  }

  async function fixture(t: ExecutionContext): Promise<Fixture> {
    const databaseId = `cp-${randomUUID().slice(0, 8)}`;
    const prefix = `checkpoints-${randomUUID().slice(0, 8)}`;
    if (!gcs.buckets.has(BUCKET)) gcs.buckets.set(BUCKET, new Map());
    const db = await emulator.client(emulator.host, { projectId: PROJECT, databaseId, timeoutMs: 10_000 });
    const log = await createFirestoreSessionLog({ projectId: PROJECT, databaseId, firestore: db });
    const lines: Record<string, unknown>[] = [];
    const f = {
      now: Date.now(),
    } as Fixture;
    const cp = await createGcpCheckpointing({
      projectId: PROJECT,
      databaseId,
      kmsKeyVersion: KEY,
      bucketUrl: `gs://${BUCKET}/${prefix}`,
      kmsClientOptions: kms.clientOptions,
      gcs: { clientOptions: gcs.clientOptions },
      firestore: db,
      clock: () => new Date((f.now += 1000)),
      log: (l) => lines.push(l),
    });
    t.teardown(async () => {
      await cp.close();
      await log.close();
    });
    return Object.assign(f, {
      log,
      cp,
      prefix,
      databaseId,
      src: `gs://${BUCKET}/${prefix}`,
      handler: checkpointHandler(cp),
      lines,
      async append(n: number) {
        for (let i = 0; i < n; i++) {
          const sid = randomUUID();
          await log.append(sid, [{ type: 'request', data: { sql: 'SELECT 1', n: i } }]);
          await log.append(sid, [{ type: 'decision', data: { action: 'allow' } }]);
        }
      },
    });
  }

  const request = (method: string, path: string): HttpRequest => ({ method, path, query: new URLSearchParams(), headers: {}, body: Buffer.alloc(0) });

  test.serial('the function signs with Cloud KMS, stores each checkpoint in the bucket and the collection, create-only; gs:// verifies', async (t) => {
    const f = await fixture(t);
    await f.append(3);
    const first = await f.handler(request('POST', '/v1/checkpoints'));
    t.is(first.status, 200, JSON.stringify(first.body));
    t.like(first.body, { outcome: 'signed', checkpoint: { treeSize: 6, keyId: `kms:${KEY}` } });
    t.true(kms.calls.some((c) => c === `AsymmetricSign ${KEY}`));
    await f.append(2);
    const exportTo = new Date(Date.now() + 1);
    // Signed more than the clock margin (5 minutes) after the range ends: only such a checkpoint covers it.
    f.now = Math.max(f.now, Date.now() + 5 * 60_000 + 1000);
    const second = await f.handler(request('POST', '/v1/checkpoints'));
    t.like(second.body, { outcome: 'signed', checkpoint: { treeSize: 10 } });

    // In the bucket under the prefix, with the public key beside them.
    const objects = [...gcs.buckets.get(BUCKET)!.keys()].filter((n) => n.startsWith(`${f.prefix}/`));
    t.is(objects.filter((n) => n.endsWith('.json')).length, 2);
    t.true(objects.includes(`${f.prefix}/${PUBLIC_KEY_OBJECT}`));
    // And in the audit database's collection.
    const db = await emulator.client(emulator.host, { projectId: PROJECT, databaseId: f.databaseId, timeoutMs: 10_000 });
    t.is((await db.collection(CHECKPOINT_COLLECTION).get()).size, 2);

    // Create-only in both places: the same checkpoint again is refused.
    const listed = (await loadCheckpointSource(f.src, { gcs: cloudStorageReader })).listing.checkpoints;
    const bucketStore = gcsCheckpointStore(f.src, { clientOptions: gcs.clientOptions });
    const again = await t.throwsAsync(bucketStore.put({ ...listed[0]!, rootHash: '0'.repeat(64) }));
    t.is((again as { code?: number }).code, 412);
    const docId = (await db.collection(CHECKPOINT_COLLECTION).get()).docs[0]!.id;
    await t.throwsAsync(db.collection(CHECKPOINT_COLLECTION).doc(docId).create({ treeSize: 1 }), { message: /ALREADY_EXISTS/ });

    // The auditor: gs:// with the published key — what `gatehouse checkpoint public-key --key
    // kms://…` prints (the terraform output checkpoint_public_key is the same PEM).
    const printed = await kmsCheckpointPublicKeyCommand(`kms://${KEY}`, true, kms.clientOptions);
    t.true(printed.ok, printed.text);
    const pem = JSON.parse(printed.text).publicKeyPem as string;
    t.is(pem, await createKmsCheckpointSigner({ name: KEY, clientOptions: kms.clientOptions }).publicKeyPem());
    t.like(JSON.parse(printed.text), { keyId: `kms:${KEY}`, logId: listed[0]!.logId });
    t.false((await kmsCheckpointPublicKeyCommand('kms://projects/p', false, kms.clientOptions)).ok);
    const absent = await kmsCheckpointPublicKeyCommand(`kms://${KEY.replace('/1', '/7')}`, false, kms.clientOptions);
    t.false(absent.ok);
    t.regex(absent.text, /public_key_missing/);
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-gcp-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'published.pem'), pem);
    const source = await loadCheckpointSource(f.src, { gcs: cloudStorageReader, publicKey: join(dir, 'published.pem') });
    const chain = verifyCheckpointChain(source.listing.checkpoints, source.publicKeyPem!);
    t.deepEqual(chain.problems, []);
    t.is(chain.valid.length, 2);
    t.deepEqual(chain.valid[1]!.consistency?.fromSize, 6);
    // The root is the log's, recomputed from every leaf.
    const leaves = (await f.log.leaves(0, 10)).map((l) => leafHash(l.hash));
    t.is(chain.valid[1]!.rootHash, treeHash(leaves).toString('hex'));

    // An export proved against them verifies; so does `sessions show`'s coverage line.
    const out = join(dir, 'export');
    await exportEvidence(f.log, { from: new Date('2000-01-01'), to: exportTo, out, source: 'firestore', checkpoints: chain.valid });
    const verified = await verifyEvidence(out, { gcs: cloudStorageReader, checkpoints: f.src, publicKey: join(dir, 'published.pem') });
    t.deepEqual(verified.problems, []);
    t.true(verified.ok);
    const one = await f.log.read((await f.log.leaves(0, 1))[0]!.sessionId);
    const coverage = await sessionCoverage(f.log, one, f.src, join(dir, 'published.pem'));
    t.true(coverage.covered, coverage.reason);
  });

  test.serial('local and KMS signatures verify the same way: one format, one verifier', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-gcp-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const kmsSigner = createKmsCheckpointSigner({ name: KEY, clientOptions: kms.clientOptions });
    const local = localSigner(dir);
    const facts = { treeSize: 1, rootHash: leafHash('ab'.repeat(32)).toString('hex'), time: new Date('2026-03-01T00:00:00Z') };
    const a = await signCheckpoint(kmsSigner, facts, null);
    const b = await signCheckpoint(local, facts, null);
    t.deepEqual(Object.keys(a).filter((k) => k !== 'keyId').sort(), Object.keys(b).sort());
    t.is(a.keyId, `kms:${KEY}`);
    t.deepEqual(verifyCheckpointChain([a], await kmsSigner.publicKeyPem()).problems, []);
    t.deepEqual(verifyCheckpointChain([b], await local.publicKeyPem()).problems, []);
    // Each with the other's key: another key.
    t.is(verifyCheckpointChain([a], await local.publicKeyPem()).problems[0]?.kind, 'checkpoint_signature_invalid');
    t.is(verifyCheckpointChain([b], await kmsSigner.publicKeyPem()).problems[0]?.kind, 'checkpoint_signature_invalid');
  });

  test.serial('a KMS answer corrupted on the way (CRC32C), another algorithm, or an unknown version: no checkpoint', async (t) => {
    const signer = createKmsCheckpointSigner({ name: KEY, clientOptions: kms.clientOptions });
    kms.corruptSignatures = true;
    try {
      await t.throwsAsync(signer.sign(Buffer.from('x')), { message: /CRC32C/ });
    } finally {
      kms.corruptSignatures = false;
    }
    const rsa = KEY.replace('gatehouse-checkpoints', 'rsa-key');
    kms.addKey(rsa, 'RSA_SIGN_PSS_2048_SHA256');
    await t.throwsAsync(createKmsCheckpointSigner({ name: rsa, clientOptions: kms.clientOptions }).publicKeyPem(), { message: /not EC_SIGN_P256_SHA256/ });
    const missing = KEY.replace('/1', '/9');
    await t.throwsAsync(createKmsCheckpointSigner({ name: missing, clientOptions: kms.clientOptions }).sign(Buffer.from('x')), { message: /did not sign.*not found/i });
    t.throws(() => createKmsCheckpointSigner({ name: 'projects/p/cryptoKeys/k' }), { message: /one crypto key version/ });
  });

  test.serial('a KMS outage: logged, recorded, visible in status, 503 to the scheduler; appends carry on; the next run catches up', async (t) => {
    const f = await fixture(t);
    await f.append(1);
    t.is((await f.handler(request('POST', '/v1/checkpoints'))).status, 200);
    kms.failWith = grpc.status.UNAVAILABLE;
    let failed;
    try {
      // Appends during the outage land (one before the run, so it has something to sign; one
      // while it fails).
      await f.append(1);
      [failed] = await Promise.all([f.handler(request('POST', '/v1/checkpoints')), f.append(2)]);
    } finally {
      kms.failWith = undefined;
    }
    t.is(failed.status, 503);
    t.like(failed.body, { error: { code: 'signing_failed' } });
    t.is(await f.log.treeSize(), 8);
    t.true(f.lines.some((l) => l.severity === 'ERROR' && String(l.message).includes('[signing_failed]')));
    const status = await f.handler(request('GET', '/v1/checkpoints/status'));
    t.like(status.body, { failing: true, lastFailure: { code: 'signing_failed' }, latest: { treeSize: 2 } });
    const db = await emulator.client(emulator.host, { projectId: PROJECT, databaseId: f.databaseId, timeoutMs: 10_000 });
    t.is((await db.collection(FAILURE_COLLECTION).get()).size, 1);
    // `gatehouse checkpoint status --store firestore://…` shows it too, and exits non-zero.
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-gcp-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'published.pem'), await f.cp.signer.publicKeyPem());
    const cli = await gcpCheckpointStatusCommand(`firestore://${PROJECT}/${f.databaseId}`, join(dir, 'published.pem'), false, { firestore: db });
    t.false(cli.ok);
    t.regex(cli.text, /latest +2 leaves.*by kms:/);
    t.regex(cli.text, /FAILING.*\[signing_failed\].*appends carry on/);
    const unchecked = await gcpCheckpointStatusCommand(`firestore://${PROJECT}/${f.databaseId}`, undefined, true, { firestore: db });
    t.like(JSON.parse(unchecked.text), { ok: false, signatureChecked: false, failing: true });
    await t.throwsAsync(gcpCheckpointStatusCommand('postgres://x@127.0.0.1/db', undefined, false, { firestore: db }), { message: /firestore:\/\/PROJECT/ });

    const after = await f.handler(request('POST', '/v1/checkpoints'));
    t.like(after.body, { outcome: 'signed', checkpoint: { treeSize: 8 } });
    t.like((await f.handler(request('GET', '/v1/checkpoints/status'))).body, { failing: false, latest: { treeSize: 8 } });
    t.true((await gcpCheckpointStatusCommand(`firestore://${PROJECT}/${f.databaseId}`, join(dir, 'published.pem'), false, { firestore: db })).ok);
    const source = await loadCheckpointSource(f.src, { gcs: cloudStorageReader });
    t.deepEqual(verifyCheckpointChain(source.listing.checkpoints, source.publicKeyPem!).problems, []);
  });

  test.serial('a KMS outage whose failure records the writer deleted (the query function may write the audit database): status says BEHIND from the leaf\'s server create time', async (t) => {
    const f = await fixture(t);
    await f.append(1);
    t.is((await f.handler(request('POST', '/v1/checkpoints'))).status, 200);
    kms.failWith = grpc.status.UNAVAILABLE;
    try {
      await f.append(1);
      t.is((await f.handler(request('POST', '/v1/checkpoints'))).status, 503);
    } finally {
      kms.failWith = undefined;
    }
    const db = await emulator.client(emulator.host, { projectId: PROJECT, databaseId: f.databaseId, timeoutMs: 10_000 });
    const failures = await db.collection(FAILURE_COLLECTION).get();
    t.is(failures.size, 1);
    await Promise.all(failures.docs.map((d) => d.ref.delete()));
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-gcp-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'published.pem'), await f.cp.signer.publicKeyPem());
    const status = (now: Date, json = false) => gcpCheckpointStatusCommand(`firestore://${PROJECT}/${f.databaseId}`, join(dir, 'published.pem'), json, { firestore: db, now });
    // Within the scheduler's few minutes, nothing can be said yet.
    t.true((await status(new Date())).ok);
    // Ten minutes on, leaf 2 (the first the checkpoint of 2 leaves does not hold) is still unsigned.
    const later = new Date(Date.now() + 10 * 60_000);
    const text = await status(later);
    t.false(text.ok);
    t.regex(text.text, /BEHIND +leaf 2, appended .* is in no verified signed checkpoint/);
    t.like(JSON.parse((await status(later, true)).text), { ok: false, failing: false, lastFailure: null, behind: { leaf: 2 } });
    f.now = later.getTime();
    t.like((await f.handler(request('GET', '/v1/checkpoints/status'))).body, { failing: false, behind: { leaf: 2 } });
    // Signed again: nothing is behind, however late it is read.
    t.like((await f.handler(request('POST', '/v1/checkpoints'))).body, { outcome: 'signed', checkpoint: { treeSize: 4 } });
    t.true((await status(later)).ok);
    t.like((await f.handler(request('GET', '/v1/checkpoints/status'))).body, { behind: null });
  });

  test.serial('gs:// problems have their codes: another key, a fork, an unreadable or missing bucket', async (t) => {
    const f = await fixture(t);
    await f.append(2);
    await f.cp.runOnce();
    await f.append(1);
    await f.cp.runOnce();
    const pem = await f.cp.signer.publicKeyPem();
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-gcp-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'published.pem'), pem);
    const published = join(dir, 'published.pem');
    const bucket = gcs.buckets.get(BUCKET)!;
    const put = (c: Checkpoint) => gcsCheckpointStore(f.src, { clientOptions: gcs.clientOptions }).put(c);

    // A checkpoint forged with another key (the attacker's own), appended to the bucket.
    const listing = (await loadCheckpointSource(f.src, { gcs: cloudStorageReader, publicKey: published })).listing.checkpoints;
    const last = listing.at(-1)!;
    const forger = localSigner(join(dir, 'attacker'));
    const forged = await signCheckpoint(forger, { treeSize: last.treeSize + 5, rootHash: 'ab'.repeat(32), time: new Date(Date.parse(last.time) + 60_000) }, { fromSize: last.treeSize, fromRoot: last.rootHash, proof: [] });
    await put(forged);
    const out = join(dir, 'empty-export');
    await exportEvidence(f.log, { from: new Date('2000-01-01'), to: new Date('2100-01-01'), out, source: 'firestore' });
    const forgedResult = await verifyEvidence(out, { gcs: cloudStorageReader, checkpoints: f.src, publicKey: published });
    t.false(forgedResult.ok);
    t.true(forgedResult.problems.some((p) => p.kind === 'checkpoint_signature_invalid'), JSON.stringify(forgedResult.problems));
    bucket.delete(`${f.prefix}/${[...bucket.keys()].find((n) => n.includes(String(forged.treeSize).padStart(15, '0')))!.split('/').pop()}`);

    // A fork: the real key signing a second, different tree of the same size (as a signer shown a
    // rewritten store would), stored beside the first.
    const fork = await signCheckpoint(f.cp.signer, { treeSize: last.treeSize, rootHash: 'cd'.repeat(32), time: new Date(Date.parse(last.time) + 1000) }, last.consistency);
    await put(fork);
    const forkResult = await verifyEvidence(out, { gcs: cloudStorageReader, checkpoints: f.src, publicKey: published });
    t.false(forkResult.ok);
    t.true(forkResult.problems.some((p) => p.kind === 'checkpoint_inconsistent'), JSON.stringify(forkResult.problems));

    // Unreadable: access denied, or no such bucket — a code and not ok, never "no checkpoints".
    gcs.deny = true;
    try {
      const denied = await verifyEvidence(out, { gcs: cloudStorageReader, checkpoints: f.src, publicKey: published });
      t.false(denied.ok);
      t.is(denied.problems[0]?.kind, 'checkpoint_source_unreadable');
      t.regex(denied.problems[0]!.message, /cannot be read/);
    } finally {
      gcs.deny = false;
    }
    const missing = await verifyEvidence(out, { gcs: cloudStorageReader, checkpoints: 'gs://no-such-bucket-here/checkpoints', publicKey: published });
    t.false(missing.ok);
    t.is(missing.problems[0]?.kind, 'checkpoint_source_unreadable');
    // The CLI, as an auditor runs it: a code named, exit 1, never "ok".
    for (const src of ['gs://no-such-bucket-here/checkpoints', f.src]) {
      gcs.deny = src === f.src;
      try {
        const r = await execFileAsync(process.execPath, [join(ROOT, 'bin/gatehouse.js'), 'evidence', 'verify', out, '--checkpoints', src, '--public-key', published, '--json'], {
          env: { ...process.env, STORAGE_EMULATOR_HOST: gcs.endpoint, METADATA_SERVER_DETECTION: 'none' },
        }).then(
          () => ({ code: 0, stdout: '', stderr: '' }),
          (e: { code: number; stdout: string; stderr: string }) => e,
        );
        t.is(r.code, 1, src);
        t.regex(r.stdout + r.stderr, /"kind": "checkpoint_source_unreadable"/, src);
        t.notRegex(r.stdout + r.stderr, /"ok": true/);
      } finally {
        gcs.deny = false;
      }
    }
    const coverage = await sessionCoverage(f.log, [], 'gs://no-such-bucket-here/x', published);
    t.false(coverage.covered);
    t.regex(coverage.reason, /checkpoint_source_unreadable/);
  });

  test.serial('a run stopped between the journal and the bucket is completed by the next one; the bucket chain stays whole', async (t) => {
    const f = await fixture(t);
    await f.append(2);
    await f.cp.runOnce();
    await f.append(2);
    // The bucket refuses (an outage) after the journal took the checkpoint.
    const bucket = gcs.buckets.get(BUCKET)!;
    const realSet = bucket.set.bind(bucket);
    bucket.set = (k, v) => {
      if (k.startsWith(`${f.prefix}/`) && k.endsWith('.json')) throw new Error('bucket down');
      return realSet(k, v);
    };
    let r;
    try {
      r = await f.cp.runOnce();
    } finally {
      bucket.set = realSet;
    }
    t.like(r, { ok: false, error: { code: 'store_failed' } });
    t.is((await loadCheckpointSource(f.src, { gcs: cloudStorageReader })).listing.checkpoints.length, 1, 'only the first reached the bucket');
    await f.append(1);
    f.now += 60 * 60_000;
    t.like(await f.cp.runOnce(), { ok: true, outcome: 'signed', checkpoint: { treeSize: 10 } });
    const source = await loadCheckpointSource(f.src, { gcs: cloudStorageReader });
    t.deepEqual(source.listing.checkpoints.map((c) => c.treeSize), [4, 8, 10]);
    t.deepEqual(verifyCheckpointChain(source.listing.checkpoints, source.publicKeyPem!).problems, []);
  });

  test.serial('a forged journal document (the query path may create documents) is skipped, never built upon', async (t) => {
    const f = await fixture(t);
    await f.append(2);
    await f.cp.runOnce();
    const db = await emulator.client(emulator.host, { projectId: PROJECT, databaseId: f.databaseId, timeoutMs: 10_000 });
    const real = (await db.collection(CHECKPOINT_COLLECTION).get()).docs[0]!.data() as Checkpoint;
    // Bigger, newer, with a copied signature; and one with a frontier of the attacker's choosing.
    const bogus = { ...real, treeSize: 1000, time: '2030-01-01T00:00:00.000Z' };
    await db.collection(CHECKPOINT_COLLECTION).doc(`${String(1000).padStart(15, '0')}-${String(Date.parse(bogus.time)).padStart(15, '0')}`).create(bogus);
    await db.collection(CHECKPOINT_COLLECTION).doc('not-its-name').create({ ...real, frontier: ['00'.repeat(32)] });
    await f.append(1);
    const r = await f.cp.runOnce();
    t.like(r, { ok: true, outcome: 'signed', checkpoint: { treeSize: 6 } });
    const source = await loadCheckpointSource(f.src, { gcs: cloudStorageReader });
    t.deepEqual(verifyCheckpointChain(source.listing.checkpoints, source.publicKeyPem!).problems, []);
    t.is(source.listing.checkpoints.at(-1)!.consistency?.fromSize, 4);
  });

  // The query path holds create on the audit database, so it can bury the journal's real newest
  // checkpoint under documents of its own. Before, 50 of them (at a tree size above the log's)
  // stopped the signer for good: "none of the newest 50 documents … is a checkpoint".
  for (const [label, flood] of [
    ['two pages of forged documents', 120],
    ['more forged documents than the journal is searched for: the bucket (which only the signer may write) answers', 1_050],
  ] as const) {
    test.serial(`a journal flooded with ${label}: checkpoints go on, built on the real last one`, async (t) => {
      const f = await fixture(t);
      await f.append(2);
      t.like(await f.cp.runOnce(), { ok: true, outcome: 'signed', checkpoint: { treeSize: 4 } });
      const db = await emulator.client(emulator.host, { projectId: PROJECT, databaseId: f.databaseId, timeoutMs: 30_000 });
      const real = (await db.collection(CHECKPOINT_COLLECTION).get()).docs[0]!.data() as Checkpoint;
      // Each stored under its own name, with a copied signature: forged, but shaped like the real ones.
      for (let from = 0; from < flood; from += 500) {
        const batch = db.batch();
        for (let i = from; i < Math.min(flood, from + 500); i++) {
          const bogus = { ...real, treeSize: i % 2 ? 1_000_000 + i : 5, time: new Date(Date.parse(real.time) + 1000 + i).toISOString() };
          batch.create(db.collection(CHECKPOINT_COLLECTION).doc(`${String(bogus.treeSize).padStart(15, '0')}-${String(Date.parse(bogus.time)).padStart(15, '0')}`), bogus);
        }
        await batch.commit();
      }
      await f.append(1);
      f.now += 60_000;
      t.like(await f.cp.runOnce(), { ok: true, outcome: 'signed', checkpoint: { treeSize: 6 } });
      const source = await loadCheckpointSource(f.src, { gcs: cloudStorageReader });
      t.deepEqual(source.listing.checkpoints.map((c) => c.treeSize), [4, 6]);
      t.deepEqual(verifyCheckpointChain(source.listing.checkpoints, source.publicKeyPem!).problems, []);
      t.is(source.listing.checkpoints.at(-1)!.consistency?.fromSize, 4);
      // And the run after that builds on the new one (the journal's newest real document, or the bucket's).
      await f.append(1);
      f.now += 60_000;
      t.like(await f.cp.runOnce(), { ok: true, outcome: 'signed', checkpoint: { treeSize: 8 } });
      const again = await loadCheckpointSource(f.src, { gcs: cloudStorageReader });
      t.is(again.listing.checkpoints.at(-1)!.consistency?.fromSize, 6);
      // Status shows the real latest one, past the flood (before, past 1,000 forged documents: none).
      t.like(await f.cp.status(), { failing: false, latest: { treeSize: 8 } });
    });
  }

  test.serial('checkpoint status past a journal flooded with more forged newest documents than it searches: the latest real checkpoint, from the bucket', async (t) => {
    const f = await fixture(t);
    await f.append(2);
    t.like(await f.cp.runOnce(), { ok: true, outcome: 'signed', checkpoint: { treeSize: 4 } });
    const db = await emulator.client(emulator.host, { projectId: PROJECT, databaseId: f.databaseId, timeoutMs: 30_000 });
    const real = (await db.collection(CHECKPOINT_COLLECTION).get()).docs[0]!.data() as Checkpoint;
    for (let from = 0; from < 1_010; from += 500) {
      const batch = db.batch();
      for (let i = from; i < Math.min(1_010, from + 500); i++) {
        const bogus = { ...real, treeSize: 1_000_000 + i, time: new Date(Date.parse(real.time) + 1000 + i).toISOString() };
        batch.create(db.collection(CHECKPOINT_COLLECTION).doc(`${String(bogus.treeSize).padStart(15, '0')}-${String(Date.parse(bogus.time)).padStart(15, '0')}`), bogus);
      }
      await batch.commit();
    }
    t.like(await f.cp.status(), { failing: false, latest: { treeSize: 4, rootHash: real.rootHash } });
  });

  test.serial('routes: only POST runs, only GET reads the status', async (t) => {
    const f = await fixture(t);
    t.is((await f.handler(request('GET', '/v1/checkpoints'))).status, 405);
    t.is((await f.handler(request('POST', '/v1/checkpoints/status'))).status, 405);
    t.is((await f.handler(request('POST', '/v1/other'))).status, 404);
  });

  test.serial('the gs:// reader reads every page and only this prefix', async (t) => {
    const f = await fixture(t);
    for (let i = 0; i < 4; i++) {
      await f.append(1);
      f.now += 11 * 60_000;
      t.like(await f.cp.runOnce(), { ok: true, outcome: 'signed' });
    }
    // Something under a longer prefix and a deeper folder: not ours.
    gcs.buckets.get(BUCKET)!.set(`${f.prefix}x/000000000000001-000000000000001.json`, { name: 'x', body: Buffer.from('{}'), generation: 1, contentType: 'application/json' });
    gcs.buckets.get(BUCKET)!.set(`${f.prefix}/deeper/000000000000001-000000000000001.json`, { name: 'y', body: Buffer.from('{}'), generation: 1, contentType: 'application/json' });
    const entries = await gcsCheckpointReader({ clientOptions: gcs.clientOptions })(BUCKET, f.prefix);
    t.is(entries.filter((e) => e.name.endsWith('.json')).length, 4);
    t.true(gcs.calls.filter((c) => c === `GET /b/${BUCKET}/o`).length >= 2, 'more than one page');
  });
});
