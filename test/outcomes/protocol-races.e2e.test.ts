// The gateway and reconciliation both close a session, genuinely (attack review of "a session out of
// the gateway's order of events is unknown"): two reconcilers that read the same open session each
// append an `execution.abandoned` (docs/outcomes.md: "both say the same thing"), and a write whose
// COMMIT outlasts its timeout plus the grace period is closed by reconciliation AND by the gateway,
// in either order. Each is driven through the real gateway and the real reconciler; the session must
// read what happened (never `unknown`), and `evidence verify` must pass the honest evidence.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import { createSecretSource } from '../../shared/adapters/secrets/index.ts';
import { protocolBreak } from '../../shared/audit/protocol.ts';
import { sessionStatus } from '../../shared/audit/status.ts';
import type { EventDraft, SessionEvent, SessionStatus } from '../../shared/audit/events.ts';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { verifyEvidence } from '../../shared/evidence/verify.ts';
import { createTargetDatabase } from '../../shared/postgres/index.ts';
import type { SessionLog, TargetDatabase } from '../../shared/ports.ts';
import { reconcile } from '../../shared/reconcile/reconcile.ts';
import { freePort } from '../../infra/free-port.ts';
import { startTestGateway, testPolicy, type TestGateway } from '../helpers/gateway.ts';
import { createTestDatabase, testPgKind, type TestDatabase } from '../helpers/pg.ts';

const DBA = 'alice@acme.com';
const model = { 'x-agent-model': 'test-model' };
// Reconciliation's clock, an hour on: every open session is older than its timeout plus grace.
const later = () => new Date(Date.now() + 3_600_000);

