// The doctor's catalog queries, in one place. Read-only, schema-qualified, parameters bound: they
// run on a connection nobody else uses, but with the role's own search_path.

export const ROLE = `
SELECT r.rolname::text AS name, r.rolsuper AS superuser,
       r.rolcreaterole AS createrole, r.rolcreatedb AS createdb,
       r.rolreplication AS replication, r.rolbypassrls AS bypassrls
FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user`;

export const SERVER_VERSION = `SELECT pg_catalog.current_setting('server_version') AS v`;

/** $1: role names. Those that exist and the current role is a member of, directly or not. */
export const SERVER_ROLE_MEMBERSHIP = `
SELECT r.rolname::text AS name FROM pg_catalog.pg_roles r
WHERE r.rolname OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.text[])
  AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')
ORDER BY 1`;

/** $1: LIKE patterns over proname. Functions of those names, any schema, the role may execute. */
export const EXECUTABLE_DANGEROUS_FUNCTIONS = `
SELECT p.oid::pg_catalog.regprocedure::pg_catalog.text AS signature, n.nspname AS schema
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
WHERE p.proname::pg_catalog.text OPERATOR(pg_catalog.~~) ANY ($1::pg_catalog.text[])
  AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE')
ORDER BY 1`;

/** $1: languages to leave out (internal, c). Functions in other untrusted languages the role may execute. */
export const EXECUTABLE_UNTRUSTED_FUNCTIONS = `
SELECT p.oid::pg_catalog.regprocedure::pg_catalog.text AS signature
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid OPERATOR(pg_catalog.=) p.prolang
WHERE NOT l.lanpltrusted AND l.lanname::pg_catalog.text OPERATOR(pg_catalog.<>) ALL ($1::pg_catalog.text[])
  AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE')
ORDER BY 1`;

/**
 * Other backends whose role is this one or one it is a member of: a non-superuser may cancel and
 * terminate exactly those. $1: application_names of Gatehouse's own connections.
 */
export const SIGNALLABLE_SESSIONS = `
SELECT a.usename::pg_catalog.text AS role,
       (a.usesysid OPERATOR(pg_catalog.=) r.oid AND a.application_name OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.text[])) AS gatehouse,
       pg_catalog.count(*)::pg_catalog.int4 AS n
FROM pg_catalog.pg_stat_activity a, pg_catalog.pg_roles r
WHERE r.rolname OPERATOR(pg_catalog.=) current_user
  AND a.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
  AND a.usesysid IS NOT NULL
  AND pg_catalog.pg_has_role(current_user, a.usesysid, 'MEMBER')
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
