// The blast radius of a held statement, for the people asked to approve it: the planner's estimate
// of the rows it touches, the plan's top node and the tables in the plan — so "UPDATE … WHERE"
// reads "≈ 48,000 rows" before anyone says yes.
//
// The statement must not run to be estimated. Five independent guards:
//  0. Planning is not side-effect free: the planner folds calls with constant arguments to
//     IMMUTABLE (and, estimating selectivity, STABLE) functions — including those that come in
//     with a view's rules, a row security policy, a column DEFAULT or generated expression, a
//     CHECK constraint or an index expression — and a user function declared so can do what READ
//     ONLY does not stop (end another backend, reach out through dblink, run a program). So a
//     held statement is only explained when everything it calls is on the read allowlist, and no
//     relation it touches carries a user function in such an expression (attack review of issue
//     18: a planted function ended another backend before anyone approved). Otherwise: no estimate.
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


export interface PlannerSafety {
  /**
   * Why the planner could run something off the read allowlist for this statement (its calls,
   * operators and casts, and what the relations it reads or writes run when read: rules, row
   * security), resolved against the connection's catalog; undefined when nothing. Should throw
   * or answer a reason whenever it cannot tell.
   */
  readonly calls: () => Promise<string | undefined>;
  /** The catalog relations the statement reads or writes, as written (CTE names left out). */
  readonly relations: readonly string[];
}

export async function estimatePlan(
  target: TargetDatabase,
  input: EstimateInput,
  analysis: Pick<Analysis, 'pgType' | 'kind'>,
  safety: PlannerSafety,
): Promise<PlanEstimate> {
  if (!EXPLAINABLE.has(analysis.pgType)) return unavailable(`the planner does not estimate a ${analysis.kind} statement`);
  const sql = `EXPLAIN (FORMAT JSON, VERBOSE) ${input.sql}`;
  const problem = explainOnly(sql, analysis.pgType);
  if (problem) return unavailable(problem);
  // Guard 0: nothing the planner would fold may be a user's function. Fails closed.
  let unsafe: string | undefined;
  try {
    unsafe = (await safety.calls()) ?? (await userFunctionsInRelations(target, input, safety.relations));
  } catch {
    unsafe = 'what the planner could run cannot be checked';
  }
  if (unsafe) return unavailable(`not explained: ${unsafe}`);

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

/**
 * User functions (OID ≥ 16384, as operators too) in the expressions the planner folds for these
 * relations: column defaults and generated columns, CHECK (and other) constraints, index
 * expressions and predicates; and behind the database's implicit and assignment casts. A name the
 * catalog cannot place counts as unsafe.
 */
const RELATION_EXPRESSION_CALLS = `
WITH rels AS (
  SELECT w.name, pg_catalog.to_regclass(w.name) AS oid FROM pg_catalog.json_array_elements_text($1::pg_catalog.json) AS w(name)
), owners AS (
  SELECT 'pg_catalog.pg_attrdef'::pg_catalog.regclass AS classid, ad.oid AS objid
    FROM rels r JOIN pg_catalog.pg_attrdef ad ON ad.adrelid OPERATOR(pg_catalog.=) r.oid
  UNION ALL
  SELECT 'pg_catalog.pg_constraint'::pg_catalog.regclass, co.oid
    FROM rels r JOIN pg_catalog.pg_constraint co ON co.conrelid OPERATOR(pg_catalog.=) r.oid
  UNION ALL
  SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, i.indexrelid
    FROM rels r JOIN pg_catalog.pg_index i ON i.indrelid OPERATOR(pg_catalog.=) r.oid
), fns AS (
  SELECT d.refobjid AS fn FROM owners o JOIN pg_catalog.pg_depend d
      ON d.classid OPERATOR(pg_catalog.=) o.classid AND d.objid OPERATOR(pg_catalog.=) o.objid
   WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
  UNION
  SELECT op.oprcode::pg_catalog.oid FROM owners o JOIN pg_catalog.pg_depend d
      ON d.classid OPERATOR(pg_catalog.=) o.classid AND d.objid OPERATOR(pg_catalog.=) o.objid
    JOIN pg_catalog.pg_operator op ON op.oid OPERATOR(pg_catalog.=) d.refobjid
   WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_operator'::pg_catalog.regclass
)
SELECT (SELECT pg_catalog.count(*) FROM rels WHERE rels.oid IS NULL)::pg_catalog.int4 AS missing,
       -- Implicit and assignment casts are the planner's, never in the text (resolve.ts sees only
       -- the casts written): a user function behind one counts, whatever the statement.
       (SELECT pg_catalog.string_agg(DISTINCT n.nspname OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.proname, ', ')
          FROM pg_catalog.pg_cast c JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) c.castfunc
          JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
         WHERE c.castfunc OPERATOR(pg_catalog.>=) 16384 AND c.castcontext IN ('i', 'a')) AS user_casts,
       (SELECT pg_catalog.string_agg(DISTINCT n.nspname OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.proname, ', ')
          FROM fns JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) fns.fn
          JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
         WHERE fns.fn OPERATOR(pg_catalog.>=) 16384) AS user_functions`;

async function userFunctionsInRelations(target: TargetDatabase, input: EstimateInput, relations: readonly string[]): Promise<string | undefined> {
  const { rows } = await target.run({
    connection: input.connection,
    sql: RELATION_EXPRESSION_CALLS,
    params: [JSON.stringify(relations)], // a parameter is a scalar: the names as one JSON array
    readOnly: true,
    maxRows: 1,
    statementTimeoutMs: Math.min(input.statementTimeoutMs, ESTIMATE_TIMEOUT_MS),
  });
  const [missing, casts, functions] = rows[0] ?? [];
  if (typeof missing !== 'number' || missing > 0) return 'a relation it names is not in the catalog';
  if (typeof casts === 'string' && casts !== '') return `the planner could run user functions behind implicit or assignment casts of this database (${casts})`;
  return typeof functions === 'string' && functions !== '' ? `the planner could run user functions in a default, constraint or index of a relation it touches (${functions})` : undefined;
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
