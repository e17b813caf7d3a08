// The deployed shape, locally (issue 5, "End to end"): the three functions (`query`, `approvals`,
// `notify`) each in a Functions Framework child process of its own, configured only from the
// environment (shared/config.ts configFromEnv / notifyConfigFromEnv) as on Cloud Run functions;
// the session log and the approval store in two databases of Google's Firestore emulator; approval
// requests published to Google's Pub/Sub emulator, which pushes them to the notify function; the
// target database URL (and the webhook URL) held by the Secret Manager test server
// (test/helpers/secret-manager-server.ts) as `secret://…` references; tokens from a test JWKS
// issuer served here. A bot reads (200), is denied a DROP TABLE (403), asks for a write (202),
// an approver approves it through the approvals function (200), the bot redeems it (200), the
// notify function posts the request to the webhook; then the session log is read back from the
// Firestore emulator and every session's hash chain is verified.
//
// One thing the deployed configuration cannot express: the Secret Manager endpoint. configFromEnv
// gives createSecretSource no client options, and the client library reads no environment variable
// for its endpoint, so each child process preloads test/helpers/secret-manager-endpoint.ts, which
// points the library's client class at the test server (see that file).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import pg from 'pg';
import type { PubSub } from '@google-cloud/pubsub';
import { devIssuerRoutes, loadOrCreateDevKey, mintDevToken, type DevIssuerKey } from '../../infra/dev-issuer.ts';
import { freePort } from '../../infra/free-port.ts';
import { startLocalServer } from '../../infra/local-server.ts';
import { verifyChain } from '../../shared/audit/chain.ts';
import { createFirestoreSessionLog } from '../../shared/adapters/firestore/index.ts';
import type { SessionLog } from '../../shared/ports.ts';
import { testPolicy, withBotWriteApproval, TEST_AUDIENCE, TEST_MASKING_KEY, TEST_SIGNING_KEY } from '../helpers/gateway.ts';
import { startFunctionProcess, stopFunctionProcesses, type FunctionProcess } from '../helpers/function-process.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';
import { startSecretManagerServer, type SecretManagerServer } from '../helpers/secret-manager-server.ts';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.ts';

const SUITE = 'deployed shape (test/functions/deployed-shape.e2e.test.ts)';
const ROOT = new URL('../../', import.meta.url).pathname;
const ENDPOINT_SHIM = join(ROOT, 'test/helpers/secret-manager-endpoint.ts');
const PROJECT = 'gatehouse-test';
const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const APPROVER = 'alice@acme.com';
const model = { 'x-agent-model': 'gemini-2.5-pro-002' };

const pubsubHost = process.env.GATEHOUSE_TEST_PUBSUB_HOST || undefined;
const firestoreHost = process.env.GATEHOUSE_TEST_FIRESTORE_HOST || undefined;
const missing = [
  ...(process.env.GATEHOUSE_TEST_PG_URL ? [] : ['PostgreSQL (GATEHOUSE_TEST_PG_URL is not set: run with `npm test`)']),
  ...(pubsubHost ? [] : [`the Pub/Sub emulator (${process.env.GATEHOUSE_TEST_PUBSUB_MISSING ?? 'GATEHOUSE_TEST_PUBSUB_HOST is not set: run with `npm test`'})`]),
  ...(firestoreHost ? [] : ['the Firestore emulator (GATEHOUSE_TEST_FIRESTORE_HOST is not set: not installed, or not run with `npm test`)']),
];

if (missing.length > 0) {
  const reason = `${SUITE}: SKIPPED — missing ${missing.join('; ')}`;
  console.error(`\n${'!'.repeat(100)}\n!!! ${reason}\n${'!'.repeat(100)}\n`);
  test.skip(reason, () => {});
} else {
  registerTests(pubsubHost!, firestoreHost!);
}

