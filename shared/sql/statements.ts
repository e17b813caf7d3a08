// The allowlist: every statement node type Gatehouse understands, with its kind and risk class.
// A type not listed here is `unknown` (fail closed): a new PostgreSQL release's new statement is
// refused until someone decides what it does.

import type { RiskClass } from './analysis.ts';
import { insertFinding, mergeFinding, updateOrDeleteFinding } from './dml.ts';
import { type Verdict, verdict } from './finding.ts';
import { nodeTypeWords, objectWords, transactionWords } from './kinds.ts';
import { type Fields, dottedName, isFields, relationName, relationNames, str } from './nodes.ts';
import { alterTable, copy, drop, explainRuns, variableSet } from './utility.ts';

type Rule = (node: Fields) => Verdict;

function fixed(kind: string, cls: RiskClass, reason?: string): Rule {
  return () => verdict(kind, cls, reason);
}

function ddl(kind: string): Rule {
  return fixed(kind, 'ddl');
}

function privilege(kind: string): Rule {
  return fixed(kind, 'privilege');
}

// Maintenance is ddl, not read: it takes strong locks (VACUUM FULL, CLUSTER and REINDEX lock the
// table exclusively), rewrites storage and competes with production I/O.
function maintenance(kind: string): Rule {
  return fixed(kind, 'ddl', `${kind} is maintenance: it locks tables and rewrites or rescans storage`);
}

