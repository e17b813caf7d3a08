// Every statement this module sends on its own behalf, in one place. Anything that runs after the
// bot's statement, in the same session, names its schema and operators explicitly: that statement
// may have changed search_path.

/** Reads: PostgreSQL itself then refuses writes the parser missed (functions, nextval, …). */
export const BEGIN_READ_ONLY = 'BEGIN READ ONLY';

/** Plain BEGIN, not READ WRITE: a database or role a DBA made read-only stays read-only. */
export const BEGIN = 'BEGIN';

/**
 * Scoped to the transaction (is_local = true), so it cannot outlive the statement. A bound
 * parameter rather than SET LOCAL, which takes no parameters. Running a query here also locks
 * the transaction's read-only mode: `SET TRANSACTION READ WRITE` is refused after any query.
 */
export const SET_STATEMENT_TIMEOUT = "SELECT pg_catalog.set_config('statement_timeout', $1, true)";

/** Assigns the write's transaction id now and returns it, as text: a bigint does not fit a JS number. */
export const CURRENT_TXID = 'SELECT pg_catalog.txid_current()::pg_catalog.text AS txid';

/** Whether that transaction committed, for reconciliation: committed, aborted, in progress or NULL. */
export const TXID_STATUS = 'SELECT pg_catalog.txid_status($1::pg_catalog.int8) AS status';

export const COMMIT = 'COMMIT';
export const ROLLBACK = 'ROLLBACK';

/**
 * Before a connection goes back to the pool: the next request may come from another bot, and a
 * statement can leave session state behind that no rollback undoes (SET ROLE or set_config in a
 * committed write, advisory locks, prepared statements, LISTEN, temporary tables).
 */
export const RESET_SESSION = 'DISCARD ALL';

/** Once per physical connection, for cancelling a statement that outruns its deadline. */
export const BACKEND_PID = 'SELECT pg_catalog.pg_backend_pid() AS pid';

export const CANCEL_BACKEND = 'SELECT pg_catalog.pg_cancel_backend($1::pg_catalog.int4)';

export const TYPE_NAMES =
  'SELECT t.oid, t.typname FROM pg_catalog.pg_type t WHERE t.oid OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.oid[])';
