// The pure half of the doctor: facts → verdicts, and the least-privilege script following the same
// lists. No server: every branch, including the ones a real server rarely produces.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { buildChecks, connectionReport, DANGEROUS_FUNCTION_PATTERNS, formatReport, summaryLine, type Facts } from '../../shared/doctor/index.ts';

const ok = <T>(value: T) => ({ ok: true as const, value });

const CLEAN: Facts = {
  role: ok({ name: 'gatehouse_app', login: 'gatehouse_app', superuserRoles: [], attributes: [] }),
  serverVersion: ok('15.8'),
  serverRoles: ok([]),
  dangerousFunctions: ok([]),
  untrustedFunctions: ok([]),
  sessions: ok([{ role: 'gatehouse_app', gatehouse: true, count: 3 }]),
  defaultReadOnly: ok(false),
  runners: ok({ extensions: [], languages: [] }),
};

test('a clean role passes every check; its report is ok', (t) => {
  const r = connectionReport('prod', CLEAN);
  t.true(r.ok);
  t.deepEqual(
    r.checks.map((c) => [c.id, c.status]),
    [
      ['connect', 'pass'],
      ['not_superuser', 'pass'],
      ['role_attributes', 'pass'],
      ['no_server_roles', 'pass'],
      ['no_dangerous_functions', 'pass'],
      ['no_untrusted_language_functions', 'pass'],
      ['role_not_shared', 'pass'],
      ['default_read_only', 'info'],
      ['sql_runner_extensions', 'pass'],
    ],
  );
  t.is(summaryLine(r), 'prod: least privilege ok (role gatehouse_app)');
});

test('each fact that is wrong fails its own check, with a stable code and what it found', (t) => {
  const cases: [Partial<Facts>, string, string, readonly string[] | undefined][] = [
    [{ role: ok({ name: 'x', login: 'x', superuserRoles: ['x'], attributes: [] }) }, 'not_superuser', 'role_is_superuser', ['x']],
    [{ role: ok({ name: 'x', login: 'x', superuserRoles: ['admin'], attributes: [] }) }, 'not_superuser', 'role_is_superuser', ['admin']],
    [{ role: ok({ name: 'x', login: 'x', superuserRoles: [], attributes: ['BYPASSRLS'] }) }, 'role_attributes', 'role_has_dangerous_attributes', ['BYPASSRLS']],
    [{ serverRoles: ok(['pg_read_server_files']) }, 'no_server_roles', 'role_is_member_of_server_roles', ['pg_read_server_files']],
    [{ dangerousFunctions: ok(['ext.dblink_exec(text)']) }, 'no_dangerous_functions', 'dangerous_functions_executable', ['ext.dblink_exec(text)']],
    [{ untrustedFunctions: ok(['public.run(text)']) }, 'no_untrusted_language_functions', 'untrusted_language_functions_executable', ['public.run(text)']],
    [{ sessions: ok([{ role: 'shop', gatehouse: false, count: 2 }]) }, 'role_not_shared', 'role_shared_with_other_sessions', ['shop × 2']],
  ];
  for (const [change, id, code, items] of cases) {
    const r = connectionReport('prod', { ...CLEAN, ...change });
    t.false(r.ok, id);
    const failed = r.checks.filter((c) => c.status === 'fail');
    t.is(failed.length, 1, id);
    t.like(failed[0], { id, code });
    t.deepEqual(failed[0]!.items, items, id);
    t.regex(summaryLine(r), new RegExp(`prod: 1 failed \\(${id}\\)`));
  }
});

test('a fact that could not be read is an error, never a pass, and fails the report', (t) => {
  for (const key of Object.keys(CLEAN) as (keyof Facts)[]) {
    if (key === 'serverVersion') continue; // informational: only shown in the connect line
    const r = connectionReport('prod', { ...CLEAN, [key]: { ok: false, sqlstate: '42501' } });
    t.false(r.ok, key);
    const errors = r.checks.filter((c) => c.status === 'error');
    t.true(errors.length >= 1, key);
    for (const e of errors) t.like(e, { code: 'check_failed', message: 'could not be checked (SQLSTATE 42501)' });
  }
});

test('warnings and information do not fail a report', (t) => {
  const r = connectionReport('prod', { ...CLEAN, defaultReadOnly: ok(true), runners: ok({ extensions: ['dblink'], languages: ['plpython3u'] }) });
  t.true(r.ok);
  const runners = r.checks.find((c) => c.id === 'sql_runner_extensions')!;
  t.like(runners, { status: 'warn', code: 'sql_runner_extensions_installed', items: ['extension dblink', 'language plpython3u'] });
  t.like(r.checks.find((c) => c.id === 'default_read_only'), { status: 'info', code: 'default_read_only_on' });
  t.regex(summaryLine(r), /1 warning\(s\) \(sql_runner_extensions\)/);
});

test('long lists are shortened in messages, complete in items', (t) => {
  const fns = Array.from({ length: 20 }, (_, i) => `lo_f${i}()`);
  const c = buildChecks({ ...CLEAN, dangerousFunctions: ok(fns) }).find((k) => k.id === 'no_dangerous_functions')!;
  t.is(c.items!.length, 20);
  t.regex(c.message, /… and 14 more$/);
});

test('the text report marks each check and ends with a verdict', (t) => {
  const text = formatReport({ ok: false, connections: [connectionReport('prod', { ...CLEAN, serverRoles: ok(['pg_signal_backend']) })] });
  t.regex(text, /^connection prod \(role gatehouse_app\): NOT OK$/m);
  t.regex(text, /^ {2}FAIL  no_server_roles\s+member of pg_signal_backend$/m);
  t.regex(text, /^1 of 1 connection\(s\) failed a check$/m);
});

test('docs/least-privilege.sql revokes exactly the name patterns the doctor checks', (t) => {
  const script = readFileSync(new URL('../../docs/least-privilege.sql', import.meta.url), 'utf8');
  const array = /LIKE ANY \(ARRAY\[([\s\S]*?)\]\)/.exec(script)?.[1];
  t.truthy(array, 'the script has one LIKE ANY (ARRAY[…]) list');
  const patterns = [...array!.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1]!.replace(/''/g, "'"));
  t.deepEqual(patterns, [...DANGEROUS_FUNCTION_PATTERNS]);
});

test('the README shows docs/least-privilege.sql as it is', (t) => {
  const script = readFileSync(new URL('../../docs/least-privilege.sql', import.meta.url), 'utf8');
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const shown = /### A least-privilege role for Gatehouse\n[\s\S]*?```sql\n([\s\S]*?)```/.exec(readme)?.[1];
  t.is(shown, script);
});