const RULES: Readonly<Record<string, Rule>> = {
  // read
  SelectStmt: (n) => verdict(n.valuesLists !== undefined && n.targetList === undefined ? 'VALUES' : 'SELECT', 'read'),
  ReturnStmt: fixed('RETURN', 'read'),
  VariableShowStmt: fixed('SHOW', 'read'),
  ExplainStmt: (n) =>
    explainRuns(n)
      ? verdict('EXPLAIN', 'read', 'EXPLAIN ANALYZE runs the statement it explains')
      : verdict('EXPLAIN', 'read', 'EXPLAIN without ANALYZE plans the statement without running it'),

  // write / destructive
  InsertStmt: (n) => ({ kind: 'INSERT', findings: [insertFinding(n)] }),
  UpdateStmt: (n) => ({ kind: 'UPDATE', findings: [updateOrDeleteFinding('UPDATE', n)] }),
  DeleteStmt: (n) => ({ kind: 'DELETE', findings: [updateOrDeleteFinding('DELETE', n)] }),
  MergeStmt: (n) => ({ kind: 'MERGE', findings: [mergeFinding(n)] }),
  TruncateStmt: (n) => verdict('TRUNCATE', 'destructive', `TRUNCATE removes every row of ${relationNames(n.relations).join(', ')}`),
  DropStmt: drop,
  DropdbStmt: (n) => verdict('DROP DATABASE', 'destructive', `DROP DATABASE destroys ${str(n.dbname) ?? 'a database'}`),
  DropTableSpaceStmt: fixed('DROP TABLESPACE', 'destructive'),
  DropSubscriptionStmt: fixed('DROP SUBSCRIPTION', 'destructive'),
  DropOwnedStmt: fixed('DROP OWNED', 'destructive', 'DROP OWNED destroys every object the roles own'),

  // ddl
  CreateStmt: (n) => verdict('CREATE TABLE', 'ddl', `CREATE TABLE creates ${relationName(n.relation) ?? 'a table'}`),
  CreateTableAsStmt: (n) => (n.objtype === 'OBJECT_MATVIEW' ? verdict('CREATE MATERIALIZED VIEW', 'ddl') : verdict('CREATE TABLE AS', 'ddl')),
  AlterTableStmt: alterTable,
  IndexStmt: ddl('CREATE INDEX'),
  ViewStmt: ddl('CREATE VIEW'),
  RefreshMatViewStmt: ddl('REFRESH MATERIALIZED VIEW'),
  CreateFunctionStmt: (n) => verdict(n.is_procedure === true ? 'CREATE PROCEDURE' : 'CREATE FUNCTION', 'ddl'),
  AlterFunctionStmt: (n) => verdict(`ALTER ${objectWords(n.objtype, 'FUNCTION')}`, 'ddl'),
  CreateTrigStmt: ddl('CREATE TRIGGER'),
  RuleStmt: ddl('CREATE RULE'),
  CreateSchemaStmt: ddl('CREATE SCHEMA'),
  CreateSeqStmt: ddl('CREATE SEQUENCE'),
  AlterSeqStmt: ddl('ALTER SEQUENCE'),
  CreateDomainStmt: ddl('CREATE DOMAIN'),
  AlterDomainStmt: ddl('ALTER DOMAIN'),
  DefineStmt: (n) => verdict(`CREATE ${objectWords(n.kind, 'OBJECT')}`, 'ddl'),
  CompositeTypeStmt: ddl('CREATE TYPE'),
  CreateEnumStmt: ddl('CREATE TYPE'),
  CreateRangeStmt: ddl('CREATE TYPE'),
  AlterEnumStmt: ddl('ALTER TYPE'),
  AlterTypeStmt: ddl('ALTER TYPE'),
  CommentStmt: ddl('COMMENT'),
  RenameStmt: (n) =>
    n.renameType === 'OBJECT_ROLE' ? verdict('ALTER ROLE', 'privilege') : verdict(`ALTER ${objectWords(n.renameType)}`, 'ddl'),
  AlterObjectSchemaStmt: (n) => verdict(`ALTER ${objectWords(n.objectType)}`, 'ddl'),
  AlterObjectDependsStmt: (n) => verdict(`ALTER ${objectWords(n.objectType)}`, 'ddl'),
  CreateStatsStmt: ddl('CREATE STATISTICS'),
  AlterStatsStmt: ddl('ALTER STATISTICS'),
  CreateOpClassStmt: ddl('CREATE OPERATOR CLASS'),
  CreateOpFamilyStmt: ddl('CREATE OPERATOR FAMILY'),
  AlterOpFamilyStmt: ddl('ALTER OPERATOR FAMILY'),
  AlterOperatorStmt: ddl('ALTER OPERATOR'),
  CreateCastStmt: ddl('CREATE CAST'),
  CreateConversionStmt: ddl('CREATE CONVERSION'),
  CreateTransformStmt: ddl('CREATE TRANSFORM'),
  CreateAmStmt: ddl('CREATE ACCESS METHOD'),
  CreatePLangStmt: ddl('CREATE LANGUAGE'),
  CreateExtensionStmt: ddl('CREATE EXTENSION'),
  AlterExtensionStmt: ddl('ALTER EXTENSION'),
  AlterExtensionContentsStmt: ddl('ALTER EXTENSION'),
  CreateFdwStmt: ddl('CREATE FOREIGN DATA WRAPPER'),
  AlterFdwStmt: ddl('ALTER FOREIGN DATA WRAPPER'),
  CreateForeignServerStmt: ddl('CREATE SERVER'),
  AlterForeignServerStmt: ddl('ALTER SERVER'),
  CreateForeignTableStmt: ddl('CREATE FOREIGN TABLE'),
  ImportForeignSchemaStmt: ddl('IMPORT FOREIGN SCHEMA'),
  CreateEventTrigStmt: ddl('CREATE EVENT TRIGGER'),
  AlterEventTrigStmt: ddl('ALTER EVENT TRIGGER'),
  CreatePublicationStmt: ddl('CREATE PUBLICATION'),
  AlterPublicationStmt: ddl('ALTER PUBLICATION'),
  CreateSubscriptionStmt: ddl('CREATE SUBSCRIPTION'),
  AlterSubscriptionStmt: ddl('ALTER SUBSCRIPTION'),
  CreatedbStmt: ddl('CREATE DATABASE'),
  AlterDatabaseStmt: ddl('ALTER DATABASE'),
  AlterDatabaseSetStmt: ddl('ALTER DATABASE'),
  AlterDatabaseRefreshCollStmt: ddl('ALTER DATABASE'),
  AlterCollationStmt: ddl('ALTER COLLATION'),
  AlterTSDictionaryStmt: ddl('ALTER TEXT SEARCH DICTIONARY'),
  AlterTSConfigurationStmt: ddl('ALTER TEXT SEARCH CONFIGURATION'),
  CreateTableSpaceStmt: ddl('CREATE TABLESPACE'),
  AlterTableSpaceOptionsStmt: ddl('ALTER TABLESPACE'),
  AlterTableMoveAllStmt: (n) => verdict(`ALTER ${objectWords(n.objtype, 'TABLE')}`, 'ddl'),
  ReplicaIdentityStmt: ddl('ALTER TABLE'),
  VacuumStmt: (n) => maintenance(n.is_vacuumcmd === true ? 'VACUUM' : 'ANALYZE')(n),
  ClusterStmt: maintenance('CLUSTER'),
  ReindexStmt: maintenance('REINDEX'),

  // privilege
  GrantStmt: (n) => verdict(n.is_grant === true ? 'GRANT' : 'REVOKE', 'privilege'),
  GrantRoleStmt: (n) => verdict(n.is_grant === true ? 'GRANT' : 'REVOKE', 'privilege'),
  CreateRoleStmt: (n) => verdict(`CREATE ${String(n.stmt_type ?? 'ROLESTMT_ROLE').replace('ROLESTMT_', '')}`, 'privilege'),
  AlterRoleStmt: privilege('ALTER ROLE'),
  AlterRoleSetStmt: privilege('ALTER ROLE'),
  DropRoleStmt: privilege('DROP ROLE'),
  AlterDefaultPrivilegesStmt: privilege('ALTER DEFAULT PRIVILEGES'),
  SecLabelStmt: privilege('SECURITY LABEL'),
  AlterOwnerStmt: (n) => verdict(`ALTER ${objectWords(n.objectType)}`, 'privilege', `ALTER ${objectWords(n.objectType)} … OWNER TO changes ownership`),
  ReassignOwnedStmt: privilege('REASSIGN OWNED'),
  // Row-level security policies decide which rows each role sees: access control, not schema.
  CreatePolicyStmt: privilege('CREATE POLICY'),
  AlterPolicyStmt: privilege('ALTER POLICY'),
  // A user mapping stores the credentials a role uses on a foreign server.
  CreateUserMappingStmt: privilege('CREATE USER MAPPING'),
  AlterUserMappingStmt: privilege('ALTER USER MAPPING'),
  DropUserMappingStmt: privilege('DROP USER MAPPING'),

  // session
  TransactionStmt: (n) => verdict(transactionWords(n.kind), 'session'),
  VariableSetStmt: variableSet,
  ConstraintsSetStmt: fixed('SET CONSTRAINTS', 'session'),
  ListenStmt: fixed('LISTEN', 'session'),
  UnlistenStmt: fixed('UNLISTEN', 'session'),
  NotifyStmt: fixed('NOTIFY', 'session', 'NOTIFY sends a message to listening sessions'),
  DiscardStmt: fixed('DISCARD', 'session'),
  DeclareCursorStmt: fixed('DECLARE CURSOR', 'session', 'DECLARE opens a cursor; its query runs on FETCH'),
  ClosePortalStmt: fixed('CLOSE', 'session'),
  DeallocateStmt: fixed('DEALLOCATE', 'session'),

  // unknown: effects the statement's own tree does not show
  DoStmt: fixed('DO', 'unknown', 'DO runs an anonymous code block the parser cannot see into'),
  CallStmt: (n) =>
    verdict('CALL', 'unknown', `CALL runs procedure ${procedureName(n) ?? '?'}, whose effects the parser cannot see`),
  ExecuteStmt: (n) => verdict('EXECUTE', 'unknown', `EXECUTE runs prepared statement ${str(n.name) ?? '?'}, which this request does not show`),
  PrepareStmt: fixed('PREPARE', 'unknown', 'PREPARE stores a statement for a later EXECUTE'),
  CopyStmt: copy,
  LoadStmt: fixed('LOAD', 'unknown', 'LOAD loads a shared library into the server process'),
  CheckPointStmt: fixed('CHECKPOINT', 'unknown', 'CHECKPOINT forces a checkpoint: heavy I/O on the whole server'),
  LockStmt: fixed('LOCK', 'unknown', 'LOCK takes table locks that can block production traffic'),
  FetchStmt: (n) =>
    verdict(n.ismove === true ? 'MOVE' : 'FETCH', 'unknown', 'FETCH reads from a cursor whose query this request does not show'),
  AlterSystemStmt: fixed('ALTER SYSTEM', 'unknown', 'ALTER SYSTEM rewrites server configuration (some settings run programs)'),
};

/** Kind and findings for one statement node; unknown types fail closed. */
export function classifyStatement(pgType: string, node: Fields): Verdict {
  const rule = Object.hasOwn(RULES, pgType) ? RULES[pgType] : undefined;
  if (rule !== undefined) return rule(node);
  return verdict(nodeTypeWords(pgType), 'unknown', `statement type ${pgType} is not recognised`);
}

export function isStatementType(pgType: string): boolean {
  return pgType.endsWith('Stmt') && pgType !== 'RawStmt';
}

function procedureName(n: Fields): string | undefined {
  return isFields(n.funccall) ? dottedName(n.funccall.funcname)?.toLowerCase() : undefined;
}
