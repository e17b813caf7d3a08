// What both request paths — the bots' (shared/gateway.ts) and the people's review desk
// (shared/approvals/review.ts), and the catalog reads (shared/describe/) — know about who is
// calling, before and after the token is verified. Kept apart from either path so neither imports
// the other (issue 17 item 5; test/repo/import-cycles.test.ts).
import { bearerToken } from '../identity/bearer.ts';
import type { Principal } from '../identity/principal.ts';

/**
 * The transport's body, read only after the caller is authenticated: an authenticated caller's
 * malformed or oversized body is still recorded as a session; an anonymous one costs nothing.
 */
export type BodyReader = () => unknown;

/** What the transport knows about the caller: headers, untrusted until verified. */
export interface Caller {
  readonly authorization?: string;
  readonly model?: string;
  readonly runId?: string;
  readonly traceparent?: string;
  /** Told what the request established, for the transport's log line (never SQL or values). */
  readonly observe?: (facts: RequestFacts) => void;
}

/** What a log line may say about a request: ids, the verified subject, the verdict, a fingerprint. */
export interface RequestFacts {
  readonly sessionId?: string;
  readonly subject?: string;
  readonly decision?: string;
  readonly riskClass?: string;
  readonly fingerprint?: string;
}

export type TokenVerifier = (token: string) => Promise<Principal>;

/** Step 1 on every path: the bearer token verified, or a `token_*` GatehouseError. */
export async function authenticate(verifyToken: TokenVerifier, caller: Caller): Promise<Principal> {
  const principal = await verifyToken(bearerToken(caller.authorization));
  caller.observe?.({ subject: principal.subject });
  return principal;
}
