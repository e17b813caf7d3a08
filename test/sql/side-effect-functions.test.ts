import test from 'ava';
import { SIDE_EFFECT_FUNCTIONS, sideEffectOf } from '../../shared/sql/side-effect-functions.ts';

test('known side-effecting functions match, in any case and any schema', (t) => {
  for (const name of [
    'set_config', 'PG_CATALOG.SET_CONFIG', 'pg_terminate_backend', 'pg_cancel_backend', 'pg_reload_conf', 'setval',
    'nextval', 'lo_import', 'lo_export', 'lo_from_bytea', 'lowrite', 'public.dblink', 'ext.dblink_exec',
    'pg_read_file', 'pg_read_binary_file', 'pg_ls_dir', 'pg_ls_waldir', 'pg_stat_file', 'pg_file_write',
    'pg_advisory_lock', 'pg_try_advisory_xact_lock_shared', 'pg_notify', 'pg_switch_wal', 'pg_create_restore_point',
    'pg_backup_start', 'pg_start_backup', 'pg_promote', 'pg_logical_emit_message', 'pg_create_logical_replication_slot',
    'pg_drop_replication_slot', 'txid_current', 'query_to_xml', 'query_to_xml_and_xmlschema', 'table_to_xml',
    'cursor_to_xml', 'database_to_xml', 'pg_sleep', 'pg_sleep_for', 'pg_stat_reset',
  ]) {
    t.truthy(sideEffectOf(name), name);
  }
});

test('ordinary functions do not', (t) => {
  for (const name of ['lower', 'count', 'now', 'pg_catalog.current_setting', 'currval', 'pg_backend_pid', 'pg_stat_get_activity', 'lo', 'block', 'pg_size_pretty']) {
    t.is(sideEffectOf(name), undefined, name);
  }
});

test('every group says what the threat is and lists something', (t) => {
  for (const g of SIDE_EFFECT_FUNCTIONS) {
    t.true(g.threat.length > 10);
    t.true((g.names?.length ?? 0) + (g.prefixes?.length ?? 0) > 0, g.threat);
  }
});
