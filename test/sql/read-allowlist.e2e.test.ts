// Issue 13, as the attacker tried it: a bot whose policy allows only `read`, against real
// PostgreSQL 15 with dblink and tablefunc installed, connecting as a non-superuser role. Every
// statement that can write, kill, unlink or leak must come out `unknown` (denied by the policy) —
// in call form and in attribute form, with literals and with bind parameters — and nothing may be
// written, killed, unlinked or leaked: the database is checked afterwards, and the answers and the
// stored session events are scanned for every seeded value in raw, digits-only, reversed and hex
// form. What does run (reads the allowlist accepts) must come back masked.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import pg from 'pg';
import { startTestGateway, testPolicy, type TestGateway } from '../helpers/gateway.ts';
import { testPgKind, testPgUrl } from '../helpers/pg.ts';
import { forms, leaks, SEED } from '../masking/fixture.ts';
import { ANALYST_QUERIES } from './analyst-queries.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const ROLE = `gh_bot_${randomBytes(4).toString('hex')}`;
const real = testPgKind === 'postgres';

const EXTRA_SEED = `
CREATE EXTENSION dblink;
CREATE EXTENSION tablefunc;
CREATE TABLE notes (body text);
CREATE FUNCTION planted_write() RETURNS int LANGUAGE sql AS $$ INSERT INTO notes VALUES ('planted') RETURNING 1 $$;
CREATE VIEW planted_view AS SELECT id, planted_write() AS w FROM customers;
CREATE FUNCTION full_name(customers) RETURNS text LANGUAGE sql STABLE AS $$ SELECT $1.name $$;
CREATE FUNCTION nick_name(customers) RETURNS text LANGUAGE sql STABLE AS $$ SELECT split_part($1.name, ' ', 1) $$;
CREATE FUNCTION planted_eq(int, int) RETURNS boolean LANGUAGE sql AS $$ INSERT INTO notes VALUES ('op') RETURNING true $$;
CREATE OPERATOR ### (LEFTARG = int, RIGHTARG = int, FUNCTION = planted_eq);
CREATE FUNCTION planted_check(text) RETURNS boolean LANGUAGE sql AS $$ INSERT INTO notes VALUES ('check') RETURNING true $$;
CREATE DOMAIN planted_domain AS text CHECK (planted_check(VALUE));
CREATE ROLE ${ROLE} LOGIN;
GRANT USAGE ON SCHEMA public TO ${ROLE};
GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${ROLE};
GRANT INSERT ON notes TO ${ROLE};
SELECT lo_from_bytea(0, '\\x6f6e65'::bytea), lo_from_bytea(0, '\\x74776f'::bytea);
DO $$ DECLARE o oid; BEGIN FOR o IN SELECT oid FROM pg_largeobject_metadata LOOP EXECUTE format('ALTER LARGE OBJECT %s OWNER TO ${ROLE}', o); END LOOP; END $$;
ANALYZE customers;
`;

let gw: TestGateway;
let token: string;
let forbidden: readonly string[];
let victim: pg.Client | undefined;

const policy = (issuer: string) =>
  testPolicy(issuer, `masking:
  columns:
    public.customers.email: email
    public.customers.ssn: redact
    public.customers.card_number: last4
    public.customers.phone: hash
  detectors: [email, card, ssn, phone]
functions:
  - signature: public.full_name(customers)
    class: read
    reason: pure SQL over the row it is given, reads nothing else
  - signature: public.created_later(integer)
    class: read
    reason: created while the gateway runs
`);

test.before(async () => {
  if (!real) return;
  gw = await startTestGateway({ seedSql: SEED + EXTRA_SEED, policy, targetRole: ROLE });
  token = await gw.token(BOT, { groups: [] });
  const { rows } = await gw.sql('SELECT email, phone, ssn, card_number FROM customers ORDER BY id');
  forbidden = rows.flatMap(forms);
  const victimUrl = new URL(gw.target.url);
  victimUrl.username = ROLE;
  victim = new pg.Client({ connectionString: victimUrl.toString(), application_name: 'victim' });
  victim.on('error', () => {});
  await victim.connect();
});

