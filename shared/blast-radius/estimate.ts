// The blast radius of a held statement, for the people asked to approve it: the planner's estimate
// of the rows it touches, the plan's top node and the tables in the plan — so "UPDATE … WHERE"
// reads "≈ 48,000 rows" before anyone says yes.
//
// The statement must not run to be estimated. Four independent guards:
//  1. EXPLAIN without ANALYZE only plans. The composed text is parsed again and must be exactly
//     one ExplainStmt, with only the FORMAT JSON and VERBOSE options, wrapping a statement of the
//     same type as the held one (a held text cannot smuggle an ANALYZE option or a second statement).
//  2. It runs in a READ ONLY transaction: a function the planner folds at plan time cannot write.
//  3. Under the connection's statement_timeout (at most ESTIMATE_TIMEOUT_MS).
//  4. The transaction is rolled back, never committed, whatever happened.
// An estimate that cannot be made is `unavailable` with a reason; it never blocks the approval.
import { GatehouseError, isGatehouseError } from '../errors.ts';
import type { TargetDatabase } from '../target-port.ts';
import type { Analysis } from '../sql/analysis.ts';
import { fieldsOf, isFields, list, str, unwrap } from '../sql/nodes.ts';
import { parseOne } from '../sql/parse.ts';
import type { PlanEstimate } from './types.ts';

export type { PlanEstimate } from './types.ts';

/** Statement types PostgreSQL can EXPLAIN and the planner estimates rows for. */
const EXPLAINABLE = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);
const ALLOWED_OPTIONS = new Set(['format', 'verbose']);
export const ESTIMATE_TIMEOUT_MS = 5_000;

export interface EstimateInput {
  readonly connection: string;
  readonly sql: string;
  readonly params: readonly unknown[];
  readonly statementTimeoutMs: number;
}


export async function estimatePlan(target: TargetDatabase, input: EstimateInput, analysis: Pick<Analysis, 'pgType' | 'kind'>): Promise<PlanEstimate> {
  if (!EXPLAINABLE.has(analysis.pgType)) return unavailable(`the planner does not estimate a ${analysis.kind} statement`);
  const sql = `EXPLAIN (FORMAT JSON, VERBOSE) ${input.sql}`;
  const problem = explainOnly(sql, analysis.pgType);
  if (problem) return unavailable(problem);

  let plan: unknown;
  // Thrown from beforeCommit so run() rejects (the READ ONLY transaction kept nothing either way:
  // a read's COMMIT is pipelined with the statement). A GatehouseError, passed
  // through unchanged: anything else would make the target discard a healthy connection.
  const rollBack = new GatehouseError('internal', 'estimate done: roll back');
  try {
    await target.run({
      connection: input.connection,
      sql,
      params: input.params,
      readOnly: true,
      maxRows: 1,
      statementTimeoutMs: Math.min(input.statementTimeoutMs, ESTIMATE_TIMEOUT_MS),
      beforeCommit: async (result) => {
        plan = result.rows[0]?.[0];
        throw rollBack;
      },
    });
    // run() resolved although beforeCommit threw: not what this code asked for: report no
    // estimate rather than trust it.
    return unavailable('the estimate was not rolled back');
  } catch (e) {
    if (e !== rollBack) {
      // Only the code: PostgreSQL's message can quote a parameter's value.
      return unavailable(`EXPLAIN failed (${isGatehouseError(e) ? e.code : 'error'}${sqlstateOf(e)})`);
    }
  }
  return summarise(plan);
}

/** Undefined when `sql` is one EXPLAIN, without ANALYZE, of a statement of type `pgType`. */
function explainOnly(sql: string, pgType: string): string | undefined {
  let parsed;
  try {
    parsed = parseOne(sql);
  } catch {
    return 'the statement cannot be explained';
  }
  if (parsed.pgType !== 'ExplainStmt') return 'the statement cannot be explained';
  for (const option of list(parsed.node.options)) {
    const name = str(fieldsOf(option, 'DefElem')?.defname);
    if (name === undefined || !ALLOWED_OPTIONS.has(name)) return `EXPLAIN option ${name ?? '?'} is not allowed`;
  }
  const inner = unwrap(parsed.node.query);
  if (inner?.[0] !== pgType) return 'the explained statement is not the held one';
  return undefined;
}

function summarise(raw: unknown): PlanEstimate {
  const doc = typeof raw === 'string' ? safeJson(raw) : raw;
  const top = Array.isArray(doc) && isFields(doc[0]) && isFields(doc[0].Plan) ? doc[0].Plan : undefined;
  if (!top) return unavailable('EXPLAIN returned no plan');
  const node = str(top['Node Type']) ?? 'unknown';
  const operation = str(top.Operation);
  // A ModifyTable without RETURNING plans 0 output rows: what it touches is what its input feeds it.
  const child = Array.isArray(top.Plans) && isFields(top.Plans[0]) ? top.Plans[0] : undefined;
  const rowsOf = (p: Readonly<Record<string, unknown>> | undefined) => (typeof p?.['Plan Rows'] === 'number' ? (p['Plan Rows'] as number) : undefined);
  const rows = node === 'ModifyTable' ? (rowsOf(child) ?? rowsOf(top)) : rowsOf(top);
  const tables = new Set<string>();
  collectRelations(top, tables, 0);
  return {
    state: 'estimated',
    ...(rows === undefined ? {} : { rows }),
    topNode: operation ? `${node} (${operation})` : node,
    ...(typeof top['Total Cost'] === 'number' ? { totalCost: top['Total Cost'] as number } : {}),
    tables: [...tables].sort(),
  };
}

function collectRelations(plan: Readonly<Record<string, unknown>>, into: Set<string>, depth: number): void {
  if (depth > 200) return; // plans are trees the server built; the bound only keeps recursion finite
  const name = str(plan['Relation Name']);
  if (name) into.add(str(plan.Schema) ? `${str(plan.Schema)}.${name}` : name);
  for (const child of Array.isArray(plan.Plans) ? plan.Plans : []) if (isFields(child)) collectRelations(child, into, depth + 1);
}

function unavailable(reason: string): PlanEstimate {
  return { state: 'unavailable', reason };
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

function sqlstateOf(e: unknown): string {
  const s = isGatehouseError(e) ? e.details?.sqlstate : undefined;
  return typeof s === 'string' ? `, sqlstate ${s}` : '';
}
