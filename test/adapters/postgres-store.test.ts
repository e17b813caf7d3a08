import { createServer, connect, type Server, type Socket } from 'node:net';
import test from 'ava';
import pg from 'pg';
import { freePort } from '../../infra/free-port.ts';
import { createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import { sessionStatus } from '../../shared/audit/status.ts';
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
  t.is(sessionStatus([{ type: 'decision', data: { action: 'maybe' } }]), 'denied');
  t.is(sessionStatus([{ type: 'request', data: { rejected: undefined } }]), 'received');
  t.throws(() => sessionStatus([{ type: 'forged' as never, data: {} }]), { instanceOf: TypeError });
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
