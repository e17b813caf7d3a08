-- A least-privilege role for Gatehouse (docs/least-privilege.md explains each part).
--
-- Run it as a superuser, or as the owner of the database and of its extensions, in EACH database
-- a Gatehouse connection names; it is safe to run again (after installing an extension, say):
--
--   psql "postgres://ADMIN@HOST/DBNAME" -v ON_ERROR_STOP=1 -f docs/least-privilege.sql
--
-- then give the role a password interactively, never on a command line:  \password gatehouse_app
-- and check the result with the role's own credentials:  npx gatehouse doctor --connection NAME
--
-- It revokes EXECUTE on the dangerous functions FROM PUBLIC, i.e. from every role of this
-- database: grant back only what another application really uses, to that application's role
-- (GRANT EXECUTE ON FUNCTION pg_catalog.lo_unlink(oid) TO billing_app).

-- 1. The role: can log in, nothing else. A role of its own, shared with no other application:
--    whoever shares it can be cancelled or terminated by it, and can reach its session state.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'gatehouse_app') THEN
    CREATE ROLE gatehouse_app LOGIN;
  END IF;
END
$$;
ALTER ROLE gatehouse_app NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

-- 2. What it may read: this database, the public schema's tables and views, now and later.
DO $$
BEGIN
  EXECUTE pg_catalog.format('GRANT CONNECT ON DATABASE %I TO gatehouse_app', pg_catalog.current_database());
END
$$;
GRANT USAGE ON SCHEMA public TO gatehouse_app;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO gatehouse_app;
-- Tables that the role running this script creates later (add FOR ROLE owner for other owners).
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO gatehouse_app;

-- Writes only where a policy rule can approve them, table by table, for example:
-- GRANT INSERT, UPDATE ON public.orders TO gatehouse_app;
-- A deployment that never writes can let PostgreSQL refuse every write as well:
-- ALTER ROLE gatehouse_app SET default_transaction_read_only = on;

-- 3. What it must not execute, whatever the schema: the same name patterns `gatehouse doctor`
--    checks (shared/doctor/dangerous.ts) — dblink; large objects (writable inside READ ONLY);
--    server files; signals to other backends; sleep; functions that run a SQL string or read a
--    whole table where masking cannot follow (query_to_xml…, ts_stat, crosstab, connectby, …).
DO $$
DECLARE
  f pg_catalog.regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::pg_catalog.regprocedure FROM pg_catalog.pg_proc p
    WHERE p.proname::pg_catalog.text LIKE ANY (ARRAY[
      'dblink%',
      'lo\_%', 'loread', 'lowrite',
      'pg\_read\_file', 'pg\_read\_binary\_file', 'pg\_ls\_%', 'pg\_stat\_file', 'pg\_file\_%', 'pg\_logdir\_ls',
      'pg\_terminate\_backend', 'pg\_cancel\_backend', 'pg\_signal\_backend', 'pg\_reload\_conf', 'pg\_rotate\_logfile', 'pg\_promote',
      'pg\_sleep%',
      'query\_to\_xml%', 'cursor\_to\_xml%', 'table\_to\_xml%', 'schema\_to\_xml%', 'database\_to\_xml%',
      'ts\_stat', 'ts\_rewrite', 'crosstab%', 'connectby', 'pg\_background\_%'
    ])
  LOOP
    EXECUTE pg_catalog.format('REVOKE EXECUTE ON ROUTINE %s FROM PUBLIC, gatehouse_app', f);
  END LOOP;
END
$$;

-- 4. Functions written in an untrusted language (plpython3u, plperlu, …) run code on the server.
DO $$
DECLARE
  f pg_catalog.regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::pg_catalog.regprocedure FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_language l ON l.oid = p.prolang
    WHERE NOT l.lanpltrusted AND l.lanname NOT IN ('internal', 'c')
  LOOP
    EXECUTE pg_catalog.format('REVOKE EXECUTE ON ROUTINE %s FROM PUBLIC, gatehouse_app', f);
  END LOOP;
END
$$;
