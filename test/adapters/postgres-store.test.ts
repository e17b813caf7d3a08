import { createServer, connect, type Server, type Socket } from 'node:net';
import test from 'ava';
import pg from 'pg';
import { freePort } from '../../infra/free-port.ts';
import { createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import { sessionStatus, statusAfter } from '../../shared/audit/status.ts';
import type { GatehouseError } from '../../shared/errors.ts';
import { testPgKind } from '../helpers/pg.ts';
import { storeBackends } from '../helpers/store-backends.ts';
import { sessionLogContract, type MakeSessionLog } from './session-log.contract.ts';

// --- the two stores: the test PostgreSQL server, and PGlite served over the wire -------------

const backends = storeBackends('store', { maxConnections: 200 });

function fixtureOn(url: () => Promise<string>): MakeSessionLog {
  return async (options) => {
    const target = await url();
    // The log reaches its store through a proxy the test can cut, like a network or server outage.
    const proxy = await startProxy(target);
    const log = await createPostgresSessionLog({ connectionString: proxy.url, poolSize: 5, ...options });
    return {
      log,
      direct: () => createPostgresSessionLog({ connectionString: target, poolSize: 2 }),
      tamper: (sessionId, seq, newData) => tamper(target, sessionId, seq, newData),
      cutOff: () => proxy.close(),
      async cleanup() {
        await log.close();
        await proxy.close();
      },
    };
  };
}

sessionLogContract('PostgreSQL', fixtureOn(async () => (await backends.realPg()).url));
sessionLogContract('PGlite over the wire', fixtureOn(() => backends.pgliteUrl()));

/** As an attacker with the database's superuser would: past the create-only trigger. */
async function tamper(url: string, sessionId: string, seq: number, newData: object): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('BEGIN');
    // Superuser only: ordinary triggers, ours included, do not fire in replica mode.
    await c.query('SET LOCAL session_replication_role = replica');
    const r = await c.query('UPDATE gatehouse_session_events SET data = $3 WHERE session_id = $1 AND seq = $2', [
      sessionId,
      seq,
      JSON.stringify(newData),
    ]);
    if (r.rowCount !== 1) throw new Error(`no event ${sessionId}/${seq} to tamper with`);
    await c.query('COMMIT');
  } finally {
    await c.end();
  }
}

// --- what only the PostgreSQL adapter promises -----------------------------------------------

for (const [name, url] of [
  ['PostgreSQL', async () => (await backends.realPg()).url],
  ['PGlite over the wire', () => backends.pgliteUrl()],
] as const) {
  test(`${name}: the events and sessions tables refuse UPDATE, DELETE and TRUNCATE, even to their owner`, async (t) => {
    const log = await createPostgresSessionLog({ connectionString: await url() });
    t.teardown(() => log.close());
    const sid = `trigger-${Math.random()}`;
    await log.append(sid, [{ type: 'request', data: { sql: 'SELECT 1' } }]);
    const c = new pg.Client({ connectionString: await url() });
    await c.connect();
    t.teardown(() => c.end());
    for (const sql of [
      `UPDATE gatehouse_session_events SET data = '{}' WHERE session_id = $1`,
      `DELETE FROM gatehouse_session_events WHERE session_id = $1`,
      `UPDATE gatehouse_sessions SET sql = 'SELECT 2' WHERE session_id = $1`,
      `DELETE FROM gatehouse_sessions WHERE session_id = $1`,
    ]) {
      const e = await t.throwsAsync<Error & { code?: string }>(c.query(sql, [sid]));
      t.is(e?.code, '42501', sql);
      t.regex(e?.message ?? '', /create-only/);
    }
    // Not the sessions table: TRUNCATE … CASCADE would lock both tables before the trigger
    // fires, and deadlock with the other tests' appends (their FK check locks sessions first).
    const e = await t.throwsAsync<Error & { code?: string }>(c.query('TRUNCATE gatehouse_session_events'));
    t.is(e?.code, '42501');
    t.is((await log.read(sid)).length, 1);
  });
}

