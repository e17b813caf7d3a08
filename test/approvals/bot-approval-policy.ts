import { TEST_AUDIENCE } from '../helpers/gateway.ts';

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

