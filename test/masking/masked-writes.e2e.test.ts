// Masking hides values on the way out; a principal allowed to write must not be able to launder
// them through a table: `INSERT INTO notes(body) SELECT ssn FROM customers`, then
// `SELECT body FROM notes`, read every SSN in clear (notes.body is not masked). Each statement
// that writes a masked value where it would be read back less masked is refused before it runs,
// in every way SQL writes (INSERT … SELECT / VALUES, UPDATE … FROM, SET (a, b) = (SELECT …),
// ON CONFLICT DO UPDATE, MERGE, data-modifying CTEs, CREATE TABLE AS, SELECT INTO); copies into a
// column masked at least as strictly still run. Real PostgreSQL through the whole gateway.
import test from 'ava';
import { startTestGateway, testPolicy, type TestGateway } from '../helpers/gateway.ts';
import { testPgKind } from '../helpers/pg.ts';
import { forms, leaks, SEED } from './fixture.ts';

const WRITER = 'alice@acme.com'; // the policy's dba group: every class allowed
const real = testPgKind === 'postgres';

const EXTRA_SEED = `
CREATE TABLE notes (id int PRIMARY KEY, body text, owner_email text);
INSERT INTO notes (id, body) VALUES (1, 'one'), (2, 'two'), (3, 'three');
`;

const policy = (issuer: string) =>
  testPolicy(issuer, `masking:
  columns:
    public.customers.email: email
    public.customers.ssn: redact
    public.customers.card_number: last4
    public.customers.phone: hash
    public.notes.owner_email: email
  detectors: []
`);

let gw: TestGateway;
let token: string;
let forbidden: readonly string[];

test.before(async () => {
  if (!real) return;
  gw = await startTestGateway({ seedSql: SEED + EXTRA_SEED, policy });
  token = await gw.token(WRITER, { groups: [] });
  const { rows } = await gw.sql('SELECT email, phone, ssn, card_number FROM customers ORDER BY id');
  forbidden = rows.flatMap(forms);
});

test.after.always(async () => {
  await gw?.close();
});

function query(sql: string) {
  return gw.post('/v1/query', { connection: 'main', sql }, { authorization: `Bearer ${token}`, 'x-agent-model': 'test-model' });
}

/** Everything a reader could get back out of the tables a write could reach, unmasked (as the database holds it). */
async function launderedCopies(): Promise<string[]> {
  const notes = await gw.sql('SELECT body, owner_email FROM notes');
  const tables = await gw.sql("SELECT string_agg(tablename, ',') AS t FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'copy%'");
  const copies = [];
  for (const t of String(tables.rows[0].t ?? '').split(',').filter(Boolean)) copies.push(...(await gw.sql(`SELECT * FROM ${t}`)).rows);
  return leaks(forbidden, notes.rows, copies);
}

const LAUNDERING: readonly string[] = [
  'INSERT INTO notes (id, body) SELECT id + 100, ssn FROM customers',
  'INSERT INTO notes SELECT id + 100, card_number FROM customers',
  "INSERT INTO notes (id, body) VALUES (100, (SELECT string_agg(ssn, ',') FROM customers))",
  'UPDATE notes SET body = c.ssn FROM customers c WHERE c.id = notes.id',
  'UPDATE notes SET body = (SELECT phone FROM customers c WHERE c.id = notes.id)',
  'UPDATE notes SET body = x.v FROM (SELECT id, ssn AS v FROM customers) x WHERE x.id = notes.id',
  'INSERT INTO notes (id, body) SELECT id + 400, (c).ssn FROM customers c',
  'INSERT INTO notes (id, body) SELECT id + 500, c.card_number::text FROM customers AS c',
  'UPDATE notes SET (owner_email, body) = (SELECT email, ssn FROM customers c WHERE c.id = notes.id)',
  "INSERT INTO notes (id, body) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET body = (SELECT card_number FROM customers WHERE id = 1)",
  'INSERT INTO notes (id, body) SELECT id, ssn FROM customers ON CONFLICT (id) DO UPDATE SET body = excluded.body',
  'MERGE INTO notes n USING customers c ON n.id = c.id WHEN MATCHED THEN UPDATE SET body = c.card_number',
  'MERGE INTO notes n USING customers c ON n.id = c.id WHEN NOT MATCHED THEN INSERT (id, body) VALUES (c.id, c.ssn)',
  'WITH x AS (SELECT id, ssn FROM customers) INSERT INTO notes (id, body) SELECT id + 100, ssn FROM x',
  'WITH w AS (INSERT INTO notes (id, body) SELECT id + 100, phone FROM customers RETURNING id) SELECT count(*) FROM w',
  // into a masked column, but one that shows more of what lands there: email keeps the domain
  "INSERT INTO notes (id, owner_email) SELECT id + 100, 'x@' || replace(ssn, '-', '') FROM customers",
  "UPDATE notes SET owner_email = (SELECT card_number FROM customers WHERE id = 1) || '@x'",
  // a new table no policy masks
  'CREATE TABLE copy1 AS SELECT email, ssn FROM customers',
  'SELECT card_number INTO copy2 FROM customers',
  'CREATE TABLE copy3 AS SELECT c.* FROM customers c',
];

for (const sql of LAUNDERING) {
  test.serial(`a masked value written where it would be read back less masked is refused: ${sql}`, async (t) => {
    if (!real) return t.pass('needs real PostgreSQL');
    const res = await query(sql);
    t.is(res.status, 403, JSON.stringify(res.body).slice(0, 400));
    t.is(res.body.error?.code, 'masking_denied');
    t.is(res.body.error?.details?.reason, 'masked_value_written');
    t.true((res.body.error?.details?.columns ?? []).length > 0);
    const events = [...(await gw.runtime.sessions.read(res.body.sessionId))] as { type: string }[];
    t.false(events.some((e) => e.type === 'execution.result'), 'nothing ran');
    t.deepEqual(await launderedCopies(), [], 'nothing was copied');
  });
}

/** Writes that keep masked values masked, and writes of values that are not masked: they run. */
const FINE: readonly string[] = [
  "INSERT INTO notes (id, body) VALUES (200, 'hello')",
  "UPDATE notes SET body = upper(body) WHERE id = 200",
  'INSERT INTO notes (id, owner_email) SELECT id + 300, email FROM customers',
  'UPDATE customers SET email = email WHERE id = 1',
  "UPDATE customers SET ssn = 'x' || ssn WHERE id = 1",
  'CREATE TABLE copy_names AS SELECT id, name FROM customers',
];

for (const sql of FINE) {
  test.serial(`a write that keeps masked values masked runs: ${sql}`, async (t) => {
    if (!real) return t.pass('needs real PostgreSQL');
    const res = await query(sql);
    t.is(res.status, 200, JSON.stringify(res.body).slice(0, 400));
  });
}

test.serial('a masked value copied into a column masked as strictly is read back masked', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  const res = await query('SELECT owner_email FROM notes WHERE id > 300 ORDER BY id');
  t.is(res.status, 200);
  t.true(res.body.rows.length > 0);
  for (const [email] of res.body.rows) t.regex(String(email), /^\*\*\*@/);
  t.deepEqual(leaks(forbidden, res.body), []);
});
