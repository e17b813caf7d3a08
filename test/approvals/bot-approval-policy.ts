import test from 'ava';
import { startTestGateway, TEST_AUDIENCE, type TestGateway } from '../helpers/gateway.ts';

/**
 * The e2e policy of the proven-status and view-attack suites: bots' writes held for one DBA,
 * their destructive statements for two (alice and bob), everything else denied.
 */
export const botApprovalPolicy = (issuer: string) => `version: 1
issuers:
  - issuer: ${issuer}
    audience: ${TEST_AUDIENCE}
    jwksUri: ${issuer}/jwks.json
    groupsClaim: groups
groups:
  review-bots: [review-bot@acme-prod.iam.gserviceaccount.com]
  dba: [alice@acme.com, bob@acme.com]
connections:
  main:
    credentials: env://GATEHOUSE_TEST_TARGET_URL
rules:
  - name: bots-write
    principals: [group:review-bots]
    classes: [write]
    action: approve
    approvers: [group:dba]
    quorum: 1
    ttl: 10m
  - name: bots-delete-two-dbas
    principals: [group:review-bots]
    classes: [destructive]
    action: approve
    approvers: [group:dba]
    quorum: 2
    ttl: 10m
  - name: nothing-else
    action: deny
agents:
  requireModel: true
  allowedModels: ["gemini-*"]
`;


/**
 * One gateway for a whole file, on botApprovalPolicy with a `runs` table to write to: started
 * before its tests, closed after them. Returns the getter the tests use.
 */
export function gatewayForFile(): () => TestGateway {
  let gw: TestGateway | undefined;
  test.before(async () => {
    gw = await startTestGateway({ seedSql: 'CREATE TABLE runs (tag text NOT NULL)', policy: botApprovalPolicy });
  });
  test.after.always(async () => {
    await gw?.close();
  });
  return () => gw!;
}
