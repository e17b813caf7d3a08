// The masking step's records. Decisions go into the `execution.completed` event as they are: they
// name columns, strategies and source columns, never a value.
import type { MaskStrategy } from '../policy/types.ts';

/** Why a column was masked: the wire said where it came from, the parse tree did, a detector saw
 * the content, or nothing could be worked out over a sensitive table. */
export type MaskWhy = 'provenance' | 'lineage' | 'detector' | 'fail-closed';

export interface MaskDecision {
  /** The output column's name. */
  readonly column: string;
  readonly index: number;
  readonly strategy: MaskStrategy | null;
  readonly why: MaskWhy;
  /** Sensitive source columns, `schema.table.column`. */
  readonly source?: readonly string[];
  readonly detector?: string;
  /**
   * A column's strategy: every cell of the column, NULL included (under `null` a NULL and a value
   * come back alike, and the count must not tell them apart). A detector: the cells it changed.
   */
  readonly cells?: number;
}

/** One result column as planned. */
export interface ColumnMask {
  readonly index: number;
  readonly name: string;
  /** null: not masked as a column (detectors still look at its values). */
  readonly strategy: MaskStrategy | null;
  readonly why?: MaskWhy;
  readonly source?: readonly string[];
}

export interface MaskPlan {
  readonly connection: string;
  readonly columns: readonly ColumnMask[];
}

/** For the response's `columns[]`: which columns were masked, and how. */
export interface ColumnOutcome {
  readonly name: string;
  readonly masked: boolean;
  readonly mask?: MaskStrategy;
}

export interface MaskedResult {
  readonly rows: unknown[][];
  /** One per masked column (with its cell count), plus one per column and detector that fired. */
  readonly decisions: MaskDecision[];
  readonly columns: ColumnOutcome[];
}

/** POST /v1/analyze: what lineage alone says, before anything runs. */
export interface MaskPreview {
  /** Position in the result; null after a `*` whose width only the database knows. */
  readonly index: number | null;
  /** The output's name as far as the SQL tells, or the source column a `*` expands to. */
  readonly column: string;
  readonly strategy: MaskStrategy | null;
  readonly why: 'lineage' | 'fail-closed';
  readonly source?: readonly string[];
  /** `derived: deny` would refuse the statement for this column. */
  readonly denied?: boolean;
}
