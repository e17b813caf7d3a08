// Shared pieces of the approval tests: principals, a policy decision, an analysis, a clock.
import type { Principal } from '../../shared/identity/principal.ts';
import type { Decision } from '../../shared/policy/types.ts';
import type { Analysis } from '../../shared/sql/analysis.ts';
import { openApproval } from '../../shared/approvals/state.ts';
import { approvalDigest } from '../../shared/approvals/digest.ts';
import type { Approval } from '../../shared/approvals/types.ts';

export const DEV = 'http://127.0.0.1:8080/dev';
export const OTHER = 'https://issuer.example.com';

export const bot: Principal = { issuer: DEV, subject: 'review-bot@acme.iam', email: 'review-bot@acme.iam', groups: ['review-bots'] };
export const otherBot: Principal = { issuer: DEV, subject: 'other-bot@acme.iam', email: 'other-bot@acme.iam', groups: ['review-bots'] };
export const alice: Principal = { issuer: DEV, subject: 'alice@acme.com', email: 'alice@acme.com', groups: ['dba'] };
export const bob: Principal = { issuer: DEV, subject: 'bob@acme.com', email: 'bob@acme.com', groups: ['dba'] };
export const mallory: Principal = { issuer: DEV, subject: 'mallory@acme.com', email: 'mallory@acme.com', groups: [] };

export const analysis: Analysis = {
  pgType: 'UpdateStmt',
  kind: 'UPDATE',
  class: 'write',
  reasons: ['UPDATE with a WHERE clause writes notes'],
  tables: { read: [], written: ['notes'] },
  columns: ['id', 'body'],
  functions: [],
  fingerprint: 'abc',
};

export function approveDecision(over: Partial<Decision> = {}): Decision {
  return {
    action: 'approve',
    rule: 'bots-write',
    reasons: ['rule "bots-write" requires approval for class write (UPDATE)'],
    policySha256: 'f'.repeat(64),
    approvers: ['group:dba'],
    quorum: 1,
    ttlMs: 30 * 60_000,
    ...over,
  };
}

/** The statement-digest key of these tests (in production: derived from the masking key). */
export const TEST_DIGEST_KEY = new Uint8Array(32).fill(9);

/** The digest of a statement for approval `ap-1` of `session-1` (held() below), unless named. */
export function digestOf(s: { connection: string; sql: string; params: readonly (string | number | boolean | null)[]; requester: Principal; approvalId?: string; sessionId?: string }): string {
  return approvalDigest(TEST_DIGEST_KEY, { approvalId: 'ap-1', sessionId: 'session-1', ...s });
}

export const T0 = new Date('2026-03-01T12:00:00.000Z');

export function held(over: { quorum?: number; approvers?: string[]; requester?: Principal; params?: (string | number | boolean | null)[] } = {}): Approval {
  return openApproval({
    id: 'ap-1',
    sessionId: 'session-1',
    principal: over.requester ?? bot,
    agent: { model: 'gemini-2.5-pro-002' },
    connection: 'main',
    sql: 'UPDATE notes SET body = $1 WHERE id = $2',
    params: over.params ?? ['x', 1],
    analysis,
    decision: approveDecision({ quorum: over.quorum ?? 1, approvers: over.approvers ?? ['group:dba'] }),
    now: T0,
    digest: digestOf({ connection: 'main', sql: 'UPDATE notes SET body = $1 WHERE id = $2', params: over.params ?? ['x', 1], requester: over.requester ?? bot }),
    republishAfterMs: 5000,
  });
}

export function at(minutes: number): Date {
  return new Date(T0.getTime() + minutes * 60_000);
}
