import type { RiskClass } from '../sql/analysis.ts';

// Defined by the identity step that reads it (identity must not import policy: no folder cycles).
import type { IssuerConfig } from '../identity/issuer-config.ts';
export type { IssuerConfig } from '../identity/issuer-config.ts';

export interface ConnectionConfig {
  /** `embedded://NAME` | `env://VAR` | `secret://projects/P/secrets/S/versions/V` */
  readonly credentials: string;
  readonly maxRows: number;
  readonly statementTimeoutMs: number;
  /** Bytes of cell text one answer may carry; reading stops there (truncatedBy: bytes). */
  readonly maxResultBytes: number;
  /** A cell over this many bytes is replaced by a marker. */
  readonly maxCellBytes: number;
}

export type RuleAction = 'allow' | 'deny' | 'approve';

export interface Rule {
  readonly name: string;
  /** `group:NAME` | `email:ADDR` | `subject:SUB` | `*`; omitted = everyone. */
  readonly principals?: readonly string[];
  /** Omitted = all connections. */
  readonly connections?: readonly string[];
  /** Omitted = all classes. */
  readonly classes?: readonly RiskClass[];
  readonly action: RuleAction;
  readonly approvers?: readonly string[];
  readonly quorum?: number;
  /** Approval lifetime in milliseconds (parsed from `ttl: 30m`). */
  readonly ttlMs?: number;
}

export type MaskStrategy = 'redact' | 'null' | 'last4' | 'email' | 'hash';

export interface MaskingConfig {
  /** `schema.table.column` → strategy */
  readonly columns: Readonly<Record<string, MaskStrategy>>;
  readonly derived: 'mask' | 'deny';
  /**
   * `deny`: a statement that filters, joins, orders, groups or aggregates on a masked column is
   * refused (masked_column_in_predicate), closing the counting and ordering oracles; so is one that
   * operates on a masked value in any way that can fail (masked_column_computed), closing the error
   * oracle. Default `allow`.
   */
  readonly predicates?: 'allow' | 'deny';
  readonly detectors: readonly string[];
}

/** A `functions:` entry: a function outside the read allowlist that the policy vouches for. */
export interface ListedFunction {
  /** Normalised `schema.name(argtype, …)` (shared/sql/routines.ts normalizeSignature). */
  readonly signature: string;
  readonly class: 'read';
  readonly reason: string;
}

export interface AgentsConfig {
  readonly requireModel: boolean;
  /** Glob patterns (`*` matches any run of characters). */
  readonly allowedModels: readonly string[];
}

export interface Policy {
  readonly version: 1;
  readonly issuers: readonly IssuerConfig[];
  readonly groups: Readonly<Record<string, readonly string[]>>;
  readonly connections: Readonly<Record<string, ConnectionConfig>>;
  readonly rules: readonly Rule[];
  readonly masking: MaskingConfig;
  readonly agents: AgentsConfig;
  /** Functions the policy marks as safe to call under `read`; default none. */
  readonly functions: readonly ListedFunction[];
  /** sha256 (hex) of the policy file's exact bytes; recorded in every decision. */
  readonly sha256: string;
  /** Where it came from, for messages. */
  readonly source: string;
}

export interface Decision {
  readonly action: RuleAction;
  /** The matching rule's name, or `null` when no rule matched (which denies). */
  readonly rule: string | null;
  readonly reasons: readonly string[];
  readonly policySha256: string;
  readonly approvers?: readonly string[];
  readonly quorum?: number;
  readonly ttlMs?: number;
}
