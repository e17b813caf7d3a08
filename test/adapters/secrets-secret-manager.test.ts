// Secret Manager over real gRPC, against the one-method server in test/helpers (there is no
// emulator). The client library, its request and its response parsing are the real ones.
import { createRequire } from 'node:module';
import { status } from '@grpc/grpc-js';
import test from 'ava';
import { createSecretManagerSecrets, createSecretSource } from '../../shared/adapters/secrets/index.ts';
import type { GatehouseError } from '../../shared/errors.ts';
import { createTargetDatabase } from '../../shared/postgres/index.ts';
import { createTestDatabase } from '../helpers/pg.ts';
import { startSecretManagerServer, type SecretManagerServer } from '../helpers/secret-manager-server.ts';

// Off GCP, google-auth-library would otherwise probe for a metadata server (docs/design.md#local-stand-ins-for-gcp).
process.env.METADATA_SERVER_DETECTION ??= 'none';

const VALUE = 'postgres://bot:s3cr3t-value@db.internal:5432/prod';
const LATEST = 'projects/acme/secrets/db-url/versions/latest';
let server: SecretManagerServer;

test.before(async () => {
  server = await startSecretManagerServer();
  server.versions.set(LATEST, { data: `${VALUE}\n` });
  server.versions.set('projects/acme/secrets/db-url/versions/3', { code: status.FAILED_PRECONDITION, message: 'Secret Version is in DESTROYED state.' });
  server.versions.set('projects/acme/secrets/locked/versions/latest', { code: status.PERMISSION_DENIED, message: 'Permission denied on resource.' });
  server.versions.set('projects/acme/secrets/flaky/versions/latest', { code: status.UNAVAILABLE, message: 'try later' });
});
test.after.always(async () => {
  await server?.close();
});

const libraryLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('@google-cloud/secret-manager/build/src/'));

test.serial('the client library is imported on first use, not before', async (t) => {
  const source = createSecretSource({ env: { DATABASE_URL: VALUE }, secretManager: { clientOptions: server.clientOptions } });
  t.teardown(() => source.close());
  await source.resolve('env://DATABASE_URL');
  t.false(libraryLoaded());
  t.is(await source.resolve(`secret://${LATEST}`), VALUE);
  t.true(libraryLoaded());
});

test('a version resolves, trailing newline trimmed, and is cached for the TTL', async (t) => {
  let now = 0;
  const name = 'projects/acme/secrets/cached/versions/latest';
  server.versions.set(name, { data: 'first' });
  const source = createSecretManagerSecrets({ clientOptions: server.clientOptions, ttlMs: 1000, clock: () => now });
  t.teardown(() => source.close());
  const calls = () => server.calls.filter((c) => c === name).length;

  t.deepEqual(await Promise.all([source.resolve(`secret://${name}`), source.resolve(`secret://${name}`)]), ['first', 'first']);
  t.is(calls(), 1, 'concurrent first uses share one call');
  server.versions.set(name, { data: 'rotated' });
  now = 999;
  t.is(await source.resolve(`secret://${name}`), 'first');
  t.is(calls(), 1);
  now = 1000;
  t.is(await source.resolve(`secret://${name}`), 'rotated');
  t.is(calls(), 2);
});

test('gRPC statuses map to stable codes; messages name the resource, never a value', async (t) => {
  const source = createSecretManagerSecrets({ clientOptions: server.clientOptions, timeoutMs: 1500 });
  t.teardown(() => source.close());
  const cases: [string, string, RegExp][] = [
    ['projects/acme/secrets/missing/versions/1', 'secret_not_found', /not found/],
    ['projects/acme/secrets/locked/versions/latest', 'secret_unavailable', /permission denied/],
    ['projects/acme/secrets/db-url/versions/3', 'secret_unavailable', /version is disabled or destroyed/],
    ['projects/acme/secrets/flaky/versions/latest', 'secret_unavailable', /unavailable/],
  ];
  for (const [name, code, message] of cases) {
    const err = await t.throwsAsync<GatehouseError>(source.resolve(`secret://${name}`), { code: code as GatehouseError['code'] }, name);
    t.regex(err?.message ?? '', message, name);
    t.true(err?.message.includes(name), name);
    t.false(JSON.stringify([err?.message, err?.details]).includes('s3cr3t'), name);
  }
});

test('a failure is not cached', async (t) => {
  const name = 'projects/acme/secrets/later/versions/latest';
  const source = createSecretManagerSecrets({ clientOptions: server.clientOptions });
  t.teardown(() => source.close());
  await t.throwsAsync(source.resolve(`secret://${name}`), { code: 'secret_not_found' });
  server.versions.set(name, { data: 'now here' });
  t.is(await source.resolve(`secret://${name}`), 'now here');
});

test('a malformed reference is refused without a call', async (t) => {
  const source = createSecretManagerSecrets({ clientOptions: server.clientOptions });
  t.teardown(() => source.close());
  const before = server.calls.length;
  await t.throwsAsync(source.resolve('secret://projects/acme/secrets/db-url'), { code: 'secret_not_found' });
  t.is(server.calls.length, before);
});

test('a target connection whose credentials live in Secret Manager', async (t) => {
  const db = await createTestDatabase();
  server.versions.set('projects/acme/secrets/test-db/versions/2', { data: db.url });
  const secrets = createSecretSource({ env: {}, secretManager: { clientOptions: server.clientOptions } });
  const target = createTargetDatabase({ connections: { prod: { credentials: 'secret://projects/acme/secrets/test-db/versions/2' } }, secrets });
  t.teardown(async () => {
    await target.close();
    await secrets.close();
    await db.drop();
  });
  const res = await target.run({ connection: 'prod', sql: 'SELECT 40 + 2', params: [], readOnly: true, maxRows: 1, statementTimeoutMs: 5000 });
  t.deepEqual(res.rows, [[42]]);
});
