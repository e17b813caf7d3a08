/** The risk classes of docs/design.md#risk-classes. `unknown` is what anything not understood becomes. */
export const RISK_CLASSES = ['read', 'write', 'destructive', 'ddl', 'privilege', 'session', 'unknown'] as const;
export type RiskClass = (typeof RISK_CLASSES)[number];

/** What the real PostgreSQL parser says one statement would do. Pure data, safe to log. */
export interface Analysis {
  /** Top-level parse node, e.g. `SelectStmt`, `DropStmt`. */
  readonly pgType: string;
  /** Human statement kind, e.g. `SELECT`, `INSERT`, `DROP TABLE`, `EXPLAIN`. */
  readonly kind: string;
  readonly class: RiskClass;
  /** Why this class: one short sentence per finding, e.g. "data-modifying CTE writes public.orders". */
  readonly reasons: readonly string[];
  /** Relations as written, schema-qualified when the SQL qualifies them (`public.customers`), else bare (`customers`). */
  readonly tables: { readonly read: readonly string[]; readonly written: readonly string[] };
  /** Column references as written (`email`, `c.email`, `*`). */
  readonly columns: readonly string[];
  /** Function names as written, lower-cased, schema-qualified when written so (`pg_catalog.set_config`). */
  readonly functions: readonly string[];
  /** Fingerprint of the parse tree (shared/sql/fingerprint.ts): equal for statements that differ only in constants. */
  readonly fingerprint: string;
}
