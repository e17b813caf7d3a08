// Facts → checks: pure, so every verdict is testable without a server. A check whose facts could
// not be read is `error`, never `pass`: the doctor fails closed like everything else here.
import type { Check, CheckId, ConnectionReport, Facts, Probe } from './types.ts';

export function buildChecks(facts: Facts): Check[] {
  return [
    from(facts.role, 'not_superuser', (r) => {
      if (r.superuserRoles.length === 0) return pass('not_superuser', `role ${r.name} is not a superuser, and cannot SET ROLE to one`);
      const what = r.superuserRoles.includes(r.name) ? `role ${r.name} is a superuser` : `login role ${r.login} can SET ROLE to superuser ${r.superuserRoles.join(', ')}`;
      return fail(
        'not_superuser',
        'role_is_superuser',
        `${what}: it bypasses every grant and row-level security, and can read and write server files and run programs`,
        r.superuserRoles,
      );
    }),
    from(facts.role, 'role_attributes', (r) =>
      r.attributes.length > 0
        ? fail('role_attributes', 'role_has_dangerous_attributes', `role ${r.name}, or a role it can SET ROLE to, has ${r.attributes.join(', ')}`, r.attributes)
        : pass('role_attributes', 'no CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS'),
    ),
    from(facts.serverRoles, 'no_server_roles', (roles) =>
      roles.length > 0
        ? fail('no_server_roles', 'role_is_member_of_server_roles', `member of ${roles.join(', ')}`, roles)
        : pass('no_server_roles', 'not a member of pg_read_server_files, pg_write_server_files, pg_execute_server_program or pg_signal_backend'),
    ),
    from(facts.dangerousFunctions, 'no_dangerous_functions', (fns) =>
      fns.length > 0
        ? fail('no_dangerous_functions', 'dangerous_functions_executable', `may execute ${fns.length} dangerous function(s): ${preview(fns)}`, fns)
        : pass('no_dangerous_functions', 'may execute none of the dangerous functions (dblink, large objects, files, signals, sleep, SQL-string runners)'),
    ),
    from(facts.untrustedFunctions, 'no_untrusted_language_functions', (fns) =>
      fns.length > 0
        ? fail(
            'no_untrusted_language_functions',
            'untrusted_language_functions_executable',
            `may execute ${fns.length} function(s) in an untrusted language: ${preview(fns)}`,
            fns,
          )
        : pass('no_untrusted_language_functions', 'may execute no function written in an untrusted language'),
    ),
    from(facts.sessions, 'role_not_shared', (groups) => {
      const others = groups.filter((g) => !g.gatehouse);
      const own = groups.filter((g) => g.gatehouse).reduce((n, g) => n + g.count, 0);
      if (others.length === 0) return pass('role_not_shared', `no other application's session runs as this role or one it is a member of${own > 0 ? ` (${own} Gatehouse session(s))` : ''}`);
      const items = others.map((g) => `${g.role} × ${g.count}`);
      return fail(
        'role_not_shared',
        'role_shared_with_other_sessions',
        `other sessions run as this role or a role it is a member of (its backends could be signalled, its temporary state reached): ${items.join(', ')}`,
        items,
      );
    }),
    from(facts.defaultReadOnly, 'default_read_only', (on) =>
      on
        ? { id: 'default_read_only', status: 'info', code: 'default_read_only_on', message: 'default_transaction_read_only is on: approved writes will be refused by PostgreSQL' }
        : { id: 'default_read_only', status: 'info', code: 'default_read_only_off', message: 'default_transaction_read_only is off: reads run in READ ONLY transactions, approved writes can commit' },
    ),
    from(facts.runners, 'sql_runner_extensions', ({ extensions, languages }) => {
      const items = [...extensions.map((e) => `extension ${e}`), ...languages.map((l) => `language ${l}`)];
      return items.length > 0
        ? { id: 'sql_runner_extensions', status: 'warn', code: 'sql_runner_extensions_installed', message: `installed: ${items.join(', ')} (harmless only while the role may not execute their functions)`, items }
        : pass('sql_runner_extensions', 'no extension or untrusted language that runs SQL strings or programs');
    }),
  ];
}

export function connectionReport(connection: string, facts: Facts): ConnectionReport {
  const role = facts.role.ok ? facts.role.value.name : undefined;
  const serverVersion = facts.serverVersion.ok ? facts.serverVersion.value : undefined;
  const connected: Check = {
    id: 'connect',
    status: 'pass',
    code: 'ok',
    message: `connected${role ? ` as ${role}` : ''}${serverVersion ? ` (PostgreSQL ${serverVersion})` : ''}`,
  };
  const checks = [connected, ...buildChecks(facts)];
  return { connection, ok: isOk(checks), ...(role ? { role } : {}), ...(serverVersion ? { serverVersion } : {}), checks };
}

/** A connection that could not be checked at all: the one failing `connect` check says why. */
export function unreachableReport(connection: string, code: string, message: string): ConnectionReport {
  return { connection, ok: false, checks: [{ id: 'connect', status: 'error', code, message }] };
}

export function isOk(checks: readonly Check[]): boolean {
  return checks.every((c) => c.status !== 'fail' && c.status !== 'error');
}

function from<T>(probe: Probe<T>, id: CheckId, verdict: (value: T) => Check): Check {
  if (probe.ok) return verdict(probe.value);
  return { id, status: 'error', code: 'check_failed', message: `could not be checked${probe.sqlstate ? ` (SQLSTATE ${probe.sqlstate})` : ''}` };
}

function pass(id: CheckId, message: string): Check {
  return { id, status: 'pass', code: 'ok', message };
}

function fail(id: CheckId, code: string, message: string, items?: readonly string[]): Check {
  return { id, status: 'fail', code, message, ...(items ? { items } : {}) };
}

const PREVIEW = 6;
function preview(items: readonly string[]): string {
  return items.length <= PREVIEW ? items.join(', ') : `${items.slice(0, PREVIEW).join(', ')} … and ${items.length - PREVIEW} more`;
}
