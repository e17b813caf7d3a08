// The doctor's catalog queries, in one place. Read-only, schema-qualified, parameters bound: they
// run on a connection nobody else uses, but with the role's own search_path.

/**
 * The role statements run as (current_user), and what the login role (session_user) can become:
 * a bot's `SET ROLE x` succeeds for any x session_user is a member of, so every check below looks
 * at all of those roles, not only at the current one.
 */
export const REACHABLE_ROLES = `pg_catalog.pg_has_role(session_user, r.oid, 'MEMBER')`;

export const ROLE = `
SELECT current_user::pg_catalog.text AS name, session_user::pg_catalog.text AS login,
       COALESCE(pg_catalog.array_agg(r.rolname::pg_catalog.text ORDER BY r.rolname) FILTER (WHERE r.rolsuper), '{}') AS superusers,
       pg_catalog.bool_or(r.rolcreaterole) AS createrole, pg_catalog.bool_or(r.rolcreatedb) AS createdb,
       pg_catalog.bool_or(r.rolreplication) AS replication, pg_catalog.bool_or(r.rolbypassrls) AS bypassrls
FROM pg_catalog.pg_roles r WHERE ${REACHABLE_ROLES}`;

export const SERVER_VERSION = `SELECT pg_catalog.current_setting('server_version') AS v`;

/** $1: role names. Those that exist and the login role is a member of, directly or not. */
export const SERVER_ROLE_MEMBERSHIP = `
SELECT r.rolname::pg_catalog.text AS name FROM pg_catalog.pg_roles r
WHERE r.rolname OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.text[])
  AND ${REACHABLE_ROLES}
ORDER BY 1`;

/** Some role the login role can become may execute function p. */
const EXECUTABLE = `EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE ${REACHABLE_ROLES} AND pg_catalog.has_function_privilege(r.oid, p.oid, 'EXECUTE'))`;

/** $1: LIKE patterns over proname. Functions of those names, any schema, the role(s) may execute. */
export const EXECUTABLE_DANGEROUS_FUNCTIONS = `
SELECT p.oid::pg_catalog.regprocedure::pg_catalog.text AS signature, n.nspname AS schema
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
WHERE p.proname::pg_catalog.text OPERATOR(pg_catalog.~~) ANY ($1::pg_catalog.text[])
  AND ${EXECUTABLE}
ORDER BY 1`;

/** $1: languages to leave out (internal, c). Functions in other untrusted languages the role may execute. */
export const EXECUTABLE_UNTRUSTED_FUNCTIONS = `
SELECT p.oid::pg_catalog.regprocedure::pg_catalog.text AS signature
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid OPERATOR(pg_catalog.=) p.prolang
WHERE NOT l.lanpltrusted AND l.lanname::pg_catalog.text OPERATOR(pg_catalog.<>) ALL ($1::pg_catalog.text[])
  AND ${EXECUTABLE}
ORDER BY 1`;

/**
 * Other backends whose role is one the login role is a member of (itself included): a
 * non-superuser may cancel and terminate exactly those. $1: application_names of Gatehouse's own
 * connections (counted as its own only under the current role).
 */
export const SIGNALLABLE_SESSIONS = `
SELECT a.usename::pg_catalog.text AS role,
       (a.usesysid OPERATOR(pg_catalog.=) r.oid AND a.application_name OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.text[])) AS gatehouse,
       pg_catalog.count(*)::pg_catalog.int4 AS n
FROM pg_catalog.pg_stat_activity a, pg_catalog.pg_roles r
WHERE r.rolname OPERATOR(pg_catalog.=) current_user
  AND a.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
  AND a.usesysid IS NOT NULL
  AND pg_catalog.pg_has_role(session_user, a.usesysid, 'MEMBER')
GROUP BY 1, 2 ORDER BY 1, 2`;

export const DEFAULT_READ_ONLY = `SELECT pg_catalog.current_setting('default_transaction_read_only') AS v`;

/** $1: extension names; $2: languages to leave out. */
export const SQL_RUNNERS = `
SELECT 'extension' AS kind, e.extname::pg_catalog.text AS name FROM pg_catalog.pg_extension e
WHERE e.extname::pg_catalog.text OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.text[])
UNION ALL
SELECT 'language', l.lanname::pg_catalog.text FROM pg_catalog.pg_language l
WHERE NOT l.lanpltrusted AND l.lanname::pg_catalog.text OPERATOR(pg_catalog.<>) ALL ($2::pg_catalog.text[])
ORDER BY 1, 2`;
