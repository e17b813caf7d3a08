// Readable statement kinds: what a DBA would call the statement, close to PostgreSQL's command tag.

const OBJECT_WORDS: Readonly<Record<string, string>> = {
  OBJECT_MATVIEW: 'MATERIALIZED VIEW',
  OBJECT_FDW: 'FOREIGN DATA WRAPPER',
  OBJECT_FOREIGN_SERVER: 'SERVER',
  OBJECT_OPCLASS: 'OPERATOR CLASS',
  OBJECT_OPFAMILY: 'OPERATOR FAMILY',
  OBJECT_LARGEOBJECT: 'LARGE OBJECT',
  OBJECT_STATISTIC_EXT: 'STATISTICS',
  OBJECT_TABCONSTRAINT: 'CONSTRAINT',
  OBJECT_DOMCONSTRAINT: 'CONSTRAINT',
  OBJECT_TSCONFIGURATION: 'TEXT SEARCH CONFIGURATION',
  OBJECT_TSDICTIONARY: 'TEXT SEARCH DICTIONARY',
  OBJECT_TSPARSER: 'TEXT SEARCH PARSER',
  OBJECT_TSTEMPLATE: 'TEXT SEARCH TEMPLATE',
  OBJECT_DEFACL: 'DEFAULT PRIVILEGES',
  OBJECT_AMOP: 'OPERATOR FAMILY',
  OBJECT_AMPROC: 'OPERATOR FAMILY',
  OBJECT_PUBLICATION_NAMESPACE: 'PUBLICATION',
  OBJECT_PUBLICATION_REL: 'PUBLICATION',
  OBJECT_PARAMETER_ACL: 'PARAMETER',
};

/** `OBJECT_FOREIGN_TABLE` → `FOREIGN TABLE`; `fallback` when the field is missing. */
export function objectWords(objectType: unknown, fallback = 'OBJECT'): string {
  if (typeof objectType !== 'string') return fallback;
  if (Object.hasOwn(OBJECT_WORDS, objectType)) return OBJECT_WORDS[objectType]!;
  return objectType.replace(/^OBJECT_/, '').replaceAll('_', ' ');
}

/** The fallback for a parse node nobody mapped: `AlterTableMoveAllStmt` → `ALTER_TABLE_MOVE_ALL`. */
export function nodeTypeWords(pgType: string): string {
  return pgType
    .replace(/Stmt$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toUpperCase();
}

const TRANSACTION_WORDS: Readonly<Record<string, string>> = {
  TRANS_STMT_BEGIN: 'BEGIN',
  TRANS_STMT_START: 'START TRANSACTION',
  TRANS_STMT_COMMIT: 'COMMIT',
  TRANS_STMT_ROLLBACK: 'ROLLBACK',
  TRANS_STMT_SAVEPOINT: 'SAVEPOINT',
  TRANS_STMT_RELEASE: 'RELEASE',
  TRANS_STMT_ROLLBACK_TO: 'ROLLBACK TO SAVEPOINT',
  TRANS_STMT_PREPARE: 'PREPARE TRANSACTION',
  TRANS_STMT_COMMIT_PREPARED: 'COMMIT PREPARED',
  TRANS_STMT_ROLLBACK_PREPARED: 'ROLLBACK PREPARED',
};

export function transactionWords(kind: unknown): string {
  return typeof kind === 'string' && Object.hasOwn(TRANSACTION_WORDS, kind) ? TRANSACTION_WORDS[kind]! : 'TRANSACTION';
}
