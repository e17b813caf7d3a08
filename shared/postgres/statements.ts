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

/**
 * Reads: sent between the bot's statement and the pipelined COMMIT. SAVEPOINT is refused
 * ("can only be used in transaction blocks", 25P01) in the implicit transaction that follows a
 * statement which ended our transaction (COMMIT, ROLLBACK, PREPARE TRANSACTION): the server then
 * skips our COMMIT. Allowed in a READ ONLY transaction; it writes nothing.
 */
export const IN_TRANSACTION_PROBE = 'SAVEPOINT gatehouse_in_transaction';

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

/**
 * After RESET_SESSION, on every release: is dblink installed in this database? DISCARD ALL does
 * not close dblink's connections, named or unnamed, so a connection one request opened would
 * otherwise serve the next request on this backend. A one-row catalog read (measured:
 * `npm run bench -- release`), so databases without dblink pay next to nothing.
 */
export const DBLINK_INSTALLED = `SELECT 1 FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'dblink'`;

/**
 * When dblink is installed: closes every connection of this session — the named ones
 * dblink_get_connections() lists, then the unnamed one, which it does not list ("connection not
 * available" means there is none; caught here, so the server log gets no error line per request).
 * A role that may not call those three functions but may call some other dblink function could
 * hold a connection it cannot close: the block raises, and the caller destroys the backend. The
 * schema is looked up and quoted inside, so no catalog text is ever spliced into this statement.
 */
export const DBLINK_CLEAN_UP = `DO $gatehouse$
DECLARE
  s pg_catalog.text;
  closable pg_catalog.bool;
BEGIN
  SELECT n.nspname INTO s FROM pg_catalog.pg_extension e
    JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
    WHERE e.extname OPERATOR(pg_catalog.=) 'dblink';
  IF s IS NULL THEN RETURN; END IF;
  closable := COALESCE(
    pg_catalog.has_function_privilege(pg_catalog.to_regprocedure(pg_catalog.quote_ident(s) OPERATOR(pg_catalog.||) '.dblink_get_connections()'), 'EXECUTE')
    AND pg_catalog.has_function_privilege(pg_catalog.to_regprocedure(pg_catalog.quote_ident(s) OPERATOR(pg_catalog.||) '.dblink_disconnect()'), 'EXECUTE')
    AND pg_catalog.has_function_privilege(pg_catalog.to_regprocedure(pg_catalog.quote_ident(s) OPERATOR(pg_catalog.||) '.dblink_disconnect(text)'), 'EXECUTE'),
    false);
  IF closable THEN
    EXECUTE pg_catalog.format('SELECT %I.dblink_disconnect(c) FROM pg_catalog.unnest(%I.dblink_get_connections()) AS c', s, s);
    BEGIN
      EXECUTE pg_catalog.format('SELECT %I.dblink_disconnect()', s);
    EXCEPTION WHEN connection_does_not_exist THEN NULL;
    END;
    RETURN;
  END IF;
  -- No dblink function at all: nothing this role could have opened. (A SECURITY DEFINER function
  -- that opens one keeps it to its owner's code; the least-privilege script revokes dblink.)
  IF EXISTS (
    SELECT FROM pg_catalog.pg_extension e
    JOIN pg_catalog.pg_depend d ON d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
      AND d.refobjid OPERATOR(pg_catalog.=) e.oid AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
      AND d.deptype OPERATOR(pg_catalog.=) 'e'
    WHERE e.extname OPERATOR(pg_catalog.=) 'dblink' AND pg_catalog.has_function_privilege(d.objid, 'EXECUTE')
  ) THEN
    RAISE EXCEPTION 'this role may use dblink but not close its connections';
  END IF;
END
$gatehouse$`;
