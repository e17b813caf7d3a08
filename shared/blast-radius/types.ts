// What approvers are shown of a held statement's reach (estimate.ts). Stored on the approval and
// in its `approval.requested` event; described for the API by PlanEstimateSchema (shared/api).
export interface PlanEstimate {
  readonly state: 'estimated' | 'unavailable';
  /** The planner's estimate of the rows the statement touches. */
  readonly rows?: number;
  /** The plan's top node, e.g. `ModifyTable (Update)`. */
  readonly topNode?: string;
  readonly totalCost?: number;
  /** Relations in the plan, schema-qualified. */
  readonly tables?: readonly string[];
  /** Why there is no estimate (never a value from the statement). */
  readonly reason?: string;
}
