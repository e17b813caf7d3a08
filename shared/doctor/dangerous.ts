// What a Gatehouse role must not be able to do, as lists the doctor (probe.ts) and the
// least-privilege script (docs/least-privilege.sql) both follow. Names, not OIDs or schemas: an
// extension can be installed in any schema, and a function of the same name planted elsewhere is
// just as suspect. test/doctor/checks.test.ts checks the script names the same patterns.

/**
 * Predefined roles that reach the server itself: files, programs, other backends. Checked by
 * membership (pg_has_role … 'MEMBER'), so a grant through an intermediate role counts.
 */
export const SERVER_ROLES = ['pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program', 'pg_signal_backend'] as const;

export interface FunctionFamily {
  /** Why a role that runs bots' SQL must not execute these. */
  readonly why: string;
  /** SQL LIKE patterns over pg_proc.proname (`\` escapes `_` and `%`). */
  readonly patterns: readonly string[];
}

export const DANGEROUS_FUNCTIONS: readonly FunctionFamily[] = [
  { why: 'opens connections and runs SQL strings elsewhere, outside READ ONLY (dblink)', patterns: ['dblink%'] },
  { why: 'reads, writes or deletes large objects (allowed inside READ ONLY)', patterns: ['lo\\_%', 'loread', 'lowrite'] },
  {
    why: 'reads or writes server files',
    patterns: ['pg\\_read\\_file', 'pg\\_read\\_binary\\_file', 'pg\\_ls\\_%', 'pg\\_stat\\_file', 'pg\\_file\\_%', 'pg\\_logdir\\_ls'],
  },
  {
    why: 'signals other backends or the server',
    patterns: ['pg\\_terminate\\_backend', 'pg\\_cancel\\_backend', 'pg\\_signal\\_backend', 'pg\\_reload\\_conf', 'pg\\_rotate\\_logfile', 'pg\\_promote'],
  },
  { why: 'holds a backend for as long as the caller likes', patterns: ['pg\\_sleep%'] },
  {
    why: 'runs a SQL string, or reads a whole table or schema, where masking lineage cannot follow',
    patterns: [
      'query\\_to\\_xml%',
      'cursor\\_to\\_xml%',
      'table\\_to\\_xml%',
      'schema\\_to\\_xml%',
      'database\\_to\\_xml%',
      'ts\\_stat',
      'ts\\_rewrite',
      'crosstab%',
      'connectby',
      'pg\\_background\\_%',
    ],
  },
];

export const DANGEROUS_FUNCTION_PATTERNS: readonly string[] = DANGEROUS_FUNCTIONS.flatMap((f) => f.patterns);

/**
 * Extensions that add a way to run a SQL string, or a program, that the gateway's analysis sees
 * only as an opaque function call. Reported (a warning): with EXECUTE revoked they are harmless.
 */
export const SQL_RUNNER_EXTENSIONS = [
  'dblink',
  'tablefunc',
  'postgres_fdw',
  'pg_background',
  'pg_cron',
  'plpython3u',
  'plpython2u',
  'plpythonu',
  'plperlu',
  'pltclu',
  'plsh',
  'adminpack',
] as const;

/** Untrusted languages that are not PostgreSQL's own (`internal`, `c` hold the built-ins). */
export const BUILTIN_UNTRUSTED_LANGUAGES = ['internal', 'c'] as const;
