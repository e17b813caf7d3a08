// One pass over the whole parse tree: every statement node (not only the top one), every relation,
// column and function call. A write can hide anywhere a query can: a data-modifying WITH inside a
// subquery, SELECT … INTO in one arm of a UNION, a side-effecting function in a JOIN condition.
//
// Iterative, not recursive: the tree is as deep as the SQL is nested, and the SQL is untrusted.

import { CallSiteCollector, type CallSites, isSyntaxCall } from './call-sites.ts';
import type { Finding, Verdict } from './finding.ts';
import { type Fields, dottedName, isFields, list, relationName, str, unwrap } from './nodes.ts';
import { sideEffectOf } from './side-effect-functions.ts';
import { classifyStatement, isStatementType } from './statements.ts';
import { droppedNames, explainRuns } from './utility.ts';

export interface Facts {
  /** The top statement's own verdict. */
  readonly top: Verdict;
  /** Everything found below it (nested statements, SELECT INTO, locking, side-effect calls). */
  readonly findings: readonly Finding[];
  readonly read: ReadonlySet<string>;
  readonly written: ReadonlySet<string>;
  readonly cteNames: ReadonlySet<string>;
  readonly columns: ReadonlySet<string>;
  readonly functions: ReadonlySet<string>;
  /** What the statement can make PostgreSQL call, for the catalog to resolve (resolve.ts). */
  readonly sites: CallSites;
}

// Struct-typed fields the JSON writes without a type wrapper; the type matters for these only.
// Maps, not object literals: a key read from the tree must never find Object.prototype's members.
const UNWRAPPED = new Map<string, string>([
  ['relation', 'RangeVar'], ['rel', 'RangeVar'], ['view', 'RangeVar'], ['sequence', 'RangeVar'], ['table', 'RangeVar'],
  ['constrrel', 'RangeVar'], ['pktable', 'RangeVar'],
  ['intoClause', 'IntoClause'], ['into', 'IntoClause'],
  ['larg', 'SelectStmt'], ['rarg', 'SelectStmt'],
  ['base', 'CreateStmt'], ['funccall', 'FuncCall'], ['typeName', 'TypeName'],
]);
// Field names that hold different structs under different parents.
const UNWRAPPED_BY_PARENT = new Map<string, string>([
  ['PartitionCmd.name', 'RangeVar'],
  ['PLAssignStmt.val', 'SelectStmt'],
]);

/** Relations a statement changes (rows or definition), by `ParentType.field`. Others are reads. */
const WRITE_TARGETS = new Set([
  'InsertStmt.relation', 'UpdateStmt.relation', 'DeleteStmt.relation', 'MergeStmt.relation',
  'IntoClause.rel', 'TruncateStmt.relations', 'CreateStmt.relation', 'AlterTableStmt.relation',
  'RenameStmt.relation', 'AlterObjectSchemaStmt.relation', 'ViewStmt.view', 'RefreshMatViewStmt.relation',
  'CreateSeqStmt.sequence', 'AlterSeqStmt.sequence', 'PartitionCmd.name',
]);

const DROPPED_RELATIONS = new Set(['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_FOREIGN_TABLE', 'OBJECT_SEQUENCE']);

/** Where a nested statement sits, for its reason: "data-modifying WITH: DELETE … writes t". */
const CONTEXTS = new Map<string, ReadonlyMap<string, string>>([
  ['CommonTableExpr', new Map([['ctequery', 'data-modifying WITH']])],
  ['ExplainStmt', new Map([['query', 'EXPLAIN ANALYZE']])],
  ['RuleStmt', new Map([['actions', 'rule action']])],
  ['CreateFunctionStmt', new Map([['sql_body', 'function body']])],
  ['PrepareStmt', new Map([['query', 'PREPARE']])],
  ['CopyStmt', new Map([['query', 'COPY']])],
  ['CreateTableAsStmt', new Map([['query', 'CREATE TABLE AS']])],
  ['CreateSchemaStmt', new Map([['schemaElts', 'CREATE SCHEMA']])],
  ['DeclareCursorStmt', new Map([['query', 'cursor']])],
  ['ViewStmt', new Map([['query', 'view']])],
]);

const LOCK_WORDS = new Map([
  ['LCS_FORKEYSHARE', 'FOR KEY SHARE'], ['LCS_FORSHARE', 'FOR SHARE'], ['LCS_FORNOKEYUPDATE', 'FOR NO KEY UPDATE'], ['LCS_FORUPDATE', 'FOR UPDATE'],
]);

