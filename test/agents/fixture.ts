// A gateway for the agent-facing suites (client, MCP, OpenAPI, blast radius): the demo schema with
// its seeded PII, the policy's masking, bots' reads allowed, bots' writes held for a DBA, DDL
// denied — and a bigger table, so a planner's estimate is a number worth reading.
import { readFileSync } from 'node:fs';
import { startTestGateway, testPolicy, withBotWriteApproval, type TestGateway } from '../helpers/gateway.ts';

export const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
export const DBA = 'alice@acme.com';
export const AUDITOR = 'carol@acme.com';
export const MODEL = 'gemini-2.5-pro-002';

const SEED = readFileSync(new URL('../../infra/demo-db/seed.sql', import.meta.url), 'utf8');
const MASKING = `masking:
  columns:
    public.customers.email: email
    public.customers.ssn: redact
    public.customers.card_number: last4
  derived: mask
  detectors: [email, card, ssn, iban, secret]
`;

export const EVENTS_ROWS = 20_000;

export async function startAgentGateway(): Promise<TestGateway> {
  const gw = await startTestGateway({
    seedSql: `${SEED}
CREATE TABLE events (id int PRIMARY KEY, kind text NOT NULL, payload text);
INSERT INTO events SELECT i, CASE WHEN i % 10 = 0 THEN 'error' ELSE 'info' END, 'p' || i FROM generate_series(1, ${EVENTS_ROWS}) AS i;
ANALYZE events;`,
    policy: (issuer) => withBotWriteApproval(testPolicy(issuer, MASKING)),
  });
  return gw;
}

/** The raw seeded PII, to assert none of it leaves the gateway. */
export async function seededPii(gw: TestGateway): Promise<string[]> {
  const { rows } = await gw.sql('SELECT email, ssn, card_number FROM customers');
  return rows.flatMap((r) => [r.email, r.ssn, r.card_number]);
}
