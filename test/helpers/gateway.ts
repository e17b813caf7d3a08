// A whole gateway for end-to-end tests: the local server with the query and approvals routes, a
// dev issuer of its own (a temp key), the session log, the approval store and the target in their
// own real PostgreSQL databases.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createRuntime, type ApprovalStoreConfig, type NotifierConfig, type Runtime, type RuntimeConfig, type WebhookConfig } from '../../shared/config.ts';
import { queryHandler } from '../../functions/query.ts';
import { approvalsHandler } from '../../functions/approvals.ts';
import { startEmbeddedPostgres } from '../../infra/embedded-postgres.ts';
import { devIssuerRoutes, loadOrCreateDevKey, mintDevToken } from '../../infra/dev-issuer.ts';
import { freePort } from '../../infra/free-port.ts';
import { startLocalServer } from '../../infra/local-server.ts';
import { createTestDatabase, testPgKind, type TestDatabase } from './pg.ts';

export const TEST_AUDIENCE = 'gatehouse-test';
/** A fixed masking key for tests: pseudonyms are then reproducible across runs. */
export const TEST_MASKING_KEY = Buffer.alloc(32, 7).toString('base64');
/** The approval desk's vote-signing key in these tests (a fresh P-256 key per process). */
export const TEST_SIGNING_KEY = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

export function testPolicy(issuer: string, extra = ''): string {
  return `version: 1
issuers:
  - issuer: ${issuer}
    audience: ${TEST_AUDIENCE}
    jwksUri: ${issuer}/jwks.json
    groupsClaim: groups
groups:
  review-bots: [review-bot@acme-prod.iam.gserviceaccount.com]
  dba: [alice@acme.com]
  auditors: [carol@acme.com]
connections:
  main:
    credentials: env://GATEHOUSE_TEST_TARGET_URL
    maxRows: 100
    statementTimeoutMs: 2000
rules:
  - name: bots-read
    principals: [group:review-bots]
    classes: [read]
    action: allow
  - name: dba-everything
    principals: [group:dba]
    action: allow
  - name: nothing-else
    action: deny
agents:
  requireModel: true
  allowedModels: ["gemini-*", "test-model"]
${extra}`;
}

/** A policy (testPolicy's) with a rule that holds the bots' writes for a DBA's approval. */
export function withBotWriteApproval(policy: string, options: { ttl?: string } = {}): string {
  const rule = `  - name: bots-write
    principals: [group:review-bots]
    classes: [write]
    action: approve
    approvers: [group:dba]
${options.ttl ? `    ttl: ${options.ttl}\n` : ''}`;
  if (!policy.includes('  - name: dba-everything')) throw new Error('withBotWriteApproval: no dba-everything rule to insert before');
  return policy.replace('  - name: dba-everything', `${rule}  - name: dba-everything`);
}

export interface TestGateway {
  readonly url: string;
  readonly issuer: string;
  readonly runtime: Runtime;
  readonly target: TestDatabase;
  readonly audit: TestDatabase;
  /** The approval store's database. */
  readonly state: TestDatabase;
  readonly policyPath: string;
  token(sub: string, opts?: { groups?: string[]; aud?: string; ttlSec?: number; now?: Date; email?: string }): Promise<string>;
  sql(text: string, params?: unknown[]): Promise<pg.QueryResult>;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; body: any }>;
  get(path: string, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; body: any }>;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  readonly seedSql?: string;
  readonly policy?: (issuer: string) => string;
  /** The approvals' clock (expiry); tokens keep the real one. */
  readonly clock?: () => Date;
  /** Default: the local notifier, silent. */
  readonly notifier?: NotifierConfig;
  /** Default 0: no republish timer (tests call runOnce when they mean it). */
  readonly republishIntervalMs?: number;
  readonly backoffMs?: (attempts: number) => number;
  /** Webhooks for the local notifier, as references resolved from `env`. */
  readonly webhooks?: WebhookConfig;
  readonly env?: Readonly<Record<string, string>>;
  /**
   * The role the gateway's target connection logs in as (created by `seedSql`); default the
   * cluster's superuser. Seeding and `sql()` stay superuser.
   */
  readonly targetRole?: string;
  /** Default: a PostgreSQL approval store in its own database. */
  readonly approvalStore?: ApprovalStoreConfig;
  /** The approval desk's key reference; default TEST_SIGNING_KEY through env://. */
  readonly signingKey?: string;
  readonly kmsClientOptions?: Record<string, unknown>;
  /** The session log's server-side statement bound (default the adapter's, 10 s). */
  readonly storeStatementTimeoutMs?: number;
  /** The URL the session log connects to, given its database's (e.g. through a TCP proxy); default that URL. */
  readonly storeUrl?: (url: string) => Promise<string>;
  /** Target pool and its bounded queue (pool_exhausted beyond it). */
  readonly targetPoolSize?: number;
  readonly targetMaxQueue?: number;
  readonly targetQueueTimeoutMs?: number;
  /** The process-wide budget of result bytes in flight (result_budget_exhausted beyond it). */
  readonly resultBudget?: RuntimeConfig['resultBudget'];
  /** Default: no timer, no start-up pass (tests call runtime.reconciler.runOnce when they mean it). */
  readonly reconcile?: RuntimeConfig['reconcile'];
}