test('a role granted only SELECT and INSERT runs the log, and cannot change it', async (t) => {
  if (testPgKind === 'pglite') {
    t.pass('PGlite has one user; privileges need a real server');
    return;
  }
  const db = await backends.realPg();
  // Schema first, as the owner (a DBA running schema.sql would do the same).
  await (await createPostgresSessionLog({ connectionString: db.url })).close();
  const role = `gh_writer_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  t.teardown(async () => {
    await admin.query(`DROP OWNED BY ${role}`).catch(() => {});
    await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
    await admin.end();
  });
  await admin.query(`CREATE ROLE ${role} LOGIN`);
  await admin.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
  await admin.query(`GRANT SELECT, INSERT ON gatehouse_sessions, gatehouse_session_events TO ${role}`);

  const asWriter = new URL(db.url);
  asWriter.username = role;
  const log = await createPostgresSessionLog({ connectionString: asWriter.toString(), poolSize: 3 });
  t.teardown(() => log.close());
  const sid = `writer-${role}`;
  await Promise.all(Array.from({ length: 5 }, (_, i) => log.append(sid, [{ type: 'request', data: { i } }])));
  t.is((await log.read(sid)).length, 5);
  t.true((await log.list({ subject: undefined, limit: 1000 })).some((s) => s.sessionId === sid));

  const c = new pg.Client({ connectionString: asWriter.toString() });
  await c.connect();
  t.teardown(() => c.end());
  const e = await t.throwsAsync<Error & { code?: string }>(
    c.query(`UPDATE gatehouse_session_events SET data = '{}' WHERE session_id = $1`, [sid]),
  );
  t.is(e?.code, '42501');
  t.regex(e?.message ?? '', /permission denied/);
});

// Serial: it holds the global log's lock, which every other test's append in this database waits for.
test.serial('PostgreSQL: a batch held past the server-side bound is aborted by the server; every caller rejects and it never commits later', async (t) => {
  if (testPgKind === 'pglite') {
    t.pass('PGlite ignores statement_timeout; the client-side cancel is tested elsewhere');
    return;
  }
  const db = await backends.realPg();
  const log = await createPostgresSessionLog({ connectionString: db.url, statementTimeoutMs: 400, poolSize: 3 });
  t.teardown(() => log.close());
  await log.append(`warm-${Math.random()}`, [{ type: 'request', data: {} }]);
  const holder = new pg.Client({ connectionString: db.url });
  await holder.connect();
  t.teardown(() => holder.end());
  // The lock gatehouse_append_batch takes first: the batch waits on it until the server gives up.
  await holder.query('SELECT pg_advisory_lock(7262013946281041414)');
  const size = Number((await holder.query<{ n: string }>('SELECT count(*) AS n FROM gatehouse_session_events')).rows[0]!.n);
  const writesBefore = log.appendStats().writes;
  const sids = Array.from({ length: 32 }, (_, i) => `bounded-${i}-${Math.random()}`);
  const outcomes = await Promise.allSettled(sids.map((sid) => log.append(sid, [{ type: 'request', data: { sid } }])));
  const reasons = outcomes.map((o) => (o.status === 'rejected' ? (o.reason as GatehouseError) : undefined));
  t.true(reasons.every((e) => e?.code === 'audit_unavailable'), 'every caller of the batch is told');
  // lock_not_available or query_canceled: the server's own bound ended it, not the client.
  t.true(reasons.every((e) => ['55P03', '57014'].includes(String(e?.details?.sqlState))), JSON.stringify(reasons.map((e) => e?.details)));
  t.true(log.appendStats().writes - writesBefore < 32, 'they were one batch (or few), not 32 statements');
  await holder.query('SELECT pg_advisory_unlock(7262013946281041414)');
  // Long enough for anything that was merely queued to have committed.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const { rows } = await holder.query<{ n: string }>('SELECT count(*) AS n FROM gatehouse_session_events WHERE session_id = ANY($1)', [sids]);
  t.is(Number(rows[0]!.n), 0, 'nothing of the aborted batch committed later');
  t.true(Number((await holder.query<{ n: string }>('SELECT count(*) AS n FROM gatehouse_session_events')).rows[0]!.n) >= size);
  // And the log goes on: the next append lands, gap-free.
  const next = await log.append(sids[0]!, [{ type: 'request', data: {} }]);
  t.is(next[0]!.seq, 0);
  const leaves = await log.leaves(0, await log.treeSize());
  t.deepEqual(leaves.map((l) => l.index), leaves.map((_, i) => i));
});

test.serial('PostgreSQL: 40 concurrent appends reach the server as fewer than 40 calls of gatehouse_append_batch', async (t) => {
  if (testPgKind === 'pglite') {
    t.pass('a real server only');
    return;
  }
  const db = await backends.realPg();
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  t.teardown(() => admin.end());
  // Counted by the server: track_functions for connections opened from now on.
  await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(new URL(db.url).pathname.slice(1))} SET track_functions = 'pl'`);
  const calls = async () =>
    Number((await admin.query<{ calls: string }>("SELECT coalesce(sum(calls), 0) AS calls FROM pg_stat_user_functions WHERE funcname = 'gatehouse_append_batch'")).rows[0]!.calls);
  const before = await calls();
  const log = await createPostgresSessionLog({ connectionString: db.url, poolSize: 4 });
  await Promise.all(Array.from({ length: 40 }, (_, i) => log.append(`calls-${i}-${Math.random()}`, [{ type: 'request', data: { i } }])));
  // A backend reports its statistics when it exits: close the log, then wait for the report.
  await log.close();
  let after = before;
  for (let i = 0; i < 80 && after === before; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    after = await calls();
  }
  t.true(after > before, 'the function ran');
  t.true(after - before < 40, `40 appends in ${after - before} calls of gatehouse_append_batch`);
});