test.after.always(async () => {
  if (!real) return;
  await victim?.end().catch(() => {});
  await gw?.close();
  const admin = new pg.Client({ connectionString: testPgUrl() });
  await admin.connect();
  await admin.query(`DROP ROLE IF EXISTS ${ROLE}`).catch(() => {});
  await admin.end();
});

function query(sql: string, params?: unknown[]) {
  return gw.post('/v1/query', { connection: 'main', sql, ...(params ? { params } : {}) }, { authorization: `Bearer ${token}`, 'x-agent-model': 'test-model' });
}

async function storedEvents(sessionId: string): Promise<unknown[]> {
  return [...(await gw.runtime.sessions.read(sessionId))];
}

async function databaseUntouched(t: import('ava').ExecutionContext): Promise<void> {
  const notes = await gw.sql('SELECT count(*)::int AS n FROM notes');
  t.is(notes.rows[0].n, 0, 'nothing was written to notes');
  const los = await gw.sql('SELECT count(*)::int AS n FROM pg_largeobject_metadata');
  t.is(los.rows[0].n, 2, 'no large object was unlinked');
  t.deepEqual((await victim!.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'the other session is alive');
}

/** Attacks that must be refused: `unknown`, denied by the bots' read-only policy, nothing run. */
const REFUSED: readonly (readonly [string, unknown[]?])[] = [
  // signalling other backends
  ['SELECT pid, (pid).pg_terminate_backend FROM pg_stat_activity WHERE usename = current_user AND pid <> pg_backend_pid()'],
  ['SELECT a.pid.pg_terminate_backend FROM pg_stat_activity a WHERE a.application_name = \'victim\''],
  ['SELECT x.pg_terminate_backend FROM (SELECT pid FROM pg_stat_activity WHERE application_name = \'victim\') x'],
  ['SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = \'victim\''],
  ['SELECT pg_catalog.pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = \'victim\''],
  ['SELECT ($1::int).pg_terminate_backend', [12345]],
  // dblink (escapes READ ONLY)
  ["SELECT ('host=127.0.0.1 dbname=x user=y').dblink_connect, ('INSERT INTO notes(body) VALUES (1)').dblink_exec"],
  ["SELECT dblink_exec('dbname=x', 'INSERT INTO notes(body) VALUES (1)')"],
  ['SELECT ($1::text).dblink_exec', ['INSERT INTO notes(body) VALUES (1)']],
  ["SELECT * FROM dblink('dbname=x', 'select email from customers') AS t(e text)"],
  // large objects (allowed inside READ ONLY in PostgreSQL 15)
  ['SELECT oid, (oid).lo_unlink FROM pg_largeobject_metadata'],
  ['SELECT m.oid.lo_unlink FROM pg_largeobject_metadata m'],
  ['SELECT lo_unlink(oid) FROM pg_largeobject_metadata'],
  ['SELECT lo_get(oid) FROM pg_largeobject_metadata'],
  // SQL run from a string
  ["SELECT ('select to_tsvector(''simple'', translate(email||'' ''||ssn, ''@0123456789'', ''#abcdefghij'')) from customers').ts_stat"],
  ["SELECT * FROM ts_stat('select to_tsvector(''simple'', email) from customers')"],
  ["SELECT * FROM crosstab('select 1, 1, email from customers') AS t(a int, b text)"],
  ["SELECT * FROM public.crosstab($1) AS t(a int, b text)", ['select 1, 1, email from customers']],
  ["SELECT query_to_xml('select email from customers', true, true, '')"],
  ["SELECT table_to_xml('customers', true, true, '')"],
  ["SELECT * FROM connectby('customers', 'id', 'id', '1', 0) AS t(a int, b int, c int)"],
  // user functions, through a call, a view, attribute notation and an operator
  ['SELECT planted_write()'],
  ['SELECT public.planted_write()'],
  ['SELECT * FROM planted_view'],
  ['SELECT w FROM planted_view WHERE id = $1', [1]],
  ['SELECT c.nick_name FROM customers c'],
  ['SELECT nick_name(c) FROM customers c'],
  ['SELECT 1 ### 2'],
  ['SELECT id FROM customers WHERE id OPERATOR(public.###) 1'],
  // a cast to a domain whose CHECK calls a user function, written two ways and with a parameter
  ["SELECT 'x'::planted_domain"],
  ['SELECT CAST($1 AS public.planted_domain)', ['x']],
  // functions the catalog does not know, transaction ids, sleeps, locks, configuration
  ['SELECT no_such_function(1)'],
  ['SELECT txid_current()'],
  ['SELECT pg_sleep(0.01)'],
  ['SELECT pg_advisory_lock(1)'],
  ["SELECT set_config('role', 'postgres', false)"],
  ["SELECT pg_read_file('/etc/passwd')"],
  ['SELECT pg_stat_get_backend_activity(1)'],
];

for (const [sql, params] of REFUSED) {
  test.serial(`refused as unknown, nothing runs: ${sql}${params ? ` [${params.map(String).join(', ')}]` : ''}`, async (t) => {
    if (!real) return t.pass('needs real PostgreSQL (dblink, roles)');
    const res = await query(sql, params);
    t.is(res.status, 403, JSON.stringify(res.body));
    t.is(res.body.status, 'denied');
    const events = (await storedEvents(res.body.sessionId)) as { type: string; data: { class?: string } }[];
    t.is(events.find((e) => e.type === 'analysis')?.data.class, 'unknown');
    t.false(events.some((e: any) => String(e.type).startsWith('execution.')), 'nothing ran');
    t.deepEqual(leaks(forbidden, res.body, events), []);
    await databaseUntouched(t);
  });
}

/** Reads the allowlist accepts: answered 200, with every seeded value masked. */
const MASKED_READS: readonly (readonly [string, unknown[]?])[] = [
  ["SELECT encode(convert_to(c.to_jsonb::text, 'UTF8'), 'hex') FROM customers c"],
  ['SELECT c.to_jsonb FROM customers c'],
  ['SELECT (c).to_json FROM customers c'],
  ['SELECT row_to_json(c) FROM customers c'],
  ['SELECT to_json(c)::text FROM customers c'],
  ["SELECT c.row_to_json::text || '' FROM customers AS c WHERE c.id > $1", [0]],
  ["SELECT attname, x::text FROM pg_stats, unnest(histogram_bounds::text::text[]) x WHERE tablename = 'customers'"],
  ["SELECT attname, most_common_vals::text FROM pg_stats WHERE tablename = 'customers'"],
  ["SELECT s.histogram_bounds::text FROM pg_catalog.pg_stats s WHERE s.tablename = 'customers'"],
  ['SELECT query FROM pg_stat_activity'],
  ['SELECT x.* FROM customers c JOIN LATERAL (SELECT c.to_jsonb) x ON true'],
  ['SELECT json_agg(c)::text FROM customers c'],
  ["SELECT xmlelement(name x, (SELECT string_agg(ssn || ' ' || card_number, ',') FROM customers))::text"],
  // a function the policy lists: runs as read
  ['SELECT c.full_name, c.email FROM customers c'],
  ['SELECT public.full_name(c), c.ssn FROM customers c WHERE c.id = $1', [1]],
];

for (const [sql, params] of MASKED_READS) {
  test.serial(`read, and every value masked: ${sql}`, async (t) => {
    if (!real) return t.pass('needs real PostgreSQL');
    const res = await query(sql, params);
    t.is(res.status, 200, JSON.stringify(res.body));
    t.is(res.body.risk.class, 'read');
    t.deepEqual(leaks(forbidden, res.body, await storedEvents(res.body.sessionId)), []);
  });
}

test.serial('an encoded whole row (attribute notation through a CTE, digits turned into letters) comes back masked, not encoded', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  const res = await query("WITH w AS (SELECT c.row_to_json AS j FROM customers c) SELECT translate(j::text, '0123456789', 'abcdefghij') AS t FROM w");
  t.is(res.status, 200, JSON.stringify(res.body));
  t.deepEqual(res.body.columns.map((c: { masked: boolean }) => c.masked), [true]);
  // No row holds an encoded SSN: every cell is the mask, not a transformed value.
  const cells = new Set(res.body.rows.map((r: unknown[]) => JSON.stringify(r[0])));
  t.is(cells.size, 1, [...cells].join(' | '));
});

