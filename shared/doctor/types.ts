// The doctor's result: one report per connection, a list of checks each. `id` and `code` are the
// contract (`gatehouse doctor --json`); `message` is for people and may change.

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'info' | 'error';

export type CheckId =
  | 'connect'
  | 'not_superuser'
  | 'role_attributes'
  | 'no_server_roles'
  | 'no_dangerous_functions'
  | 'no_untrusted_language_functions'
  | 'role_not_shared'
  | 'default_read_only'
  | 'sql_runner_extensions';

export interface Check {
  readonly id: CheckId;
  readonly status: CheckStatus;
  /** Stable snake_case outcome, e.g. `role_is_superuser`, `ok`, `check_failed`. */
  readonly code: string;
  readonly message: string;
  /** What the check found: role names, function signatures, extensions. Never a value or a secret. */
  readonly items?: readonly string[];
}

export interface ConnectionReport {
  readonly connection: string;
  /** False when any check failed or could not be made. */
  readonly ok: boolean;
  /** The role the connection logs in as (current_user), when it connected. */
  readonly role?: string;
  readonly serverVersion?: string;
  readonly checks: readonly Check[];
}

export interface DoctorReport {
  readonly ok: boolean;
  readonly connections: readonly ConnectionReport[];
}

/** One catalog query's answer, or why there is none (its SQLSTATE; never the server's text). */
export type Probe<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly sqlstate?: string };

export interface SessionGroup {
  readonly role: string;
  /** True for the connection's own role with a Gatehouse application_name: its own pool. */
  readonly gatehouse: boolean;
  readonly count: number;
}

/** What the adapter (probe.ts) learns from the server; checks.ts turns it into checks. */
export interface Facts {
  /**
   * `name`: current_user, what statements run as; `login`: session_user. The rest is over every
   * role the login role can SET ROLE to (itself included), as is every other fact below.
   */
  readonly role: Probe<{ readonly name: string; readonly login: string; readonly superuserRoles: readonly string[]; readonly attributes: readonly string[] }>;
  readonly serverVersion: Probe<string>;
  /** SERVER_ROLES the login role is a member of. */
  readonly serverRoles: Probe<readonly string[]>;
  /** Signatures (`schema.name(args)`) of dangerous functions the role may EXECUTE. */
  readonly dangerousFunctions: Probe<readonly string[]>;
  /** Signatures of functions in untrusted languages (plpython3u, …) the role may EXECUTE. */
  readonly untrustedFunctions: Probe<readonly string[]>;
  /** Other sessions whose backends it could signal (of roles the login role is a member of). */
  readonly sessions: Probe<readonly SessionGroup[]>;
  readonly defaultReadOnly: Probe<boolean>;
  readonly runners: Probe<{ readonly extensions: readonly string[]; readonly languages: readonly string[] }>;
}