let gw: TestGateway;
let mine: TestDatabase; // the target the gateway reaches through `proxy`
let proxy: HeldCommitProxy;
let audit: pg.Pool;
let direct: TargetDatabase; // the same target, not through the proxy: what a reconciler asks
let otherInstance: SessionLog; // the same log, as another gateway instance writes it
let dir: string;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-races-'));
  mine = await createTestDatabase();
  const url = new URL(mine.url);
  const port = await freePort();
  proxy = await heldCommitProxy(port, { host: url.hostname, port: Number(url.port || 5432) });
  const proxied = new URL(mine.url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(port);
  gw = await startTestGateway({
    policy: (issuer) => testPolicy(issuer).replace('env://GATEHOUSE_TEST_TARGET_URL', 'env://RACES_TARGET_URL'),
    env: { RACES_TARGET_URL: proxied.toString() },
  });
  const admin = new pg.Pool({ connectionString: mine.url, max: 1 });
  await admin.query('CREATE TABLE notes (id int PRIMARY KEY, body text)');
  await admin.end();
  audit = new pg.Pool({ connectionString: gw.audit.url, max: 3 });
  audit.on('error', () => {});
  direct = createTargetDatabase({ connections: { main: { credentials: 'env://T' } }, secrets: createSecretSource({ env: { T: mine.url } }), poolSize: 1 });
  otherInstance = await createPostgresSessionLog({ connectionString: gw.audit.url, poolSize: 2 });
});
test.after.always(async () => {
  await Promise.allSettled([otherInstance?.close(), direct?.close(), audit?.end()]);
  await gw?.close();
  await proxy?.close();
  await mine?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function dbaInsert(id: number) {
  return gw.post('/v1/query', { connection: 'main', sql: 'INSERT INTO notes VALUES ($1, $2)', params: [id, 'x'] }, { authorization: `Bearer ${await gw.token(DBA)}`, ...model });
}

/** A trigger in the session store for the test's span: `body` runs before each event's INSERT. */
async function withStoreTrigger(body: string, work: () => Promise<void>): Promise<void> {
  await audit.query(`
    CREATE OR REPLACE FUNCTION races_fault() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      ${body}
      RETURN NEW;
    END $$;
    CREATE TRIGGER races_fault BEFORE INSERT ON gatehouse_session_events FOR EACH ROW EXECUTE FUNCTION races_fault();`);
  try {
    await work();
  } finally {
    await audit.query('DROP TRIGGER races_fault ON gatehouse_session_events; DROP FUNCTION races_fault()');
  }
}

/** The session's status as every view derives it, and evidence verify over the whole log. */
async function checkHonest(t: import('ava').ExecutionContext, sessionId: string, status: SessionStatus): Promise<SessionEvent[]> {
  const events = await gw.runtime.sessions.read(sessionId);
  t.is(protocolBreak(events), undefined, JSON.stringify(events.map((e) => [e.type, e.data.outcome])));
  t.is(sessionStatus(events), status);
  const shown = await gw.get(`/v1/sessions/${sessionId}`, { authorization: `Bearer ${await gw.token(DBA)}` });
  t.is(shown.body.status, status);
  const out = join(dir, `evidence-${sessionId}`);
  await exportEvidence(gw.runtime.sessions, { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000), out, source: 'test' });
  const verified = await verifyEvidence(out);
  t.true(verified.ok, JSON.stringify(verified.problems));
  return events;
}

test.serial('two reconcilers close the same session the gateway left running: both abandoned events stand, the session reads rolled_back, verify passes', async (t) => {
  // The log refuses the write's result (and the rolled_back the gateway then tries): the gateway
  // answers 503 and leaves the session at execution.started, as a gateway that died would.
  const since = new Date(Date.now() - 1000); // only this test's session: each pass must find exactly it
  let sessionId = '';
  await withStoreTrigger(`IF NEW.type IN ('execution.result', 'execution.rolled_back', 'execution.failed') THEN RAISE EXCEPTION 'store refuses'; END IF;`, async () => {
    const r = await dbaInsert(1);
    t.is(r.status, 503, JSON.stringify(r.body));
    sessionId = r.body.sessionId;
  });
  t.deepEqual((await gw.runtime.sessions.read(sessionId)).map((e) => e.type), ['request', 'analysis', 'decision', 'execution.started']);

  // Two passes (two gateways' timers, or a gateway and `gatehouse sessions reconcile`) that both
  // read the session open before either appends.
  let arrived = 0;
  let bothRead!: () => void;
  const barrier = new Promise<void>((r) => (bothRead = r));
  const racing: SessionLog = {
    ...gw.runtime.sessions,
    list: (q) => gw.runtime.sessions.list(q),
    read: (id) => gw.runtime.sessions.read(id),
    async append(id: string, drafts: readonly EventDraft[]) {
      if (++arrived === 2) bothRead();
      await barrier;
      return gw.runtime.sessions.append(id, drafts);
    },
  };
  const noTarget = { transactionStatus: async () => { throw new Error('a session without a result needs no target'); } };
  const pass = (by: string) => reconcile({ sessions: racing, target: noTarget, clock: later, reconciledBy: by }, { since });
  const [a, b] = await Promise.all([pass('gateway one'), pass('gateway two')]);
  t.is(a.closed.rolled_back + b.closed.rolled_back, 2, 'each pass closed it');

  const events = await checkHonest(t, sessionId, 'rolled_back');
  t.deepEqual(events.slice(-2).map((e) => [e.type, e.data.outcome, e.data.basis]), [
    ['execution.abandoned', 'rolled_back', 'protocol'],
    ['execution.abandoned', 'rolled_back', 'protocol'],
  ]);
});

test.serial('a write committed while reconciliation judged it: committed, then abandoned (committed); the session reads committed, verify passes', async (t) => {
  if (testPgKind === 'pglite') return t.pass('txid_status needs a real PostgreSQL');
  // The gateway's execution.committed append is slow in the store: the target has committed, the
  // log still ends at execution.result. Another instance's reconciliation reads it there, asks the
  // target (committed), and appends its abandoned — which lands after the gateway's committed.
  await withStoreTrigger(`IF NEW.type = 'execution.committed' THEN PERFORM pg_sleep(1.5); END IF;`, async () => {
    // Only this test's session: the PostgreSQL cluster is shared with other test files (their
    // session stores sleep in triggers too), and earlier tests here left sessions of their own.
    const since = new Date(Date.now() - 1000);
    const answer = dbaInsert(2);
    await until('the committed append in the store', async () =>
      (await audit.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'gatehouse-session-log' AND wait_event = 'PgSleep'")).rowCount === 1);
    const report = await reconcile({ sessions: otherInstance, target: direct, clock: later, reconciledBy: 'another instance' }, { since });
    t.is(report.closed.committed, 1, JSON.stringify(report));
    const r = await answer;
    t.is(r.status, 200, JSON.stringify(r.body));
    const events = await checkHonest(t, r.body.sessionId, 'committed');
    t.deepEqual(events.slice(-3).map((e) => [e.type, e.data.outcome]), [
      ['execution.result', undefined],
      ['execution.committed', undefined],
      ['execution.abandoned', 'committed'],
    ]);
  });
});

test.serial('a COMMIT whose answer is held past timeout and grace: abandoned (committed), then the gateway\'s committed; the session reads committed, verify passes', async (t) => {
  if (testPgKind === 'pglite') return t.pass('txid_status needs a real PostgreSQL');
  // The target commits, its answer to COMMIT is held (a synchronous standby that does not answer
  // holds COMMIT the same way, while txid_status already says committed). Reconciliation closes
  // the session from the target's transaction status; then the answer arrives and the gateway
  // records its own committed.
  const since = new Date(Date.now() - 1000); // only this test's session (see above)
  const held = proxy.holdNextCommitAfter('INSERT INTO notes');
  const answer = dbaInsert(3);
  await held.holding;
  // `holding` fires as the COMMIT is passed on, not once the target has run it: until then
  // txid_status says in progress and the pass leaves the session open — as a real pass would,
  // asking again at its next run (a loaded machine showed that once in CI).
  let report!: Awaited<ReturnType<typeof reconcile>>;
  await until('a pass that finds the transaction no longer in progress', async () => {
    report = await reconcile({ sessions: otherInstance, target: direct, clock: later, reconciledBy: 'another instance' }, { since });
    return report.skipped.inProgress === 0;
  });
  t.is(report.closed.committed, 1, JSON.stringify(report));
  held.release();
  const r = await answer;
  t.is(r.status, 200, JSON.stringify(r.body));
  await until('the gateway records its committed', async () => (await gw.runtime.sessions.read(r.body.sessionId)).at(-1)?.type === 'execution.committed');
  const events = await checkHonest(t, r.body.sessionId, 'committed');
  t.deepEqual(events.slice(-3).map((e) => [e.type, e.data.outcome]), [
    ['execution.result', undefined],
    ['execution.abandoned', 'committed'],
    ['execution.committed', undefined],
  ]);
});

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

interface HeldCommitProxy {
  /** On the connection that sends `marker`, hold the server's bytes from its next COMMIT on. */
  holdNextCommitAfter(marker: string): { holding: Promise<void>; release(): void };
  close(): Promise<void>;
}

/** A TCP proxy to the target that can hold the server's answer to one COMMIT (the COMMIT itself goes through). */
async function heldCommitProxy(port: number, target: { host: string; port: number }): Promise<HeldCommitProxy> {
  const sockets = new Set<Socket>();
  let armed: { marker: string; holding: () => void; released: Promise<void> } | undefined;
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    let sawMarker = false;
    let hold: Promise<void> | undefined;
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      if (armed && text.includes(armed.marker)) sawMarker = true;
      if (armed && sawMarker && text.includes('COMMIT')) {
        hold = armed.released;
        armed.holding();
        armed = undefined;
      }
      upstream.write(chunk);
    });
    let queue = Promise.resolve();
    upstream.on('data', (chunk: Buffer) => {
      const h = hold;
      queue = queue.then(async () => {
        if (h) await h;
        client.write(chunk);
      });
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => void queue.then(() => client.end()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    holdNextCommitAfter(marker) {
      let holding!: () => void;
      let release!: () => void;
      const holdingP = new Promise<void>((r) => (holding = r));
      const released = new Promise<void>((r) => (release = r));
      armed = { marker, holding, released };
      return { holding: holdingP, release };
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
