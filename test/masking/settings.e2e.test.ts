// Custom settings hold secrets in real deployments: PostgREST and Supabase kept the JWT secret in
// `ALTER DATABASE … SET "app.settings.jwt_secret"`, row-security setups keep tenant keys in `app.*`.
// Every role can read them back — SHOW, current_setting(), pg_settings, pg_db_role_setting,
// pg_roles.rolconfig, pg_show_all_settings() — so a custom setting's value (a name with a dot;
// PostgreSQL's own settings have none) is masked under every policy, like other sessions' SQL.
// Built-in settings (`SHOW work_mem`) stay readable. Real PostgreSQL through the whole gateway.
import test from 'ava';
import { startTestGateway, testPolicy, type TestGateway } from '../helpers/gateway.ts';
import { testPgKind } from '../helpers/pg.ts';
import { SEED } from './fixture.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const real = testPgKind === 'postgres';
const DB_SECRET = 'jwt-secret-8d1f0c77a2';
const ROLE_SECRET = 'tenant-key-51be90e4c3';

const EXTRA_SEED = `
DO $$ BEGIN
  EXECUTE format('ALTER DATABASE %I SET "app.settings.jwt_secret" = %L', current_database(), '${DB_SECRET}');
  EXECUTE format('ALTER ROLE %I SET app.tenant_key = %L', current_user, '${ROLE_SECRET}');
END $$;
`;

const policy = (issuer: string) =>
  testPolicy(issuer, `masking:
  columns:
    public.customers.ssn: redact
`);

let gw: TestGateway;
let token: string;

test.before(async () => {
  if (!real) return;
  gw = await startTestGateway({ seedSql: SEED + EXTRA_SEED, policy });
  token = await gw.token(BOT, { groups: [] });
});

test.after.always(async () => {
  await gw?.close();
});

function query(sql: string, params?: unknown[]) {
  return gw.post('/v1/query', { connection: 'main', sql, ...(params ? { params } : {}) }, { authorization: `Bearer ${token}`, 'x-agent-model': 'test-model' });
}

const secretIn = (...values: unknown[]) => {
  const text = JSON.stringify(values);
  return [DB_SECRET, ROLE_SECRET].filter((s) => text.includes(s) || text.includes(Buffer.from(s).toString('hex')));
};

/** [sql, params, whether rows may be none: pg_settings lists a placeholder only once something defines it] */
const READS: readonly (readonly [string, unknown[]?, boolean?])[] = [
  ['SHOW "app.settings.jwt_secret"'],
  ['SHOW app.tenant_key'],
  ['SHOW ALL', undefined, true],
  ["SELECT current_setting('app.settings.jwt_secret')"],
  ["SELECT pg_catalog.current_setting('APP.TENANT_KEY', true)"],
  ['SELECT current_setting($1)', ['app.tenant_key']],
  ["SELECT current_setting(v.name) FROM (VALUES ('app.tenant_key')) v(name)"],
  ["SELECT s FROM (SELECT current_setting('app.tenant_key') AS s) q"],
  ["SELECT ('app.tenant_key'::text).current_setting"],
  ["SELECT (s.v).current_setting FROM (SELECT 'app.tenant_key'::text AS v) s"],
  ["SELECT current_setting(E'app\\x2etenant_key')"],
  ["SELECT encode(convert_to(current_setting('app.tenant_key'), 'UTF8'), 'hex')"],
  ["SELECT name, setting, reset_val, boot_val FROM pg_settings WHERE name LIKE 'app.%'", undefined, true],
  ["SELECT s.* FROM pg_catalog.pg_settings s WHERE s.name LIKE 'app%'", undefined, true],
  ["SELECT * FROM pg_show_all_settings() s WHERE s.name LIKE 'app.%'", undefined, true],
  ['SELECT setconfig FROM pg_db_role_setting'],
  ['SELECT unnest(setconfig)::text FROM pg_db_role_setting'],
  ['SELECT o.* FROM pg_db_role_setting, pg_options_to_table(setconfig) o'],
  ['SELECT rolname, rolconfig FROM pg_roles WHERE rolconfig IS NOT NULL'],
  ['SELECT useconfig FROM pg_user'],
];

for (const [sql, params, mayBeEmpty] of READS) {
  test.serial(`a custom setting's value is masked: ${sql}`, async (t) => {
    if (!real) return t.pass('needs real PostgreSQL');
    const res = await query(sql, params);
    t.true(res.status === 200 || res.status === 403, JSON.stringify(res.body).slice(0, 300));
    if (res.status === 200 && !mayBeEmpty) t.true(res.body.rows.length > 0, 'the query found the setting');
    const events = [...(await gw.runtime.sessions.read(res.body.sessionId))];
    t.deepEqual(secretIn(res.body, events), []);
  });
}

test.serial('built-in settings stay readable', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  const show = await query('SHOW work_mem');
  t.is(show.status, 200);
  t.regex(String(show.body.rows[0][0]), /^\d+[kMG]B$/);
  const setting = await query("SELECT current_setting('work_mem'), current_setting('server_version_num')::int > 150000");
  t.is(setting.status, 200);
  t.deepEqual(setting.body.rows[0], [show.body.rows[0][0], true]);
});

test.serial('the settings are there: the database holds them (the tests above would otherwise prove nothing)', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  const { rows } = await gw.sql('SELECT array_to_string(setconfig, \',\') AS c FROM pg_db_role_setting');
  t.deepEqual(secretIn(rows).sort(), [DB_SECRET, ROLE_SECRET].sort());
});

/** A custom setting's value in an error message: the message is withheld, as for a masked column. */
const ERRORS: readonly string[] = [
  "SELECT current_setting('app.tenant_key')::int",
  "SELECT current_setting('app.settings.jwt_secret')::jsonb",
  "SELECT to_timestamp(current_setting('app.tenant_key'), 'YYYY-MM')",
  "SELECT 1 WHERE current_setting('app.tenant_key')::date IS NULL",
];

for (const sql of ERRORS) {
  test.serial(`a failure over a custom setting's value withholds the server's message: ${sql}`, async (t) => {
    if (!real) return t.pass('needs real PostgreSQL');
    const res = await query(sql);
    t.true(res.status === 422 || res.status === 400, JSON.stringify(res.body).slice(0, 300));
    t.regex(res.body.error?.message ?? '', /withheld/);
    const events = [...(await gw.runtime.sessions.read(res.body.sessionId))];
    t.deepEqual(secretIn(res.body, events), []);
  });
}