/**
 * The dev issuer's keys fetched with a generous bound. The verifier's own 5 s bound, followed by
 * its 30 s refresh cooldown, turned one slow loopback fetch on a loaded machine into a whole file
 * of dependency_unavailable (a clean-clone run here, load average 24). The bound and the cooldown
 * are the identity suites' subject (test/identity/), not these end-to-end ones'.
 */
const patientFetch: typeof fetch = (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(60_000) });

export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-'));
  const target = await createTestDatabase();
  const audit = await createTestDatabase();
  const state = await approvalStateDatabase(dir);
  const admin = new pg.Pool({ connectionString: target.url, max: 2 });
  admin.on('error', () => {}); // a dropped test database ends idle connections: not a test failure
  if (options.seedSql) await admin.query(options.seedSql);
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}/dev`;
  const policyPath = join(dir, 'policy.yaml');
  writeFileSync(policyPath, (options.policy ?? testPolicy)(issuer));
  const key = await loadOrCreateDevKey(dir);
  const runtime = await createRuntime({
    policy: policyPath,
    sessionStore: { kind: 'postgres', url: options.storeUrl ? await options.storeUrl(audit.url) : audit.url, statementTimeoutMs: options.storeStatementTimeoutMs },
    env: { ...options.env, GATEHOUSE_TEST_TARGET_URL: asRole(target.url, options.targetRole), GATEHOUSE_TEST_MASKING_KEY: TEST_MASKING_KEY, GATEHOUSE_TEST_SIGNING_KEY: TEST_SIGNING_KEY },
    targetPoolSize: options.targetPoolSize,
    targetMaxQueue: options.targetMaxQueue,
    targetQueueTimeoutMs: options.targetQueueTimeoutMs,
    resultBudget: options.resultBudget,
    reconcile: options.reconcile ?? { intervalMs: 0, startupLookbackMs: 0 },
    maskingKey: 'env://GATEHOUSE_TEST_MASKING_KEY',
    clock: options.clock,
    jwksFetch: patientFetch,
    approvals: {
      store: options.approvalStore ?? { kind: 'postgres', url: state.url },
      notifier: options.notifier ?? { kind: 'local', log: () => {} },
      publicUrl: `http://127.0.0.1:${port}`,
      republishIntervalMs: options.republishIntervalMs ?? 0,
      backoffMs: options.backoffMs,
      webhooks: options.webhooks,
      log: () => {},
      signingKey: options.signingKey ?? 'env://GATEHOUSE_TEST_SIGNING_KEY',
      kmsClientOptions: options.kmsClientOptions,
    },
  });
  const server = await startLocalServer({
    host: '127.0.0.1',
    port,
    routes: [
      { prefix: '/v1/approvals', handler: approvalsHandler(runtime.approvals!.desk) },
      { prefix: '/v1/', handler: queryHandler(runtime.gateway) },
    ],
    raw: [devIssuerRoutes(key, issuer)],
  });
  return {
    url: server.url,
    issuer,
    runtime,
    target,
    audit,
    state,
    policyPath,
    token: (sub, o = {}) => mintDevToken(key, { issuer, sub, groups: o.groups, aud: o.aud ?? TEST_AUDIENCE, ttlSec: o.ttlSec ?? 600, now: o.now, email: o.email }),
    sql: (text, params) => admin.query(text, params),
    async post(path, body, headers = {}) {
      const res = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: res.status, headers: res.headers, body: await res.json() };
    },
    async get(path, headers = {}) {
      const res = await fetch(`${server.url}${path}`, { headers });
      return { status: res.status, headers: res.headers, body: await res.json() };
    },
    async close() {
      await server.close();
      await runtime.close();
      await admin.end();
      await target.drop();
      await audit.drop();
      await state.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function asRole(url: string, role: string | undefined): string {
  if (role === undefined) return url;
  const u = new URL(url);
  u.username = role;
  u.password = '';
  return u.toString();
}

/**
 * A database for the approval store. On the PGlite fallback every test database is the same
 * single-session PGlite, where an approval update (which appends to the session log while it
 * holds its transaction) would wait for itself: the store gets a PGlite of its own there.
 */
async function approvalStateDatabase(dir: string): Promise<TestDatabase> {
  if (testPgKind !== 'pglite') return createTestDatabase();
  const server = await startEmbeddedPostgres({ dataDir: join(dir, 'state-db'), maxConnections: 20 });
  return { url: server.url, name: 'postgres', drop: () => server.stop() };
}
