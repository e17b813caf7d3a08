// PostgreSQL and driver errors become GatehouseErrors here and nowhere else. What is kept: the
// SQLSTATE, the error position and PostgreSQL's primary message, which concerns the bot's own
// statement. What is dropped: `detail` (it quotes row values, e.g. the duplicate key), `where`,
// `hint` and the original error as `cause` — a connect error can carry the host, a URL parse
// error the whole URL with its password.
import pg from 'pg';
import { GatehouseError, isGatehouseError } from '../errors.ts';
import { conditionName } from '../sql/sqlstate-names.ts';

const READ_ONLY_SQL_TRANSACTION = '25006';
const QUERY_CANCELED = '57014';
const PROTOCOL_VIOLATION = '08P01';
const INDETERMINATE_DATATYPE = '42P18';

/**
 * The bot's parameters do not fit its statement: a count the Bind message gets wrong (08P01, which
 * is not the connection failing), a parameter whose type cannot be worked out (42P18), or a value
 * its type refuses at Bind (PostgreSQL names the parameter in `where`: "unnamed portal parameter
 * $1 = '…'", or `portal "C_1" parameter …` for pg-cursor's named portal). Nothing ran.
 */
function isParamsError(e: pg.DatabaseError): boolean {
  if (e.code === PROTOCOL_VIOLATION) return /^bind message /.test(e.message);
  if (e.code === INDETERMINATE_DATATYPE) return true;
  return typeof e.where === 'string' && /portal (?:"[^"]*" )?parameter \$\d+/.test(e.where);
}

/** SQLSTATEs meaning the server or the session is gone, not that the statement was wrong. */
function isUnavailable(sqlstate: string): boolean {
  return (
    sqlstate.startsWith('08') || // connection exception
    sqlstate.startsWith('28') || // invalid authorization
    sqlstate === '3D000' || // database does not exist
    sqlstate === '53300' || // too many connections
    sqlstate.startsWith('57P') // admin shutdown, crash shutdown, cannot connect now, database dropped
  );
}

export function isAuthFailure(e: unknown): boolean {
  return e instanceof pg.DatabaseError && typeof e.code === 'string' && e.code.startsWith('28');
}

/** An error from taking a connection: the message names the connection and nothing else. */
export function connectError(connection: string, e: unknown): GatehouseError {
  if (isGatehouseError(e)) return e;
  return new GatehouseError('database_unavailable', `database connection "${connection}" is unavailable`, {
    connection,
    ...reasonOf(e),
  });
}

/** An error while the statement's transaction ran. */
export function statementError(connection: string, e: unknown): GatehouseError {
  if (isGatehouseError(e)) return e;
  if (!(e instanceof pg.DatabaseError) || typeof e.code !== 'string') return connectError(connection, e);
  const sqlstate = e.code;
  const condition = conditionName(sqlstate);
  if (isParamsError(e)) {
    // Fixed text: the server's quotes the parameter's value.
    return new GatehouseError('params_invalid', `the parameters do not fit the statement: ${condition} (SQLSTATE ${sqlstate})`, { sqlstate, condition });
  }
  if (sqlstate === READ_ONLY_SQL_TRANSACTION) return new GatehouseError('read_only_violation', e.message, { sqlstate });
  if (sqlstate === QUERY_CANCELED) return new GatehouseError('statement_timeout', e.message, { sqlstate });
  if (isUnavailable(sqlstate)) return connectError(connection, e);
  const position = Number(e.position);
  return new GatehouseError('execution_failed', e.message, {
    sqlstate,
    condition,
    ...(Number.isInteger(position) && position > 0 ? { position } : {}),
  });
}

/** A short, credential-free reason: a SQLSTATE or a Node error code such as ECONNREFUSED. */
function reasonOf(e: unknown): Record<string, string> {
  if (e instanceof pg.DatabaseError && typeof e.code === 'string') {
    return { sqlstate: e.code, reason: e.code.startsWith('28') ? 'authentication failed' : 'refused by the server' };
  }
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return { reason: code };
  return {};
}
