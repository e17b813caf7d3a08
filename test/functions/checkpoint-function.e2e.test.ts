// The checkpoint function as deployed: the Functions Framework's own CLI serving target
// `checkpoint` from functions/index.ts, configured only by the environment terraform gives it
// (GATEHOUSE_CHECKPOINT_KEY, GATEHOUSE_CHECKPOINT_BUCKET, GATEHOUSE_FIRESTORE_PROJECT,
// GATEHOUSE_AUDIT_DATABASE), over Google's Firestore emulator, the gRPC KMS test server and the
// GCS JSON API test server. What Cloud Scheduler does (POST /v1/checkpoints) signs a checkpoint of
// what the log holds; an auditor then verifies them from gs://.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import test from 'ava';
import { createFirestoreSessionLog } from '../../shared/adapters/firestore/index.ts';
import { loadCheckpointSource } from '../../shared/transparency/checkpoint-source.ts';
import { cloudStorageReader } from '../../shared/cli/gcs-reader.ts';
import { verifyCheckpointChain } from '../../shared/transparency/verify-checkpoints.ts';
import { firestoreSuite } from '../helpers/firestore-suite.ts';
import { startFunctionProcess, stopFunctionProcesses, type FunctionProcess } from '../helpers/function-process.ts';
import { startGcsServer, type GcsServer } from '../helpers/gcs-server.ts';
import { startKmsServer, type KmsServer } from '../helpers/kms-server.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const PROJECT = 'gatehouse-cpfn-test';
const KEY = `projects/${PROJECT}/locations/europe-west1/keyRings/gatehouse/cryptoKeys/gatehouse-checkpoints/cryptoKeyVersions/1`;
const BUCKET = 'acme-prod-gatehouse-audit-exports';

firestoreSuite('the checkpoint function (deployed shape)', (emulator) => {
  let kms: KmsServer;
  let gcs: GcsServer;
  let fn: FunctionProcess | undefined;
  const databaseId = `cpfn-${randomUUID().slice(0, 8)}`;

  test.before(async () => {
    await emulator.ready();
    [kms, gcs] = await Promise.all([startKmsServer(), startGcsServer()]);
    kms.addKey(KEY);
    gcs.buckets.set(BUCKET, new Map());
    process.env.STORAGE_EMULATOR_HOST = gcs.endpoint;
    fn = await startFunctionProcess({
      target: 'checkpoint',
      source: join(ROOT, 'functions/index.ts'),
      cwd: ROOT,
      nodeArgs: ['--import', 'tsx', '--import', join(ROOT, 'test/helpers/kms-endpoint.ts')],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: 'production',
        METADATA_SERVER_DETECTION: 'none',
        FIRESTORE_EMULATOR_HOST: emulator.host,
        STORAGE_EMULATOR_HOST: gcs.endpoint,
        GATEHOUSE_TEST_KMS_PORT: String((kms.clientOptions as { port: number }).port),
        GATEHOUSE_FIRESTORE_PROJECT: PROJECT,
        GATEHOUSE_AUDIT_DATABASE: databaseId,
        GATEHOUSE_CHECKPOINT_KEY: `kms://${KEY}`,
        GATEHOUSE_CHECKPOINT_BUCKET: `gs://${BUCKET}/checkpoints`,
      },
    });
  });
  test.after.always(async () => {
    if (fn) await stopFunctionProcesses([fn]);
    await Promise.allSettled([kms?.close(), gcs?.close()]);
  });

  test('scheduled runs sign what the log holds; a KMS outage answers 503 and appends carry on; gs:// verifies', async (t) => {
    const log = await createFirestoreSessionLog({ projectId: PROJECT, databaseId });
    t.teardown(() => log.close());
    const append = async (n: number) => {
      for (let i = 0; i < n; i++) await log.append(randomUUID(), [{ type: 'request', data: { sql: 'SELECT 1' } }]);
    };
    const run = async () => {
      const res = await fetch(`${fn!.url}/v1/checkpoints`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      return { status: res.status, body: (await res.json()) as Record<string, unknown>, explain: fn!.output().slice(-2000) };
    };
    await append(3);
    const first = await run();
    t.is(first.status, 200, first.explain);
    t.like(first.body, { outcome: 'signed', checkpoint: { treeSize: 3, keyId: `kms:${KEY}` } });

    kms.failWith = grpc.status.UNAVAILABLE;
    let down;
    try {
      await append(1); // something to sign, so the run needs KMS
      [down] = await Promise.all([run(), append(1)]);
    } finally {
      kms.failWith = undefined;
    }
    t.is(down.status, 503, down.explain);
    t.like(down.body, { error: { code: 'signing_failed' } });
    t.is(await log.treeSize(), 5, 'appends landed during the outage');
    t.regex(fn!.output(), /checkpoint NOT signed \[signing_failed\]/);
    const status = await fetch(`${fn!.url}/v1/checkpoints/status`);
    t.like(await status.json(), { failing: true, lastFailure: { code: 'signing_failed' }, latest: { treeSize: 3 } });

    const again = await run();
    t.like(again.body, { outcome: 'signed', checkpoint: { treeSize: 5 } });
    const source = await loadCheckpointSource(`gs://${BUCKET}/checkpoints`, { gcs: cloudStorageReader });
    const chain = verifyCheckpointChain(source.listing.checkpoints, source.publicKeyPem!);
    t.deepEqual(chain.problems, []);
    t.deepEqual(chain.valid.map((c) => c.treeSize), [3, 5]);
  });
});
