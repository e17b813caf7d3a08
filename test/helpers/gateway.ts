// A whole gateway for end-to-end tests: the local server with the query routes, a dev issuer of
// its own (a temp key), the session log and the target in their own real PostgreSQL databases.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createRuntime, type Runtime } from '../../shared/config.ts';
import { queryHandler } from '../../functions/query.ts';
import { devIssuerRoutes, loadOrCreateDevKey, mintDevToken } from '../../infra/dev-issuer.ts';
import { freePort } from '../../infra/free-port.ts';
import { startLocalServer } from '../../infra/local-server.ts';
import { createTestDatabase, type TestDatabase } from './pg.ts';

export const TEST_AUDIENCE = 'gatehouse-test';

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

export interface TestGateway {
  readonly url: string;
  readonly issuer: string;
  readonly runtime: Runtime;
  readonly target: TestDatabase;
  readonly audit: TestDatabase;
  readonly policyPath: string;
  token(sub: string, opts?: { groups?: string[]; aud?: string; ttlSec?: number; now?: Date }): Promise<string>;
  sql(text: string, params?: unknown[]): Promise<pg.QueryResult>;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; body: any }>;
  close(): Promise<void>;
}

export async function startTestGateway(options: { seedSql?: string; policy?: (issuer: string) => string } = {}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-'));
  const target = await createTestDatabase();
  const audit = await createTestDatabase();
  const admin = new pg.Pool({ connectionString: target.url, max: 2 });
  if (options.seedSql) await admin.query(options.seedSql);
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}/dev`;
  const policyPath = join(dir, 'policy.yaml');
  writeFileSync(policyPath, (options.policy ?? testPolicy)(issuer));
  const key = await loadOrCreateDevKey(dir);
  const runtime = await createRuntime({
    policy: policyPath,
    sessionStore: { kind: 'postgres', url: audit.url },
    env: { GATEHOUSE_TEST_TARGET_URL: target.url },
  });
  const server = await startLocalServer({
    host: '127.0.0.1',
    port,
    routes: [{ prefix: '/v1/', handler: queryHandler(runtime.gateway) }],
    raw: [devIssuerRoutes(key, issuer)],
  });
  return {
    url: server.url,
    issuer,
    runtime,
    target,
    audit,
    policyPath,
    token: (sub, o = {}) => mintDevToken(key, { issuer, sub, groups: o.groups, aud: o.aud ?? TEST_AUDIENCE, ttlSec: o.ttlSec ?? 600, now: o.now }),
    sql: (text, params) => admin.query(text, params),
    async post(path, body, headers = {}) {
      const res = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { status: res.status, headers: res.headers, body: await res.json() };
    },
    async close() {
      await server.close();
      await runtime.close();
      await admin.end();
      await target.drop();
      await audit.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
