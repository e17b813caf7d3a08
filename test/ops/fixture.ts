// A gateway as `gatehouse start` serves it — health routes, readiness checks, one log line per
// request, graceful shutdown — on the test cluster's real PostgreSQL, with the session store and
// the target each behind a TCP proxy a test can cut. Log lines go to a stream the test reads.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import { createRuntime, type Runtime } from '../../shared/config.ts';
import { queryHandler } from '../../functions/query.ts';
import { createLogger } from '../../functions/request-log.ts';
import { devIssuerRoutes, loadOrCreateDevKey, mintDevToken } from '../../infra/dev-issuer.ts';
import { freePort } from '../../infra/free-port.ts';
import { startLocalServer, type LocalServer } from '../../infra/local-server.ts';
import { connectionChecks, healthHandler, policyCheck, postgresSessionLogCheck, readyHandler } from '../../infra/readiness.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';
import { tcpProxy, type TcpProxy } from '../helpers/tcp-proxy.ts';
import { TEST_AUDIENCE, TEST_MASKING_KEY } from '../helpers/gateway.ts';

export const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
/** May also run `unknown` statements (pg_sleep), to hold a request in flight. */
export const SLOW_BOT = 'slow-bot@acme-prod.iam.gserviceaccount.com';

/** PII the seed holds: none of it may ever appear in a log line. */
export const PII = {
  email: 'ada.lovelace@example.org',
  ssn: '078-05-1120',
  card: '4111111111111111',
  phone: '+44 20 7946 0958',
} as const;

export const DB_PASSWORD_MARKER = 'not-a-real-password-9f2c';

function policy(issuer: string): string {
  return `version: 1
issuers:
  - issuer: ${issuer}
    audience: ${TEST_AUDIENCE}
    jwksUri: ${issuer}/jwks.json
groups:
  review-bots: [${BOT}]
  slow-bots: [${SLOW_BOT}]
connections:
  main:
    credentials: env://OPS_TARGET_URL
    maxRows: 100
    statementTimeoutMs: 5000
rules:
  - name: slow-bots-anything
    principals: [group:slow-bots]
    classes: [read, unknown]
    action: allow
  - name: bots-read
    principals: [group:review-bots]
    classes: [read]
    action: allow
  - name: nothing-else
    action: deny
masking:
  columns:
    public.customers.email: email
    public.customers.ssn: redact
    public.customers.card_number: last4
  derived: mask
  detectors: [email, card, ssn, phone, iban, secret]
agents:
  requireModel: true
  allowedModels: ["test-model"]
`;
}

export interface OpsGateway {
  readonly url: string;
  readonly server: LocalServer;
  readonly runtime: Runtime;
  readonly sessionProxy: TcpProxy;
  readonly targetProxy: TcpProxy;
  /** Everything the logger wrote so far. */
  logText(): string;
  /** The log, one parsed JSON object per line. */
  lines(): Record<string, any>[];
  token(sub: string): Promise<string>;
  query(sql: string, headers?: Record<string, string>, sub?: string, params?: unknown[]): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

const proxied = (url: string, port: number) => Object.assign(new URL(url), { hostname: '127.0.0.1', port: String(port) }).toString();

export async function startOpsGateway(): Promise<OpsGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-ops-'));
  const target = await createTestDatabase();
  const audit = await createTestDatabase();
  const admin = new pg.Client({ connectionString: target.url });
  await admin.connect();
  await admin.query(`CREATE TABLE customers (id int PRIMARY KEY, name text, email text, ssn text, card_number text, phone text)`);
  await admin.query(`INSERT INTO customers VALUES (1, 'Ada', $1, $2, $3, $4)`, [PII.email, PII.ssn, PII.card, PII.phone]);
  await admin.end();

  const [sessionPort, targetPort, port] = [await freePort(), await freePort(), await freePort()];
  const sessionProxy = tcpProxy(sessionPort, hostPort(audit));
  const targetProxy = tcpProxy(targetPort, hostPort(target));
  await sessionProxy.open();
  await targetProxy.open();
  // A password in the URL (ignored by trust auth, or the cluster's own) that must never be echoed.
  const withMarker = (u: string) => Object.assign(new URL(u), { password: new URL(u).password || DB_PASSWORD_MARKER }).toString();
  const sessionUrl = withMarker(proxied(audit.url, sessionPort));
  const targetUrl = withMarker(proxied(target.url, targetPort));

  const issuer = `http://127.0.0.1:${port}/dev`;
  const policyPath = join(dir, 'policy.yaml');
  writeFileSync(policyPath, policy(issuer));
  const key = await loadOrCreateDevKey(dir);
  const runtime = await createRuntime({
    policy: policyPath,
    sessionStore: { kind: 'postgres', url: sessionUrl },
    env: { OPS_TARGET_URL: targetUrl, OPS_MASKING_KEY: TEST_MASKING_KEY },
    maskingKey: 'env://OPS_MASKING_KEY',
  });
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (d: Buffer) => (text += d.toString()));
  const logger = await createLogger({ destination: sink, pretty: false });
  const checks = [policyCheck(runtime.policy), postgresSessionLogCheck(sessionUrl), ...connectionChecks(runtime.policy, runtime.target)];
  let server: LocalServer;
  server = await startLocalServer({
    host: '127.0.0.1',
    port,
    logger,
    routes: [
      { prefix: '/healthz', handler: healthHandler() },
      { prefix: '/readyz', handler: readyHandler(() => checks, () => server.stopping()) },
      { prefix: '/v1/', handler: queryHandler(runtime.gateway) },
    ],
    raw: [devIssuerRoutes(key, issuer)],
  });
  const token = (sub: string) => mintDevToken(key, { issuer, sub, aud: TEST_AUDIENCE, ttlSec: 600 });
  return {
    url: server.url,
    server,
    runtime,
    sessionProxy,
    targetProxy,
    logText: () => text,
    lines: () => text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, any>),
    token,
    async query(sql, headers = {}, sub = BOT, params) {
      const res = await fetch(`${server.url}/v1/query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await token(sub)}`, 'x-agent-model': 'test-model', 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ connection: 'main', sql, ...(params ? { params } : {}) }),
      });
      return { status: res.status, body: await res.json() };
    },
    async close() {
      await server.close();
      await runtime.close();
      await sessionProxy.close();
      await targetProxy.close();
      await target.drop();
      await audit.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function hostPort(db: TestDatabase): { host: string; port: number } {
  const u = new URL(db.url);
  return { host: u.hostname === 'localhost' ? '127.0.0.1' : u.hostname, port: Number(u.port || 5432) };
}
