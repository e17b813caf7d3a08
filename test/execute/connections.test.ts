// Taking a connection: credentials come from the SecretSource on first use, failures say which
// connection and never what the URL or password was, and a rotated secret is picked up.
import { createServer } from 'node:net';
import test from 'ava';
import { createEnvSecrets } from '../../shared/adapters/secrets/index.ts';
import type { GatehouseError } from '../../shared/errors.ts';
import { createTargetDatabase } from '../../shared/postgres/index.ts';
import type { SecretSource, StatementRequest } from '../../shared/ports.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';

const PASSWORD = 'Sup3r-Secret-Pw-7c1e';
let db: TestDatabase;

test.before(async () => {
  db = await createTestDatabase();
});
test.after.always(async () => {
  await db?.drop();
});

const req = (connection: string, more: Partial<StatementRequest> = {}): StatementRequest => ({
  connection,
  sql: 'SELECT 1',
  params: [],
  readOnly: true,
  maxRows: 10,
  statementTimeoutMs: 5000,
  ...more,
});

/** A SecretSource over a mutable map, counting lookups. */
function mapSecrets(values: Map<string, string>): SecretSource & { lookups: number } {
  const source = {
    lookups: 0,
    async resolve(ref: string) {
      source.lookups += 1;
      return createEnvSecrets(Object.fromEntries(values)).resolve(ref);
    },
  };
  return source;
}

/** The harness cluster trusts local connections, so no password is ever checked: a role that does
 * not exist is the authentication failure (SQLSTATE 28000) it can produce. */
function withRole(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = password;
  return u.toString();
}

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function assertNoSecret(t: { false(v: boolean, m?: string): void }, err: GatehouseError | undefined): void {
  const everything = JSON.stringify({ message: err?.message, details: err?.details, stack: err?.stack, cause: String(err?.cause) });
  t.false(everything.includes(PASSWORD), everything);
  t.false(everything.includes('postgres://'), everything);
}

test('an authentication failure is database_unavailable, names the connection, and leaks no password', async (t) => {
  const secrets = mapSecrets(new Map([['PROD_URL', withRole(db.url, 'no_such_role', PASSWORD)]]));
  const target = createTargetDatabase({ connections: { prod: { credentials: 'env://PROD_URL' } }, secrets });
  t.teardown(() => target.close());
  const err = await t.throwsAsync<GatehouseError>(target.run(req('prod')), { code: 'database_unavailable' });
  t.regex(err?.message ?? '', /"prod"/);
  t.is(err?.details?.sqlstate, '28000');
  t.is(err?.cause, undefined);
  assertNoSecret(t, err);
});

test('a closed port is database_unavailable and leaks no password', async (t) => {
  const u = new URL(withRole(db.url, 'postgres', PASSWORD));
  u.port = String(await closedPort());
  const target = createTargetDatabase({
    connections: { prod: { credentials: 'env://PROD_URL' } },
    secrets: mapSecrets(new Map([['PROD_URL', u.toString()]])),
  });
  t.teardown(() => target.close());
  const err = await t.throwsAsync<GatehouseError>(target.run(req('prod')), { code: 'database_unavailable' });
  t.is(err?.details?.reason, 'ECONNREFUSED');
  assertNoSecret(t, err);
});

test('a URL that does not parse is database_unavailable and is not echoed', async (t) => {
  const target = createTargetDatabase({
    connections: { prod: { credentials: 'env://PROD_URL' } },
    secrets: mapSecrets(new Map([['PROD_URL', `postgres://u:${PASSWORD}@[not-a-host/db`]])),
  });
  t.teardown(() => target.close());
  const err = await t.throwsAsync<GatehouseError>(target.run(req('prod')), { code: 'database_unavailable' });
  assertNoSecret(t, err);
});

test('after an authentication failure the secret is read again: a rotated secret is picked up', async (t) => {
  const values = new Map([['PROD_URL', withRole(db.url, 'no_such_role', PASSWORD)]]);
  const secrets = mapSecrets(values);
  const target = createTargetDatabase({ connections: { prod: { credentials: 'env://PROD_URL' } }, secrets });
  t.teardown(() => target.close());
  await t.throwsAsync(target.run(req('prod')), { code: 'database_unavailable' });
  values.set('PROD_URL', db.url);
  const res = await target.run(req('prod'));
  t.deepEqual(res.rows, [[1]]);
  t.is(secrets.lookups, 2);
  // The working pool is kept: no lookup per request.
  await target.run(req('prod'));
  t.is(secrets.lookups, 2);
});

test('concurrent first requests share one secret lookup and one pool', async (t) => {
  const secrets = mapSecrets(new Map([['PROD_URL', db.url]]));
  const target = createTargetDatabase({ connections: { prod: { credentials: 'env://PROD_URL' } }, secrets, poolSize: 2 });
  t.teardown(() => target.close());
  const results = await Promise.all(Array.from({ length: 6 }, () => target.run(req('prod', { sql: 'SELECT pg_sleep(0.05)' }))));
  t.is(results.length, 6);
  t.is(secrets.lookups, 1);
});

test('a missing secret is secret_not_found, and is looked up again next time', async (t) => {
  const values = new Map<string, string>();
  const secrets = mapSecrets(values);
  const target = createTargetDatabase({ connections: { prod: { credentials: 'env://PROD_URL' } }, secrets });
  t.teardown(() => target.close());
  await t.throwsAsync(target.run(req('prod')), { code: 'secret_not_found' });
  values.set('PROD_URL', db.url);
  t.deepEqual((await target.run(req('prod'))).rows, [[1]]);
});

test('bad params and unknown connections cost no secret lookup', async (t) => {
  const secrets = mapSecrets(new Map([['PROD_URL', db.url]]));
  const target = createTargetDatabase({ connections: { prod: { credentials: 'env://PROD_URL' } }, secrets });
  t.teardown(() => target.close());
  await t.throwsAsync(target.run(req('prod', { params: [{ nested: true }] })), { code: 'invalid_params' });
  await t.throwsAsync(target.run(req('other')), { code: 'unknown_connection' });
  t.is(secrets.lookups, 0);
});

test('durationMs comes from the injected clock', async (t) => {
  let now = 1000;
  const target = createTargetDatabase({
    connections: { prod: { credentials: 'env://PROD_URL' } },
    secrets: mapSecrets(new Map([['PROD_URL', db.url]])),
    clock: () => (now += 7),
  });
  t.teardown(() => target.close());
  t.is((await target.run(req('prod'))).durationMs, 7);
});

test('options are checked up front', (t) => {
  const secrets = mapSecrets(new Map());
  t.throws(() => createTargetDatabase({ connections: { a: { credentials: '' } }, secrets }), { instanceOf: TypeError });
  t.throws(() => createTargetDatabase({ connections: {}, secrets, poolSize: 0 }), { instanceOf: TypeError });
  t.throws(() => createTargetDatabase({ connections: {}, secrets: {} as SecretSource }), { instanceOf: TypeError });
});
