// A gateway killed with -9 mid-statement (issue 15): after a restart, reconciliation closes what it
// left open with what is known — from the target's transaction status where there is a result, by
// the protocol where there is none — and evidence verify counts the outcomes, unknown apart.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createRuntime, type Runtime } from '../../shared/config.ts';
import { sessionStatus } from '../../shared/audit/status.ts';
import * as ev from '../../shared/audit/drafts.ts';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { verifyEvidence } from '../../shared/evidence/verify.ts';
import { loadOrCreateDevKey, mintDevToken } from '../../infra/dev-issuer.ts';
import { freePort } from '../../infra/free-port.ts';
import { startGatewayChild, type GatewayChild } from '../../scripts/soak/child-process.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';
import { TEST_AUDIENCE, TEST_MASKING_KEY, testPolicy } from '../helpers/gateway.ts';

let dir: string;
let target: TestDatabase;
let audit: TestDatabase;
let child: GatewayChild | undefined;
let runtime: Runtime | undefined;
let admin: pg.Pool;
let auditAdmin: pg.Pool;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gatehouse-kill-'));
  target = await createTestDatabase();
  audit = await createTestDatabase();
  admin = new pg.Pool({ connectionString: target.url, max: 2 });
  auditAdmin = new pg.Pool({ connectionString: audit.url, max: 2 });
  admin.on('error', () => {});
  auditAdmin.on('error', () => {});
  await admin.query('CREATE TABLE notes (id int PRIMARY KEY, body text)');
});
test.after.always(async () => {
  await child?.kill();
  await runtime?.close();
  await admin?.end();
  await auditAdmin?.end();
  await target?.drop();
  await audit?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test.serial('killed between result and COMMIT, and mid-statement: after restart, reconciliation closes both truthfully and verify counts them', async (t) => {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}/dev`;
  const policyPath = join(dir, 'policy.yaml');
  writeFileSync(policyPath, testPolicy(issuer));
  const env = { GATEHOUSE_TEST_TARGET_URL: target.url, GATEHOUSE_TEST_MASKING_KEY: TEST_MASKING_KEY };
  const childConfig = {
    stateDir: dir,
    port,
    policyPath,
    sessionStoreUrl: audit.url,
    env,
    maskingKey: 'env://GATEHOUSE_TEST_MASKING_KEY',
    reconcile: { intervalMs: 0, startupLookbackMs: 0 },
  };
  child = await startGatewayChild(childConfig);
  // The result append of session A sleeps in the store: A's write is done and uncommitted, its
  // result on its way to the log, when the gateway dies. Session B is still running its statement.
  await auditAdmin.query(`
    CREATE FUNCTION slow_result() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.type = 'execution.result' THEN PERFORM pg_sleep(2); END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER slow_result BEFORE INSERT ON gatehouse_session_events FOR EACH ROW EXECUTE FUNCTION slow_result();`);
  const key = await loadOrCreateDevKey(dir);
  const token = await mintDevToken(key, { issuer, sub: 'alice@acme.com', aud: TEST_AUDIENCE, ttlSec: 600 });
  const post = (sql: string, params: unknown[]) =>
    fetch(`${child!.url}/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-agent-model': 'test-model' },
      body: JSON.stringify({ connection: 'main', sql, params }),
    }).catch(() => undefined); // the gateway dies under it
  const a = post('INSERT INTO notes VALUES ($1, $2)', [1, 'a']);
  const b = post("INSERT INTO notes SELECT $1, 'b' FROM pg_sleep(1.8)", [2]);
  await until('A in the store, B on the target', async () => {
    const store = await auditAdmin.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'gatehouse-session-log' AND wait_event = 'PgSleep'");
    const tgt = await admin.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'gatehouse' AND wait_event = 'PgSleep'");
    return store.rowCount === 1 && tgt.rowCount === 1;
  });
  await child.kill('SIGKILL');
  await Promise.all([a, b]);
  await sleep(2500); // A's result append finishes in the store after its gateway died

  const { rows: ids } = await auditAdmin.query<{ session_id: string; sql: string }>('SELECT session_id, sql FROM gatehouse_sessions');
  const idA = ids.find((r) => r.sql.startsWith('INSERT INTO notes VALUES'))!.session_id;
  const idB = ids.find((r) => r.sql.includes('pg_sleep'))!.session_id;
  const types = async (id: string) => (await runtimeOrLog().read(id)).map((e) => e.type);
  await auditAdmin.query('DROP TRIGGER slow_result ON gatehouse_session_events; DROP FUNCTION slow_result()');

  // A restarted gateway: its start-up pass closes what the dead one left open.
  runtime = await createRuntime({
    policy: policyPath,
    sessionStore: { kind: 'postgres', url: audit.url },
    env,
    maskingKey: 'env://GATEHOUSE_TEST_MASKING_KEY',
    reconcile: { intervalMs: 0, startupLookbackMs: 3_600_000, graceMs: 0 },
  });
  // (The start-up pass may already have closed them; the checks below hold either way.)
  t.true((await types(idA)).includes('execution.result'), 'A: the result reached the log after the gateway died');
  t.false((await types(idB)).includes('execution.result'), 'B: it died before any result');
  const report = await runtime.reconciler.runOnce(3_600_000);
  t.is(report.errors, 0);

  const eventsA = await runtime.sessions.read(idA);
  const closedA = eventsA.at(-1)!;
  t.is(closedA.type, 'execution.abandoned');
  t.like(closedA.data, { outcome: 'rolled_back', basis: 'target_transaction_status', lastEvent: 'execution.result', readOnly: false });
  t.is(sessionStatus(eventsA), 'rolled_back');
  const eventsB = await runtime.sessions.read(idB);
  t.like(eventsB.at(-1)!.data, { outcome: 'rolled_back', basis: 'protocol', lastEvent: 'execution.started' });
  t.false(eventsA.some((e) => e.type === 'execution.committed') || eventsB.some((e) => e.type === 'execution.committed'));
  // The target agrees: neither write is there.
  t.is((await admin.query('SELECT count(*)::int AS n FROM notes')).rows[0].n, 0);

  // A write whose transaction the target cannot account for (a txid from another cluster): unknown.
  const forged = `forged-${Date.now()}`;
  await runtime.sessions.append(forged, [
    { type: 'request', data: { endpoint: 'query', connection: 'main', sql: 'DELETE FROM notes', params: [] } },
    { type: 'analysis', data: { kind: 'delete', class: 'write', reasons: [] } },
    { type: 'decision', data: { action: 'allow', rule: 'writes', reasons: [] } },
    ev.executionStartedEvent({ connection: 'main', readOnly: false, maxRows: 10, statementTimeoutMs: 100 }),
    { type: 'execution.result', data: { command: 'DELETE', rowCount: 3, txid: '999999999999' } },
  ]);
  await sleep(200);
  await runtime.reconciler.runOnce(3_600_000);
  const forgedEvents = await runtime.sessions.read(forged);
  t.like(forgedEvents.at(-1)!.data, { outcome: 'unknown' });
  t.is(sessionStatus(forgedEvents), 'unknown');

  // A second pass changes nothing: closed sessions stay closed, once.
  const again = await runtime.reconciler.runOnce(3_600_000);
  t.is(again.closedSessions.length, 0);
  t.is((await runtime.sessions.read(idA)).filter((e) => e.type === 'execution.abandoned').length, 1);

  // Evidence: verify lists the unknown outcome as its own category, and the CSV says so.
  const out = join(dir, 'evidence');
  await exportEvidence(runtime.sessions, { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000), out, source: 'test' });
  const verified = await verifyEvidence(out);
  t.true(verified.ok, JSON.stringify(verified.problems));
  t.is(verified.outcomes?.unknown, 1);
  t.is(verified.outcomes?.rolledBack, 2);
  const csv = readFileSync(join(out, 'population.csv'), 'utf8');
  const forgedRow = csv.split('\n').find((l) => l.includes(forged))!;
  t.true(forgedRow.includes(',unknown,'), forgedRow);
});

function runtimeOrLog() {
  if (!runtime) throw new Error('no runtime yet');
  return runtime.sessions;
}
