// Two clocks on every statement: PostgreSQL's statement_timeout, and the gateway's own deadline
// for servers that ignore it (PGlite, the embedded demo database) or stop answering.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import test from 'ava';
import type { GatehouseError } from '../../shared/errors.ts';
import { createEmbeddedSecrets } from '../../shared/adapters/secrets/index.ts';
import { createTargetDatabase } from '../../shared/postgres/index.ts';
import { withDeadline } from '../../shared/postgres/deadline.ts';
import { openFixture } from './fixture.ts';

test('statement_timeout cancels a slow statement on the server', async (t) => {
  const f = await openFixture('SELECT 1', { poolSize: 1 });
  t.teardown(() => f.close());
  const started = Date.now();
  const err = await t.throwsAsync<GatehouseError>(f.target.run(f.req('SELECT pg_sleep(5)', { statementTimeoutMs: 300 })), { code: 'statement_timeout' });
  t.true(Date.now() - started < 3000, 'does not hang');
  // From the server (SQLSTATE 57014), not from the client-side deadline.
  t.is(err?.details?.sqlstate, '57014');
  // The same connection (poolSize 1) is reused, with the next request's timeout, not this one's.
  const next = await f.target.run(f.req("SELECT current_setting('statement_timeout')", { statementTimeoutMs: 4000 }));
  t.deepEqual(next.rows, [['4s']]);
});

test('the deadline rejects with statement_timeout and calls onExpire', async (t) => {
  let expired = 0;
  const never = new Promise<never>(() => {});
  const err = await t.throwsAsync<GatehouseError>(withDeadline(never, 30, () => (expired += 1)), { code: 'statement_timeout' });
  t.is(expired, 1);
  t.is(err?.details?.deadlineMs, 30);
});

test('the deadline lets work that finishes in time through, and clears its timer', async (t) => {
  let expired = 0;
  t.is(await withDeadline(Promise.resolve(7), 20, () => (expired += 1)), 7);
  await t.throwsAsync<GatehouseError>(withDeadline(Promise.reject(new Error('boom')), 20, () => (expired += 1)), { message: 'boom' });
  await new Promise((r) => setTimeout(r, 50));
  t.is(expired, 0);
});

test('a late failure after the deadline is swallowed, and a throwing onExpire still times out', async (t) => {
  const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('late')), 40));
  await t.throwsAsync<GatehouseError>(
    withDeadline(late, 10, () => {
      throw new Error('cancel failed');
    }),
    { code: 'statement_timeout' },
  );
  await new Promise((r) => setTimeout(r, 60)); // an unhandled rejection here would fail the run
  t.pass();
});

// PGlite runs inside this process and blocks the event loop for as long as a statement runs
// (measured: pg_sleep(1) froze a 10 ms interval for 1004 ms), so no timer can interrupt it. What
// the deadline guarantees there: the request fails with statement_timeout as soon as the loop is
// free, and the connection is dropped before COMMIT, so a write does not land. Serial: it would
// freeze the other tests of this file too.
test.serial('against PGlite, which ignores statement_timeout, the deadline fails the statement and nothing commits', async (t) => {
  const db = await PGlite.create();
  const server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1', maxConnections: 10 });
  await server.start();
  const port = server.getServerConn().split(':').pop();
  const target = createTargetDatabase({
    connections: { demo: { credentials: 'embedded://demo' } },
    secrets: createEmbeddedSecrets(new Map([['demo', `postgres://postgres@127.0.0.1:${port}/postgres`]])),
  });
  t.teardown(async () => {
    await target.close();
    await server.stop();
    await db.close();
  });
  const request = { connection: 'demo', params: [], readOnly: false, maxRows: 10, statementTimeoutMs: 200 };
  await target.run({ ...request, sql: 'CREATE TABLE landed (a int)' });

  // Control: PGlite lets a statement outlive its 200 ms statement_timeout (PostgreSQL would not).
  const slept = await target.run({ ...request, sql: 'SELECT pg_sleep(0.35)' });
  t.true(slept.durationMs >= 300, `${slept.durationMs} ms`);

  const started = Date.now();
  const err = await t.throwsAsync<GatehouseError>(target.run({ ...request, sql: 'INSERT INTO landed SELECT 1 FROM pg_sleep(0.8)' }), {
    code: 'statement_timeout',
  });
  t.is(err?.details?.sqlstate, undefined, 'the client-side deadline, not the server, ended it');
  t.true(Date.now() - started < 2000);

  const after = await target.run({ ...request, sql: 'SELECT count(*)::int FROM landed', readOnly: true });
  t.deepEqual(after.rows, [[0]]);
});

// A network that stops delivering the server's answers: statement_timeout cannot help (the server
// finished long ago), so the deadline must end the wait. A small TCP proxy in front of PostgreSQL
// swallows everything the server sends on a connection once that connection's statement mentions
// `gatehouse_stall`.
async function stallingProxy(upstreamUrl: string): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(upstreamUrl);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const db = connect(Number(upstream.port), upstream.hostname);
    let stalled = false;
    sockets.add(client).add(db);
    client.on('data', (chunk) => {
      if (chunk.includes('gatehouse_stall')) stalled = true;
      db.write(chunk);
    });
    db.on('data', (chunk) => {
      if (!stalled) client.write(chunk);
    });
    const end = () => {
      client.destroy();
      db.destroy();
    };
    client.on('close', end).on('error', end);
    db.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = new URL(upstreamUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test('a stalled connection: the deadline fails the statement, drops the connection, and nothing commits', async (t) => {
  const f = await openFixture('CREATE TABLE w (a int)');
  const proxy = await stallingProxy(f.url);
  const target = createTargetDatabase({
    connections: { t: { credentials: 'embedded://t' } },
    secrets: createEmbeddedSecrets(new Map([['t', proxy.url]])),
    poolSize: 1,
  });
  t.teardown(async () => {
    await target.close();
    await proxy.close();
    await f.close();
  });
  const request = { connection: 't', params: [], readOnly: false, maxRows: 10, statementTimeoutMs: 300 };
  const started = Date.now();
  const err = await t.throwsAsync<GatehouseError>(target.run({ ...request, sql: "INSERT INTO w SELECT 1 WHERE 'gatehouse_stall' <> ''" }), {
    code: 'statement_timeout',
  });
  const elapsed = Date.now() - started;
  t.is(err?.details?.sqlstate, undefined, 'the client-side deadline, not the server, ended it');
  t.true(elapsed >= 500 && elapsed < 2000, `${elapsed} ms`);
  t.is(await f.count('w'), 0);
  // The stalled connection was destroyed, not given back: with a pool of one, the next request works.
  const next = await target.run({ ...request, sql: 'SELECT 1' });
  t.deepEqual(next.rows, [[1]]);
});
