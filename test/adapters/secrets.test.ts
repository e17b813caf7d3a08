import test from 'ava';
import { createEmbeddedSecrets, createEnvSecrets, createSecretSource } from '../../shared/adapters/secrets/index.ts';
import type { GatehouseError } from '../../shared/errors.ts';

const VALUE = 'postgres://bot:hunter2-value@db.internal/prod';

test('env:// reads the variable', async (t) => {
  t.is(await createEnvSecrets({ DATABASE_URL: VALUE }).resolve('env://DATABASE_URL'), VALUE);
});

test('env:// that is missing or empty is secret_not_found naming the variable, not a value', async (t) => {
  const env = { EMPTY: '', OTHER: VALUE };
  for (const ref of ['env://MISSING', 'env://EMPTY']) {
    const err = await t.throwsAsync<GatehouseError>(createEnvSecrets(env).resolve(ref), { code: 'secret_not_found' });
    t.regex(err?.message ?? '', /MISSING|EMPTY/);
    t.false(JSON.stringify([err?.message, err?.details]).includes('hunter2'));
  }
  // Inherited properties are not variables.
  await t.throwsAsync(createEnvSecrets({}).resolve('env://constructor'), { code: 'secret_not_found' });
  await t.throwsAsync(createEnvSecrets(env).resolve('env://bad-name'), { code: 'secret_not_found' });
});

test('env:// reads the environment at resolve time', async (t) => {
  const env: Record<string, string> = {};
  const source = createEnvSecrets(env);
  await t.throwsAsync(source.resolve('env://LATE'), { code: 'secret_not_found' });
  env.LATE = VALUE;
  t.is(await source.resolve('env://LATE'), VALUE);
});

test('embedded:// reads what the embedded database registered, even after creation', async (t) => {
  const urls = new Map<string, string>();
  const source = createEmbeddedSecrets(urls);
  const err = await t.throwsAsync<GatehouseError>(source.resolve('embedded://demo'), { code: 'secret_not_found' });
  t.regex(err?.message ?? '', /demo/);
  urls.set('demo', 'postgres://postgres@127.0.0.1:5433/postgres');
  t.is(await source.resolve('embedded://demo'), 'postgres://postgres@127.0.0.1:5433/postgres');
});

test('the composite dispatches on the scheme', async (t) => {
  const source = createSecretSource({ env: { DATABASE_URL: VALUE }, embedded: new Map([['demo', 'postgres://x@127.0.0.1/y']]) });
  t.teardown(() => source.close());
  t.is(await source.resolve('env://DATABASE_URL'), VALUE);
  t.is(await source.resolve('embedded://demo'), 'postgres://x@127.0.0.1/y');
});

test('an unknown scheme: TypeError from check at config time, secret_not_found at resolve, never echoed', async (t) => {
  const source = createSecretSource({ env: {} });
  t.teardown(() => source.close());
  for (const ref of ['vault://kv/db', VALUE, 'DATABASE_URL', '']) {
    const thrown = t.throws(() => source.check(ref), { instanceOf: TypeError });
    t.false(thrown?.message.includes('hunter2') ?? true);
    const err = await t.throwsAsync<GatehouseError>(source.resolve(ref), { code: 'secret_not_found' });
    t.false(JSON.stringify([err?.message, err?.details]).includes('hunter2'));
  }
});

test('check accepts well-formed references and refuses malformed ones of a known scheme', (t) => {
  const source = createSecretSource({ env: {} });
  t.teardown(() => source.close());
  for (const ref of ['env://DATABASE_URL', 'embedded://demo', 'secret://projects/acme-prod/secrets/db-url/versions/latest', 'secret://projects/123/secrets/db/versions/7']) {
    t.notThrows(() => source.check(ref), ref);
  }
  for (const ref of ['env://', 'env://A-B', 'embedded://', 'secret://projects/p/secrets/s', 'secret://projects/p/secrets/s/versions/0', 'secret://db-url']) {
    t.throws(() => source.check(ref), { instanceOf: TypeError }, ref);
  }
});
