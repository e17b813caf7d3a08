// GET /healthz (the process answers, and which version) and GET /readyz (every dependency a query
// needs: the policy, a writable session log, each connection), with the session store and the
// target cut in turn. A probe must name what is down and never how to reach it.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import test from 'ava';
import pg from 'pg';
import { postgresSessionLogCheck, readiness } from '../../infra/readiness.ts';
import { createTestDatabase, testPgKind } from '../helpers/pg.ts';
import { DB_PASSWORD_MARKER, startOpsGateway, type OpsGateway } from './fixture.ts';

let gw: OpsGateway;
test.before(async () => {
  gw = await startOpsGateway();
});
test.after.always(async () => {
  await gw?.close();
});

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

async function get(path: string, method = 'GET') {
  const res = await fetch(`${gw.url}${path}`, { method });
  const text = await res.text();
  return { status: res.status, text, body: text ? (JSON.parse(text) as any) : undefined };
}

function noSecrets(t: import('ava').ExecutionContext, text: string) {
  t.false(text.includes(DB_PASSWORD_MARKER), 'a password leaked');
  t.notRegex(text, /postgres(ql)?:\/\//, 'a connection URL leaked');
  t.notRegex(text, /127\.0\.0\.1:\d+/, 'an address leaked');
}

test.serial('/healthz: 200 with the version of package.json', async (t) => {
  const r = await get('/healthz');
  t.is(r.status, 200);
  t.deepEqual(r.body, { status: 'ok', version });
});

test.serial('/healthz and /readyz refuse other methods', async (t) => {
  t.is((await get('/healthz', 'POST')).status, 405);
  t.is((await get('/readyz', 'DELETE')).status, 405);
});

test.serial('/readyz: 200 when everything is up, each dependency listed', async (t) => {
  const r = await get('/readyz');
  t.is(r.status, 200, r.text);
  t.is(r.body.status, 'ready');
  t.deepEqual(Object.keys(r.body.checks).sort(), ['connection:main', 'policy', 'sessionLog']);
  for (const c of Object.values<any>(r.body.checks)) t.is(c.status, 'up');
  noSecrets(t, r.text);
});

test.serial('/readyz: 503 naming sessionLog when the session store is unreachable, and ready again when it is back', async (t) => {
  await gw.sessionProxy.close();
  try {
    const r = await get('/readyz');
    t.is(r.status, 503, r.text);
    t.is(r.body.status, 'not_ready');
    t.deepEqual(r.body.down, ['sessionLog']);
    t.is(r.body.checks.sessionLog.status, 'down');
    t.is(typeof r.body.checks.sessionLog.code, 'string');
    t.is(r.body.checks['connection:main'].status, 'up');
    noSecrets(t, r.text);
    // and /healthz still says the process itself is fine
    t.is((await get('/healthz')).status, 200);
    // a query now runs nothing: the log cannot be written
    const q = await gw.query('SELECT 1');
    t.is(q.status, 503);
  } finally {
    await gw.sessionProxy.open();
  }
  t.is((await get('/readyz')).status, 200);
});

test.serial('/readyz: 503 naming the connection when the target database is unreachable', async (t) => {
  await gw.targetProxy.close();
  try {
    const r = await get('/readyz');
    t.is(r.status, 503, r.text);
    t.deepEqual(r.body.down, ['connection:main']);
    t.is(r.body.checks.sessionLog.status, 'up');
    noSecrets(t, r.text);
  } finally {
    await gw.targetProxy.open();
  }
  t.is((await get('/readyz')).status, 200);
});

test.serial('/readyz: 503 when the session log is reachable but not writable (a role that may only read it)', async (t) => {
  if (testPgKind === 'pglite') return t.pass('PGlite has no roles to refuse anything');
  const db = await createTestDatabase();
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  const role = `ro_${randomBytes(4).toString('hex')}`;
  try {
    await admin.query('CREATE TABLE gatehouse_sessions (session_id text); CREATE TABLE gatehouse_session_events (session_id text)');
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${DB_PASSWORD_MARKER}'`);
    await admin.query(`GRANT SELECT ON gatehouse_sessions, gatehouse_session_events TO ${role}`);
    const readOnly = Object.assign(new URL(db.url), { username: role, password: DB_PASSWORD_MARKER }).toString();
    const r = await readiness([postgresSessionLogCheck(readOnly)]);
    t.is(r.status, 503);
    t.like(r.body, { status: 'not_ready', down: ['sessionLog'], checks: { sessionLog: { status: 'down', code: 'not_writable' } } });
    noSecrets(t, JSON.stringify(r.body));
    // the same check through a role that may insert: up
    t.is((await readiness([postgresSessionLogCheck(db.url)])).status, 200);
  } finally {
    await admin.query(`DROP OWNED BY ${role}`).catch(() => {});
    await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
    await admin.end();
    await db.drop();
  }
});

test.serial('/readyz: a dependency that hangs is down after the check timeout, not a hung probe', async (t) => {
  const r = await readiness([{ name: 'stuck', run: () => new Promise<void>(() => {}) }, { name: 'fine', run: async () => {} }]);
  t.is(r.status, 503);
  t.like(r.body, { down: ['stuck'], checks: { stuck: { status: 'down', code: 'timeout' }, fine: { status: 'up' } } });
});

test.serial('/readyz: a failing check reports a code, never its message', async (t) => {
  const r = await readiness([{ name: 'x', run: async () => Promise.reject(new Error(`password ${DB_PASSWORD_MARKER} rejected`)) }]);
  t.like(r.body, { checks: { x: { status: 'down', code: 'unavailable' } } });
  t.false(JSON.stringify(r.body).includes(DB_PASSWORD_MARKER));
});