test('a log whose database is down refuses to start, and its error names no credential', async (t) => {
  const password = 'pw-s3cret-do-not-leak';
  const port = await freePort(); // just released: nothing listens there
  const connectionString = `postgres://gatehouse:${password}@127.0.0.1:${port}/gatehouse_audit`;
  const e = await t.throwsAsync<GatehouseError>(createPostgresSessionLog({ connectionString }), {
    code: 'audit_unavailable',
    message: 'session log unavailable',
  });
  t.is(e?.status, 503);
  t.truthy(e?.cause, 'the driver error is kept for the operator');
  for (const shown of [e?.message, JSON.stringify(e?.details), String(e)]) {
    t.false(shown?.includes(password), String(shown));
    t.false(shown?.includes(connectionString), String(shown));
  }
});

test('options are checked up front', async (t) => {
  await t.throwsAsync(createPostgresSessionLog({ connectionString: '' }), { instanceOf: TypeError });
  await t.throwsAsync(createPostgresSessionLog({ connectionString: 'postgres://x@127.0.0.1/x', poolSize: 0 }), {
    instanceOf: TypeError,
  });
});

test('status edge cases: no events yet, and a decision action nobody knows', (t) => {
  t.is(sessionStatus([]), 'received');
  t.is(statusAfter({ type: 'decision', data: { action: 'maybe' } }), 'denied');
  t.is(sessionStatus([{ type: 'request', data: { rejected: undefined } }]), 'received');
  // A type the gateway never writes: unknown, never a throw that takes a listing down.
  t.is(statusAfter({ type: 'forged' as never, data: {} }), 'unknown');
  t.is(sessionStatus([{ type: 'request', data: {} }, { type: 'forged' as never, data: {} }]), 'unknown');
  // A decision with no request before it is not a session the gateway writes.
  t.is(sessionStatus([{ type: 'decision', data: { action: 'allow' } }]), 'unknown');
});

// --- a TCP proxy the test can cut --------------------------------------------------------------

async function startProxy(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const to = new URL(target);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(to.port), to.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('proxy has no address');
  const url = new URL(target);
  url.port = String(address.port);
  let closed: Promise<void> | undefined;
  return {
    url: url.toString(),
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closed;
    },
  };
}
