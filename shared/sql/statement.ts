// Step 2's product, parsed once: PostgreSQL's parse tree of one statement with everything the later
// steps read from it — the analysis, the call sites the catalog resolves, the fingerprint. The
// masking plan, the /v1/analyze preview, error redaction and the approvers' estimate take this
// object instead of the SQL text, so a request parses its SQL at most once, and a statement seen
// before (statement-cache.ts) not at all. Immutable: a cached Statement is shared by every
// request sending the same text.
import type { Analysis } from './analysis.ts';
import type { CallSites } from './call-sites.ts';
import type { Fields } from './nodes.ts';

export interface Statement {
  readonly sql: string;
  /** Top-level parse node type, e.g. `SelectStmt`. */
  readonly pgType: string;
  /** The parse tree (libpg-query's JSON), deep-frozen. */
  readonly node: Fields;
  /** What the tree alone says (before the catalog: resolve.ts may make a `read` `unknown`). */
  readonly analysis: Analysis;
  /** What the statement can call, for the catalog step (resolve.ts). */
  readonly sites: CallSites;
  readonly fingerprint: string;
}

/** The type guard the masking and estimate steps use to accept a Statement or SQL text. */
export function isStatement(v: unknown): v is Statement {
  return typeof v === 'object' && v !== null && typeof (v as Statement).sql === 'string' && typeof (v as Statement).pgType === 'string' && typeof (v as Statement).node === 'object';
}