function registerTests(pubsub: string, firestore: string): void {
  const run = randomBytes(5).toString('hex');
  const AUDIT_DB = `deployed-audit-${run}`;
  const STATE_DB = `deployed-state-${run}`;
  const TOPIC = `deployed-approvals-${run}`;
  const DB_SECRET = `projects/${PROJECT}/secrets/target-db-url-${run}/versions/latest`;
  const HOOK_SECRET = `projects/${PROJECT}/secrets/approvals-webhook-${run}/versions/latest`;

  const closers: (() => Promise<unknown>)[] = [];
  const children: FunctionProcess[] = [];
  let dir: string;
  let key: DevIssuerKey;
  let issuer: string;
  let target: TestDatabase;
  let admin: pg.Pool;
  let secrets: SecretManagerServer;
  let hook: Receiver;
  let pubsubAdmin: PubSub;
  let fns: Record<'query' | 'approvals' | 'notify', FunctionProcess>;

  const token = (sub: string) => mintDevToken(key, { issuer, sub, aud: TEST_AUDIENCE, ttlSec: 600 });

  async function startFunction(target: 'query' | 'approvals' | 'notify', env: NodeJS.ProcessEnv, port?: number): Promise<FunctionProcess> {
    const fn = await startFunctionProcess({
      target,
      source: join(ROOT, 'functions/index.ts'),
      cwd: ROOT,
      env,
      port,
      nodeArgs: ['--import', 'tsx', '--import', ENDPOINT_SHIM],
      signatureType: target === 'notify' ? 'cloudevent' : 'http',
    });
    children.push(fn);
    return fn;
  }

  test.before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-deployed-'));
    closers.push(async () => rmSync(dir, { recursive: true, force: true }));

    // The target: a real PostgreSQL database.
    target = await createTestDatabase();
    closers.push(() => target.drop());
    admin = new pg.Pool({ connectionString: target.url, max: 2 });
    admin.on('error', () => {});
    closers.push(() => admin.end());
    await admin.query(`CREATE TABLE orders (id int PRIMARY KEY, total numeric(10,2) NOT NULL);
      INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 5) g;
      CREATE TABLE notes (id int PRIMARY KEY, body text)`);

    // Secret Manager: the database URL and the webhook URL, as `secret://` references.
    secrets = await startSecretManagerServer();
    closers.push(() => secrets.close());
    hook = await startReceiver();
    closers.push(() => hook.close());
    secrets.versions.set(DB_SECRET, { data: `${target.url}\n` });
    secrets.versions.set(HOOK_SECRET, { data: hook.url });

    // The test issuer: a JWKS over HTTP, tokens minted with its key.
    const issuerPort = await freePort();
    issuer = `http://127.0.0.1:${issuerPort}/dev`;
    key = await loadOrCreateDevKey(dir);
    const issuerServer = await startLocalServer({ host: '127.0.0.1', port: issuerPort, routes: [], raw: [devIssuerRoutes(key, issuer)] });
    closers.push(() => issuerServer.close());

    const policyPath = join(dir, 'policy.yaml');
    writeFileSync(
      policyPath,
      withBotWriteApproval(testPolicy(issuer).replace('credentials: env://GATEHOUSE_TEST_TARGET_URL', `credentials: secret://${DB_SECRET}`), { ttl: '10m' }),
    );

    // Pub/Sub: the topic the query function publishes approval requests to, pushed to notify.
    const { PubSub } = await import('@google-cloud/pubsub');
    pubsubAdmin = new PubSub({ projectId: PROJECT, apiEndpoint: pubsub });
    closers.push(() => pubsubAdmin.close());
    const [topic] = await pubsubAdmin.createTopic(TOPIC);

    // Only what the deployment's environment would hold; nothing of this process's env leaks in
    // but PATH/HOME-like basics (no GATEHOUSE_TEST_* besides the shim's port).
    const base: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      METADATA_SERVER_DETECTION: 'none',
      FIRESTORE_EMULATOR_HOST: firestore,
      PUBSUB_EMULATOR_HOST: pubsub,
      GOOGLE_CLOUD_PROJECT: PROJECT,
      GATEHOUSE_TEST_SECRET_MANAGER_PORT: String(secrets.clientOptions.port),
      GATEHOUSE_APPROVAL_STORE: 'firestore',
      GATEHOUSE_FIRESTORE_PROJECT: PROJECT,
      GATEHOUSE_STATE_DATABASE: STATE_DB,
    };
    const approvalsPort = await freePort();
    const gatewayEnv: NodeJS.ProcessEnv = {
      ...base,
      GATEHOUSE_POLICY: policyPath,
      GATEHOUSE_SESSION_STORE: 'firestore',
      GATEHOUSE_AUDIT_DATABASE: AUDIT_DB,
      GATEHOUSE_PUBSUB_TOPIC: `projects/${PROJECT}/topics/${TOPIC}`,
      GATEHOUSE_PUBLIC_URL: `http://127.0.0.1:${approvalsPort}`,
      GATEHOUSE_MASKING_KEY: 'env://GATEHOUSE_MASKING_KEY_VALUE',
      GATEHOUSE_MASKING_KEY_VALUE: TEST_MASKING_KEY,
      GATEHOUSE_APPROVAL_SIGNING_KEY: 'env://GATEHOUSE_APPROVAL_SIGNING_KEY_VALUE',
      GATEHOUSE_APPROVAL_SIGNING_KEY_VALUE: TEST_SIGNING_KEY,
    };
    const [query, approvals, notify] = await Promise.all([
      startFunction('query', gatewayEnv),
      // On the port GATEHOUSE_PUBLIC_URL names: review links point at the approvals function.
      startFunction('approvals', gatewayEnv, approvalsPort),
      startFunction('notify', { ...base, GATEHOUSE_WEBHOOK_URL: `secret://${HOOK_SECRET}` }),
    ]);
    fns = { query: query!, approvals: approvals!, notify: notify! };
    // Eventarc's push, as the Functions Framework reads it: the topic in the push path.
    await topic.createSubscription(`${TOPIC}-push`, {
      pushConfig: { pushEndpoint: `${fns.notify.url}/projects/${PROJECT}/topics/${TOPIC}` },
      ackDeadlineSeconds: 10,
    });
  });

  test.after.always(async () => {
    await stopFunctionProcesses(children);
    for (const close of closers.reverse()) await close().catch(() => {});
  });

  async function call(fn: FunctionProcess, path: string, body: unknown, headers: Record<string, string>) {
    const res = await fetch(`${fn.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const text = await res.text();
    let parsed: any;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed };
  }
  const asBot = async (body: unknown) => call(fns.query, '/v1/query', body, { authorization: `Bearer ${await token(BOT)}`, ...model });
  const explain = (r: { status: number; body: unknown }, fn: FunctionProcess) => `${r.status} ${JSON.stringify(r.body)}\n--- ${fn.target} output ---\n${fn.output().slice(-3000)}`;

  test.serial('a read, a denied DDL, an approval round trip, and the session log read back and verified', async (t) => {
    t.timeout(120_000);

    // A read: the credentials come from Secret Manager, the session goes to Firestore.
    const read = await asBot({ connection: 'main', sql: 'SELECT id, total FROM orders WHERE id <= $1 ORDER BY id', params: [2] });
    t.is(read.status, 200, explain(read, fns.query));
    t.is(read.body.status, 'executed');
    t.deepEqual(read.body.rows, [[1, '1.50'], [2, '3.00']]);
    t.true(secrets.calls.includes(DB_SECRET), 'the database URL was read from the Secret Manager test server');

    // DDL: denied by policy, nothing run.
    const ddl = await asBot({ connection: 'main', sql: 'DROP TABLE orders' });
    t.is(ddl.status, 403, explain(ddl, fns.query));
    t.is(Number((await admin.query(`SELECT count(*) AS n FROM orders`)).rows[0].n), 5, 'the table is still there');

    // A write: held for approval (202), stored in the Firestore state database, published.
    const sql = 'INSERT INTO notes VALUES ($1, $2)';
    const params = [1, 'approved through the functions'];
    const held = await asBot({ connection: 'main', sql, params });
    t.is(held.status, 202, explain(held, fns.query));
    t.is(held.body.status, 'pending_approval');
    const approvalId: string = held.body.approval.id;
    t.is(Number((await admin.query('SELECT count(*) AS n FROM notes')).rows[0].n), 0, 'nothing runs before the approval');

    // Pub/Sub → push → the notify function → the webhook (its URL from Secret Manager too).
    const deadline = Date.now() + 60_000;
    while (!hook.posts.some((p) => p.approvalId === approvalId)) {
      if (Date.now() > deadline) t.fail(`the webhook got no post for ${approvalId}\n--- notify output ---\n${fns.notify.output().slice(-3000)}`);
      if (Date.now() > deadline) return;
      await sleep(100);
    }
    const posted = hook.posts.find((p) => p.approvalId === approvalId)!;
    t.like(posted.body, { approvalId, sessionId: held.body.sessionId, sql });
    t.true(secrets.calls.includes(HOOK_SECRET), 'the webhook URL was read from the Secret Manager test server');

    // The approver approves through the approvals function (its own process, same Firestore store).
    const approved = await call(fns.approvals, `/v1/approvals/${approvalId}/approve`, { comment: 'checked' }, { authorization: `Bearer ${await token(APPROVER)}` });
    t.is(approved.status, 200, explain(approved, fns.approvals));

    // The bot redeems it: the write runs once.
    const redeemed = await asBot({ connection: 'main', sql, params, approvalId });
    t.is(redeemed.status, 200, explain(redeemed, fns.query));
    t.is(redeemed.body.status, 'executed');
    t.deepEqual((await admin.query('SELECT id, body FROM notes')).rows, [{ id: 1, body: params[1] }]);
    const again = await asBot({ connection: 'main', sql, params, approvalId });
    t.not(again.status, 200, 'an approval is single-use');

    // The session log, read back from the Firestore emulator by a client of this process.
    const sessionIds = [read.body.sessionId, ddl.body.sessionId, held.body.sessionId, redeemed.body.sessionId] as string[];
    t.true(sessionIds.every((id) => typeof id === 'string' && id.length > 0), JSON.stringify(sessionIds));
    process.env.FIRESTORE_EMULATOR_HOST = firestore;
    let log: SessionLog | undefined;
    try {
      log = await createFirestoreSessionLog({ projectId: PROJECT, databaseId: AUDIT_DB });
      const listed = await log.list({ limit: 100 });
      for (const id of sessionIds) t.true(listed.some((s) => s.sessionId === id), `session ${id} is listed`);
      t.true(listed.some((s) => s.subject === BOT), 'sessions name the bot');
      for (const s of listed) {
        const events = await log.read(s.sessionId);
        t.true(events.length > 0, `session ${s.sessionId} has events`);
        t.deepEqual(verifyChain(s.sessionId, events), [], `session ${s.sessionId} chain verifies`);
      }
      const types = async (id: string) => (await log!.read(id)).map((e) => e.type);
      const readTypes = await types(read.body.sessionId);
      t.deepEqual(readTypes.slice(0, 3), ['request', 'analysis', 'decision'], `read session: ${readTypes.join(', ')}`);
      t.true(readTypes.includes('execution.result'), `read session: ${readTypes.join(', ')}`);
      const ddlTypes = await types(ddl.body.sessionId);
      t.deepEqual(ddlTypes.slice(0, 3), ['request', 'analysis', 'decision'], `denied session: ${ddlTypes.join(', ')}`);
      const ddlDecision = (await log.read(ddl.body.sessionId)).find((e) => e.type === 'decision')!;
      t.like(ddlDecision.data as object, { action: 'deny' });
      const heldTypes = await types(held.body.sessionId);
      t.deepEqual(heldTypes.slice(0, 4), ['request', 'analysis', 'decision', 'approval.requested'], `held session: ${heldTypes.join(', ')}`);
      t.true(heldTypes.includes('approval.granted'), `the approval is recorded in the requesting session: ${heldTypes.join(', ')}`);
      const redeemedEvents = await log.read(redeemed.body.sessionId);
      t.true(redeemedEvents.some((e) => e.type === 'execution.result'), 'the redeemed write ran');
      t.true(JSON.stringify(redeemedEvents).includes(approvalId), 'the redeeming session names the approval');
      // No secret value in any event.
      const all = JSON.stringify(await Promise.all(listed.map((s) => log!.read(s.sessionId))));
      t.false(all.includes(target.url), 'the database URL is in no session event');
      t.false(all.includes(hook.url), 'the webhook URL is in no session event');
      t.log(`${listed.length} sessions read back from Firestore (${AUDIT_DB}), every chain verified`);
    } finally {
      await log?.close();
      delete process.env.FIRESTORE_EMULATOR_HOST;
    }
  });

  test.serial('the deployed query function writes one Cloud Logging line per request, with the trace, and no SQL', async (t) => {
    const trace = '0af7651916cd43dd8448eb211c80319c';
    const before = fns.query.output().length;
    const r = await call(fns.query, '/v1/query', { connection: 'main', sql: "SELECT id FROM orders WHERE total > 1.25 AND 'marker-7f3e' <> ''" }, {
      authorization: `Bearer ${await token(BOT)}`,
      ...model,
      traceparent: `00-${trace}-b7ad6b7169203331-01`,
    });
    t.is(r.status, 200, explain(r, fns.query));
    let lines: any[] = [];
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((res) => setTimeout(res, 50))) {
      lines = fns.query.output().slice(before).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
      if (lines.some((l) => l.httpRequest)) break;
    }
    const line = lines.find((l) => l.httpRequest?.requestUrl === '/v1/query');
    t.like(line, { severity: 'INFO', httpRequest: { requestMethod: 'POST', status: 200 }, sessionId: r.body.sessionId, subject: BOT, decision: 'allow' });
    t.true(String(line['logging.googleapis.com/trace']).endsWith(trace));
    t.false(fns.query.output().slice(before).includes('marker-7f3e'), 'no SQL text in the function output');
  });
}