export function walk(pgType: string, root: Fields): Facts {
  const findings = new Map<string, Finding>();
  const read = new Set<string>();
  const written = new Set<string>();
  const cteNames = new Set<string>();
  const columns = new Set<string>();
  const functions = new Set<string>();
  const sites = new CallSiteCollector();
  const add = (f: Finding) => {
    if (!findings.has(f.reason)) findings.set(f.reason, f);
  };

  // The work stack, as parallel arrays: value, its parent node type, the field it sits in, whether
  // it only gets planned (EXPLAIN without ANALYZE), and the context label for nested statements.
  const values: unknown[] = [];
  const parents: string[] = [];
  const fieldNames: string[] = [];
  const planned: boolean[] = [];
  const contexts: string[] = [];

  const top = classifyStatement(pgType, root);
  visit(pgType, root, 'RawStmt', 'stmt', false, '', true, true);

  while (values.length > 0) {
    const value = values.pop();
    const parent = parents.pop() as string;
    const field = fieldNames.pop() as string;
    const plan = planned.pop() as boolean;
    const context = contexts.pop() as string;
    if (Array.isArray(value)) {
      for (const item of value) push(item, parent, field, plan, context);
      continue;
    }
    const node = unwrap(value);
    if (node !== undefined) visit(node[0], node[1], parent, field, plan, context, true, false);
    else if (isFields(value)) {
      const type = UNWRAPPED_BY_PARENT.get(`${parent}.${field}`) ?? UNWRAPPED.get(field) ?? '';
      visit(type, value, parent, field, plan, context, false, false);
    }
  }

  return { top, findings: [...findings.values()], read, written, cteNames, columns, functions, sites: sites.done() };

  function push(value: unknown, parent: string, field: string, plan: boolean, context: string): void {
    if (typeof value !== 'object' || value === null) return;
    values.push(value);
    parents.push(parent);
    fieldNames.push(field);
    planned.push(plan);
    contexts.push(context);
  }

  function visit(type: string, f: Fields, parent: string, field: string, plan: boolean, context: string, wrapped: boolean, isTop: boolean): void {
    let childPlan = plan;
    let skip: string | undefined;
    switch (type) {
      case 'RangeVar': {
        // FOR UPDATE OF a: `a` names a FROM item (often an alias), not a table.
        if (field === 'lockedRels') return;
        const name = relationName(f);
        if (name === undefined) return;
        sites.rangeVar(f);
        (WRITE_TARGETS.has(`${parent}.${field}`) && !plan ? written : read).add(name);
        return;
      }
      case 'ColumnRef': {
        const parts: string[] = [];
        for (const p of list(f.fields)) {
          const part = unwrap(p);
          parts.push(part === undefined ? '?' : part[0] === 'A_Star' ? '*' : (str(part[1].sval) ?? '?'));
        }
        columns.add(parts.join('.'));
        sites.columnRef(f, parent === 'ResTarget' && field === 'val');
        return;
      }
      case 'A_Indirection':
        sites.indirection(f, parent === 'ResTarget' && field === 'val');
        break;
      case 'A_Expr':
        sites.operator(f);
        break;
      case 'CaseExpr':
      case 'SubLink':
      case 'SortBy':
        sites.implicitOperator(type, f);
        if (type === 'SubLink' && str(f.subLinkType) === 'ARRAY_SUBLINK') sites.arrayBuilt();
        break;
      case 'A_ArrayExpr':
        sites.arrayBuilt();
        break;
      case 'A_Const':
      case 'ParamRef':
        if (parent !== 'TypeCast') sites.untyped();
        break;
      case 'TypeName':
        sites.typeName(f);
        break;
      case 'FuncCall': {
        const name = dottedName(f.funcname)?.toLowerCase();
        sites.funcCall(f);
        if (name !== undefined) {
          functions.add(name);
          const threat = sideEffectOf(name);
          if (threat !== undefined) add({ class: 'unknown', reason: `calls ${name}(), which ${threat}` });
        }
        skip = 'funcname';
        break;
      }
      case 'CommonTableExpr': {
        const name = str(f.ctename);
        if (name !== undefined) cteNames.add(name);
        sites.otherAlias(f, 'ctename');
        break;
      }
      case 'JoinExpr':
        sites.implicitOperator(type, f);
        sites.otherAlias(f, 'alias');
        break;
      case 'RangeTableSample':
        sites.tableSample(f);
        break;
      case 'RangeSubselect':
      case 'RangeFunction':
      case 'RangeTableFunc':
        sites.otherAlias(f, 'alias');
        break;
      case 'IntoClause':
        if (field === 'intoClause' && !plan) {
          add({ class: 'write', reason: `SELECT … INTO creates table ${relationName(f.rel) ?? '?'}` });
        }
        break;
      case 'SelectStmt': {
        const locks = list(f.lockingClause);
        if (locks.length > 0 && !plan) {
          const strength = str(unwrap(locks[0])?.[1].strength) ?? '';
          // Row locks write to the rows (xmax) and block writers; a read-only transaction refuses them.
          add({ class: 'write', reason: `SELECT … ${LOCK_WORDS.get(strength) ?? 'FOR UPDATE'} locks the rows it reads` });
        }
        break;
      }
      case 'ExplainStmt':
        childPlan = plan || !explainRuns(f);
        break;
      case 'DropStmt':
        if (DROPPED_RELATIONS.has(str(f.removeType) ?? '')) for (const name of droppedNames(f)) written.add(name);
        break;
      case 'CopyStmt':
        if (f.is_from === true) {
          const name = relationName(f.relation);
          if (name !== undefined) written.add(name);
          skip = 'relation';
        }
        break;
    }

    if (isSyntaxCall(type)) sites.syntaxCall(type, f);

    // Statements below the top: their own class counts (a DELETE in a WITH is a DELETE). Reads add
    // nothing. What EXPLAIN only plans never runs, but an EXECUTE of a statement we cannot see stays
    // unknown. Unwrapped structs are parts of their parent (a UNION arm, a foreign table's column
    // list), not statements of their own.
    if (!isTop && wrapped && isStatementType(type)) {
      for (const finding of classifyStatement(type, f).findings) {
        if (finding.class === 'read' || (plan && finding.class !== 'unknown')) continue;
        add({ class: finding.class, reason: `${context || 'nested'}: ${finding.reason}` });
      }
    }

    const labels = CONTEXTS.get(type);
    for (const key in f) {
      if (key === skip) continue;
      const child = f[key];
      if (typeof child !== 'object' || child === null) continue;
      let nextContext = context;
      const label = labels?.get(key);
      if (label !== undefined) nextContext = type === 'ExplainStmt' && childPlan ? 'EXPLAIN' : label;
      push(child, type, key, key === 'query' ? childPlan : plan, nextContext);
    }
  }
}
