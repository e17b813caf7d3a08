// What a `read` may call: PostgreSQL's own functions that are immutable or stable, plus a few
// harmless volatile ones, minus the stable ones that act or leak. Everything else — user
// functions, extension functions (dblink, tablefunc's crosstab), procedural languages, names the
// catalog does not know — makes the statement `unknown` unless the policy's `functions:` block names
// it. An allowlist, because the list of dangerous functions is open-ended (every extension adds to
// it) while the list of functions analysts need is not.
import type { Routine } from './routines.ts';
import { normalizeSignature, signatureOf } from './routines.ts';

/**
 * Volatile built-ins that only compute: no state, no I/O, no locks. (Volatile means "may give a
 * different answer each call", which is most often harmless: random(), clock_timestamp().)
 */
export const HARMLESS_VOLATILE: ReadonlySet<string> = new Set([
  'random', 'random_normal', 'gen_random_uuid', 'clock_timestamp', 'timeofday',
  'pg_relation_size', 'pg_total_relation_size', 'pg_table_size', 'pg_indexes_size', 'pg_database_size',
  'pg_tablespace_size', 'pg_blocking_pids',
]);

/** Built-ins refused under `read` whatever their volatility, each with the reason it is shown with. */
export const REFUSED_BUILTINS: ReadonlyMap<string, string> = new Map([
  // They run a query, a table or a cursor given as text: the SQL inside is invisible to the parser,
  // to the allowlist and to masking.
  ...[
    'query_to_xml', 'query_to_xmlschema', 'query_to_xml_and_xmlschema', 'cursor_to_xml', 'cursor_to_xmlschema',
    'table_to_xml', 'table_to_xmlschema', 'table_to_xml_and_xmlschema', 'schema_to_xml', 'schema_to_xmlschema',
    'schema_to_xml_and_xmlschema', 'database_to_xml', 'database_to_xmlschema', 'database_to_xml_and_xmlschema',
    'ts_stat', 'ts_rewrite',
  ].map((n) => [n, 'runs SQL given as a string'] as const),
  // Other sessions' statement text, and extended statistics' sampled values, bypass masking.
  ...['pg_stat_get_activity', 'pg_stat_get_backend_activity', 'pg_mcv_list_items'].map((n) => [n, 'exposes other sessions\' SQL or sampled column values'] as const),
  // Stable in pg_proc, yet they assign a transaction id (a write to the commit log).
  ...['txid_current', 'pg_current_xact_id'].map((n) => [n, 'assigns a transaction id'] as const),
  // Volatile already; named so that the reason says what they do, and so that a policy entry
  // cannot make them `read`.
  ...['pg_read_file', 'pg_read_binary_file', 'pg_stat_file', 'pg_ls_dir', 'lo_import', 'lo_export'].map((n) => [n, 'reads or writes files on the database server'] as const),
  ...['pg_terminate_backend', 'pg_cancel_backend', 'pg_signal_backend', 'pg_reload_conf'].map((n) => [n, 'signals server processes'] as const),
  ...['pg_sleep', 'pg_sleep_for', 'pg_sleep_until'].map((n) => [n, 'sleeps while holding a connection'] as const),
  ...['set_config', 'setseed', 'nextval', 'setval', 'pg_notify'].map((n) => [n, 'changes session or server state'] as const),
]);

const REFUSED_PREFIXES: readonly (readonly [string, string])[] = [
  ['lo_', 'reads or writes large objects (allowed inside READ ONLY)'],
  ['pg_advisory', 'takes or releases advisory locks'],
  ['pg_try_advisory', 'takes advisory locks'],
  ['pg_ls_', 'lists files on the database server'],
  ['dblink', 'runs SQL over another connection'],
];

/** A policy `functions:` entry, normalised: `schema.name(argtypes)` → why it may run under `read`. */
export type ListedFunctions = ReadonlyMap<string, string>;

export interface RoutineVerdict {
  readonly allowed: boolean;
  /** For a refusal: why, as it appears in the analysis reason ("…, which <why>"). */
  readonly why: string;
}

export function routineVerdict(r: Routine, listed: ListedFunctions): RoutineVerdict {
  // Refused names stay refused, whatever the schema: the policy cannot list dblink_exec or
  // pg_terminate_backend as a read, nor can a same-named function elsewhere stand in for one.
  const refused = refusedReason(r.name);
  if (refused !== undefined) return { allowed: false, why: refused };
  const signature = normalizeSignature(signatureOf(r));
  if (signature !== undefined && listed.has(signature)) return { allowed: true, why: `listed in the policy: ${listed.get(signature)}` };
  if (!r.builtin) {
    return { allowed: false, why: `is ${r.language === 'c' || r.language === 'internal' ? 'an extension' : `a user-defined ${r.language}`} function not listed in the policy` };
  }
  if (r.kind === 'procedure') return { allowed: false, why: 'is a procedure' };
  if (r.volatility === 'volatile' && !HARMLESS_VOLATILE.has(r.name)) return { allowed: false, why: 'is volatile (may change state)' };
  return { allowed: true, why: 'built-in' };
}

function refusedReason(name: string): string | undefined {
  const exact = REFUSED_BUILTINS.get(name);
  if (exact !== undefined) return exact;
  for (const [prefix, why] of REFUSED_PREFIXES) if (name.startsWith(prefix)) return why;
  return undefined;
}