test.serial(`${ANALYST_QUERIES.length} ordinary analyst queries stay read, answered 200, masked`, async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  t.true(ANALYST_QUERIES.length >= 50);
  const wrong: string[] = [];
  for (const sql of ANALYST_QUERIES) {
    const res = await query(sql);
    if (res.status !== 200 || res.body.risk?.class !== 'read') wrong.push(`${res.status} ${JSON.stringify(res.body.reasons ?? res.body.error ?? res.body.risk)}: ${sql}`);
    else if (leaks(forbidden, res.body).length > 0) wrong.push(`leaks ${leaks(forbidden, res.body).join(',')}: ${sql}`);
  }
  t.deepEqual(wrong, []);
});

/** Statements whose error message would carry a value: the answer and the log name the condition only. */
const ERROR_CHANNELS: readonly string[] = [
  'SELECT make_date(substr(ssn, 1, 3)::int, 13, substr(ssn, 8, 4)::int) FROM customers',
  'SELECT make_time(substr(ssn, 1, 3)::int, 99, 0) FROM customers',
  "SELECT chr(replace(ssn, '-', '')::int) FROM customers",
  "SELECT get_bit(convert_to(email, 'UTF8'), 100000) FROM customers",
  "SELECT set_bit(convert_to(email, 'UTF8'), 100000, 1) FROM customers",
  "SELECT to_timestamp(email, 'YYYY') FROM customers",
  'SELECT ssn::int FROM customers',
  'SELECT email::regclass FROM customers',
  'SELECT email::date FROM customers c',
  'SELECT current_setting(email) FROM customers',
  "SELECT jsonb_path_query('{}', email::jsonpath) FROM customers",
  "SELECT (SELECT card_number FROM customers LIMIT 1)::numeric / 0 /* ada lovelace alan turing 4111111111111111 */",
  '/* ada.lovelace@example.com alan.turing@example.com */ SELECT email::int FROM customers',
];

