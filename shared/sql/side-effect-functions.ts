// Built-in (and well-known extension) functions that act on the world from inside a statement that
// otherwise only reads. A statement calling one is classed `unknown`: the parser sees a SELECT, the
// server does something else. User-defined functions can hide side effects too; reads run in
// `BEGIN READ ONLY` for that, and this list is the layer above it, not a replacement.
//
// Names are matched on the last component, lower-cased, whatever the schema: `pg_catalog.x`,
// `public.x` and `x` all match. dblink and adminpack live in whatever schema the extension was
// installed into, and a same-named user function in another schema is rare enough to fail closed on.

interface Group {
  /** The threat, as it appears in the analysis reason: "calls f(), which <threat>". */
  readonly threat: string;
  readonly names?: readonly string[];
  readonly prefixes?: readonly string[];
}

export const SIDE_EFFECT_FUNCTIONS: readonly Group[] = [
  {
    // set_config('role', …) is SET ROLE in disguise; the others change the whole server.
    threat: 'changes server or session configuration',
    names: ['set_config', 'pg_reload_conf', 'pg_rotate_logfile', 'pg_rotate_logfile_old'],
  },
  {
    // Cancelling or killing other sessions is a denial of service on production traffic.
    threat: 'signals other server processes',
    names: ['pg_terminate_backend', 'pg_cancel_backend', 'pg_signal_backend', 'pg_log_backend_memory_contexts'],
  },
  {
    // Sequence updates are not transactional: they survive the rollback of a read-only attempt.
    // Assigning a transaction id writes to the commit log and burns xids.
    threat: 'changes a sequence or assigns a transaction id',
    names: ['nextval', 'setval', 'txid_current', 'pg_current_xact_id'],
  },
  {
    // lo_import/lo_export read and write files on the database server as the postgres user; the
    // rest create, change or delete large objects.
    threat: 'reads or writes large objects or server files',
    names: ['loread', 'lowrite'],
    prefixes: ['lo_'],
  },
  {
    // Server file system access: configuration, keys, other databases' files.
    threat: 'reads or writes files on the database server',
    names: ['pg_read_file', 'pg_read_binary_file', 'pg_stat_file'],
    prefixes: ['pg_file_', 'pg_ls_'],
  },
  {
    // dblink opens a connection to any server, including this one as another user, and runs SQL
    // there: nothing in this statement's tree says what.
    threat: 'runs SQL over another connection',
    prefixes: ['dblink'],
  },
  {
    // These take a query (or a table or cursor name) as a string and run it: the SQL inside is
    // invisible to the parser, and so are the tables it reads (and so is masking).
    threat: 'runs SQL given as a string',
    names: ['ts_stat', 'ts_rewrite'],
    prefixes: ['query_to_xml', 'table_to_xml', 'cursor_to_xml', 'schema_to_xml', 'database_to_xml'],
  },
  {
    // Advisory locks outlive the statement (session-level ones outlive the transaction) and block
    // other sessions.
    threat: 'takes or releases advisory locks',
    prefixes: ['pg_advisory_', 'pg_try_advisory_'],
  },
  {
    threat: 'sends a notification to other sessions',
    names: ['pg_notify'],
  },
  {
    // Write-ahead log, backup and replication control: can stall or break replicas and backups.
    threat: 'controls WAL, backups or replication',
    names: [
      'pg_switch_wal', 'pg_switch_xlog', 'pg_create_restore_point', 'pg_start_backup', 'pg_stop_backup',
      'pg_backup_start', 'pg_backup_stop', 'pg_promote', 'pg_logical_emit_message',
      'pg_drop_replication_slot', 'pg_replication_slot_advance', 'pg_logical_slot_get_changes',
      'pg_logical_slot_get_binary_changes', 'pg_wal_replay_pause', 'pg_wal_replay_resume',
      'pg_sync_replication_slots',
    ],
    prefixes: ['pg_create_', 'pg_copy_', 'pg_replication_origin_'],
  },
  {
    // Statistics and index maintenance functions change what the planner and monitoring see.
    threat: 'changes statistics or index contents',
    names: [
      'pg_stat_statements_reset', 'pg_restore_relation_stats', 'pg_restore_attribute_stats',
      'pg_clear_relation_stats', 'pg_clear_attribute_stats', 'brin_summarize_new_values',
      'brin_summarize_range', 'brin_desummarize_range', 'gin_clean_pending_list',
      'pg_import_system_collations',
    ],
    prefixes: ['pg_stat_reset'],
  },
  {
    // No agent needs the database to sleep: it holds a connection, a snapshot and any locks taken,
    // and timed sleeps are how blind SQL injection reads data one bit at a time.
    threat: 'sleeps while holding a connection (denial of service, timing channel)',
    prefixes: ['pg_sleep'],
  },
];

const byName = new Map<string, string>();
const byPrefix: [string, string][] = [];
for (const group of SIDE_EFFECT_FUNCTIONS) {
  for (const name of group.names ?? []) byName.set(name, group.threat);
  for (const prefix of group.prefixes ?? []) byPrefix.push([prefix, group.threat]);
}

/** The threat of calling `name` (as written, any case, schema or not), or undefined if none is known. */
export function sideEffectOf(name: string): string | undefined {
  const dot = name.lastIndexOf('.');
  const bare = (dot < 0 ? name : name.slice(dot + 1)).toLowerCase();
  const exact = byName.get(bare);
  if (exact !== undefined) return exact;
  for (const [prefix, threat] of byPrefix) if (bare.startsWith(prefix)) return threat;
  return undefined;
}