for (const sql of ERROR_CHANNELS) {
  test.serial(`error channel closed: ${sql}`, async (t) => {
    if (!real) return t.pass('needs real PostgreSQL');
    const res = await query(sql);
    t.true(res.status === 422 || res.status === 400, JSON.stringify(res.body));
    t.regex(res.body.error.message, /SQLSTATE [0-9A-Z]{5}/, JSON.stringify(res.body));
    // The events repeat the attacker's own SQL (comments included) as `sql`: everything else is scanned.
    const events = JSON.parse(JSON.stringify(await storedEvents(res.body.sessionId), (k, v) => (k === 'sql' ? undefined : v)));
    t.deepEqual(leaks(forbidden, res.body, events), []);
  });
}

test.serial('wrong parameter count or type answers 400 params_invalid, not 503', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  const few = await query('SELECT id FROM products WHERE id = $1 AND price > $2', [1]);
  t.is(few.status, 400);
  t.is(few.body.error.code, 'params_invalid');
  const type = await query('SELECT id FROM products WHERE id = $1', ['not-a-number']);
  t.is(type.status, 400);
  t.is(type.body.error.code, 'params_invalid', JSON.stringify(type.body));
  t.false(JSON.stringify(type.body).includes('not-a-number'), 'the value is not echoed');
});

test.serial('a function created after the catalog was read is seen at once (a miss refreshes it)', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  t.is((await query('SELECT count(*) FROM products')).status, 200); // the catalog is warm
  const before = await query('SELECT created_later(1)');
  t.is(before.status, 403);
  t.true(before.body.reasons.some((r: string) => /does not know/.test(r)));
  await gw.sql('CREATE FUNCTION created_later(integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT $1 + 1 $$');
  await new Promise((r) => setTimeout(r, 2100)); // refreshes on a miss are at most one per 2 s
  const after = await query('SELECT created_later(1)');
  t.is(after.status, 200, JSON.stringify(after.body));
  t.is(after.body.risk.class, 'read');
  // Listed as safe to call, but a user function's body may read anything: its value is masked.
  t.deepEqual(after.body.columns.map((c: { masked: boolean }) => c.masked), [true]);
});

test.serial('after all of it: nothing written, nothing unlinked, the other session alive', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  await databaseUntouched(t);
});
