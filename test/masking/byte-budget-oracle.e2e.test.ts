// The byte budget must not be an oracle on masked values. maxResultBytes cuts an answer once the
// kept rows would pass it; counted at their raw length, masked cells decided how many rows fit
// (rowCount, truncatedBy: bytes) even though every one came back masked: ten rows of one
// customer's email padded with constant bytes fit when the email had 23 characters and only nine
// when it had 24 — with no operation on the value, so `masking.predicates: deny` let it through.
// Now a cell of a column the plan masks costs the same whatever its value (docs/outcomes.md,
// "Byte budgets"), and one too long for that cost is not kept (its masked form is all that leaves)
// and not counted among `cellsOmitted`. Real PostgreSQL through the whole gateway.
import test from 'ava';
import { CELL_OVERHEAD_BYTES, DEFAULT_MAX_RESULT_BYTES, ROW_OVERHEAD_BYTES } from '../../shared/postgres/budget.ts';
import { startTestGateway, testPolicy, type TestGateway } from '../helpers/gateway.ts';
import { testPgKind } from '../helpers/pg.ts';
import { forms, leaks, SEED } from './fixture.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const real = testPgKind === 'postgres';

// A customer whose SSN and phone are written without separators: the seed's are all one length.
const EXTRA_SEED = `
INSERT INTO customers (id, name, email, phone, ssn, card_number, date_of_birth, created_at)
  VALUES (1000, 'Edsger Dijkstra', 'ewd@example.com', '+12025550199', '909112399', '4000056655665556', '1930-05-11', '2023-02-01 10:00:00+00');
CREATE TABLE dossiers (id int PRIMARY KEY, body text, tail text, tag text);
INSERT INTO dossiers VALUES
  (1, repeat('a', 100), '4111111111111111', 'short'),
  (2, repeat('b', 5000), repeat('9', 300), repeat('t', 400)),
  (3, repeat('c', 300), NULL, NULL),
  (4, NULL, NULL, NULL);
CREATE TABLE vault (id int PRIMARY KEY, secret text);
INSERT INTO vault VALUES (1, NULL), (2, 'x'), (3, ''), (4, repeat(chr(1), 200)), (5, repeat('y', 200)), (6, repeat('"', 200));
`;

const policy = (issuer: string) =>
  testPolicy(issuer, `masking:
  predicates: deny
  columns:
    public.customers.email: email
    public.customers.ssn: redact
    public.customers.card_number: last4
    public.customers.phone: hash
    public.dossiers.body: redact
    public.dossiers.tail: last4
    public.dossiers.tag: hash
    public.vault.secret: 'null'
  detectors: [email, card, ssn, phone]
`);

let gw: TestGateway;
let token: string;
let forbidden: readonly string[];

test.before(async () => {
  if (!real) return;
  gw = await startTestGateway({ seedSql: SEED + EXTRA_SEED, policy });
  token = await gw.token(BOT);
  const { rows } = await gw.sql('SELECT email, phone, ssn, card_number FROM customers ORDER BY id');
  forbidden = rows.flatMap(forms);
});
test.after.always(async () => {
  await gw?.close();
});

function query(sql: string) {
  return gw.post('/v1/query', { connection: 'main', sql }, { authorization: `Bearer ${token}`, 'x-agent-model': 'test-model' });
}

/**
 * Ten rows `g, X, pad`: the padding is chosen so that, counted raw, ten rows of the shorter value
 * fit the budget and ten of the longer do not — what the attacker tunes. `rawLength` is X's text
 * as the server sends it, read by the test as the database owner.
 */
function padFor(shorter: number): number {
  const gs = 9 * 1 + 2; // '1' … '9', '10'
  const overhead = 10 * (ROW_OVERHEAD_BYTES + 3 * CELL_OVERHEAD_BYTES) + gs;
  return Math.floor((DEFAULT_MAX_RESULT_BYTES - overhead) / 10) - shorter;
}

/** Two customers (by row position) whose X has a different length, with those lengths. */
async function twoLengths(rawText: string): Promise<{ a: number; b: number; la: number; lb: number }> {
  const { rows } = await gw.sql(`SELECT (row_number() OVER (ORDER BY id) - 1)::int AS pos, octet_length(${rawText})::int AS len FROM customers c ORDER BY id`);
  const a = rows.find((r) => r.len !== null)!;
  const b = rows.find((r) => r.len !== null && r.len > a.len) ?? rows.find((r) => r.len !== null && r.len < a.len)!;
  return { a: a.pos, b: b.pos, la: a.len, lb: b.len };
}

// [what the bot selects, the same value's text as the owner measures it]
const SPELLINGS: readonly (readonly [string, string])[] = [
  ['c.email', 'c.email'],
  ['c.ssn', 'c.ssn'],
  ['c.phone', 'c.phone'],
  ['c.card_number', 'c.card_number'],
  ['c', 'c::text'], // the whole row, masked as one value
  ['c.x', 'c.email'], // out of a subquery under another name
];

for (const [selected, measured] of SPELLINGS) {
  test.serial(`how many rows fit the byte budget does not depend on a masked value: ${selected}`, async (t) => {
    if (!real) return t.pass('needs real PostgreSQL');
    const { a, b, la, lb } = await twoLengths(measured.replace(/^c\.x$/, 'c.email'));
    t.not(la, lb, 'the seed has two lengths to tell apart');
    const pad = padFor(Math.min(la, lb));
    const inner = selected === 'c.x' ? 'SELECT email AS x FROM customers' : 'SELECT * FROM customers';
    const sql = (offset: number) =>
      `SELECT g, ${selected}, repeat('x', ${pad}) AS pad FROM (${inner} ORDER BY id LIMIT 1 OFFSET ${offset}) c, generate_series(1, 10) g`;
    const first = await query(sql(a));
    const second = await query(sql(b));
    t.is(first.status, 200, JSON.stringify(first.body).slice(0, 300));
    t.is(second.status, 200, JSON.stringify(second.body).slice(0, 300));
    t.is(first.body.rowCount, second.body.rowCount, `${la} and ${lb} bytes`);
    t.is(first.body.truncated, second.body.truncated);
    t.true(first.body.columns[1].masked);
    t.deepEqual(leaks(forbidden, first.body, second.body), []);
  });
}

test.serial('the same through a write: a data-modifying CTE returning the masked column, ten rows padded', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  const writer = await gw.token('alice@acme.com'); // the dba group: writes allowed
  const { a, b, la, lb } = await twoLengths('c.email');
  const ids = (await gw.sql('SELECT id FROM customers ORDER BY id')).rows.map((r) => r.id as number);
  const pad = padFor(Math.min(la, lb));
  const sql = (id: number) =>
    `WITH u AS (UPDATE customers SET name = name WHERE id = ${id} RETURNING email) SELECT g, u.email, repeat('x', ${pad}) AS pad FROM u, generate_series(1, 10) g`;
  const post = (id: number) => gw.post('/v1/query', { connection: 'main', sql: sql(id) }, { authorization: `Bearer ${writer}`, 'x-agent-model': 'test-model' });
  const [first, second] = [await post(ids[a]!), await post(ids[b]!)];
  t.is(first.status, 200, JSON.stringify(first.body).slice(0, 300));
  t.is(second.status, 200, JSON.stringify(second.body).slice(0, 300));
  t.true(first.body.columns[1].masked);
  t.is(first.body.rowCount, second.body.rowCount, `${la} and ${lb} bytes`);
  t.deepEqual(leaks(forbidden, first.body, second.body), []);
});

test.serial('a masked value longer than its cost is not kept and not counted as omitted: it comes back masked, like a short one', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  const r = await query('SELECT id, body FROM dossiers ORDER BY id');
  t.is(r.status, 200, JSON.stringify(r.body).slice(0, 300));
  t.deepEqual(r.body.rows, [[1, '[REDACTED]'], [2, '[REDACTED]'], [3, '[REDACTED]'], [4, null]]);
  // Every strategy: a short value as its strategy says, a long one redacted (nothing of it was kept).
  const all = await query('SELECT id, tail, tag FROM dossiers WHERE id <= 2 ORDER BY id');
  t.is(all.status, 200, JSON.stringify(all.body).slice(0, 300));
  t.is(all.body.rows[0][1], '••••1111');
  t.regex(all.body.rows[0][2], /^h:[0-9a-f]{16}$/);
  t.deepEqual(all.body.rows[1], [2, '[REDACTED]', '[REDACTED]']);
  const events = await gw.runtime.sessions.read(r.body.sessionId);
  const result = events.find((e) => e.type === 'execution.result')!.data as any;
  t.is(result.cellsOmitted ?? 0, 0, 'how many masked values are long is not told');
  // The padding over the long and the short dossier: the same number of rows fit.
  const pad = padFor(100);
  const sql = (id: number) => `SELECT g, d.body, repeat('x', ${pad}) AS pad FROM (SELECT body FROM dossiers WHERE id = ${id}) d, generate_series(1, 10) g`;
  const [short, long, mid] = [await query(sql(1)), await query(sql(2)), await query(sql(3))];
  t.is(short.body.rowCount, long.body.rowCount);
  t.is(short.body.rowCount, mid.body.rowCount);
});

// Under `null` a masked cell comes back null whatever it held, so whether it was NULL is as hidden
// as its value (`predicates: deny` refuses `IS NULL` and `count(secret)` over it). Counted at 4
// bytes for a NULL and 260 for anything else, it decided how many rows fit: ten rows of a NULL
// padded to just under the budget fit, ten of 'x' did not.
test.serial('how many rows fit does not tell a NULL from a value under the null strategy', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  const pad = padFor(0);
  const spellings = [
    (id: number) => `SELECT g, v.secret, repeat('x', ${pad}) AS pad FROM (SELECT secret FROM vault WHERE id = ${id}) v, generate_series(1, 10) g`,
    (id: number) => `SELECT g, secret, repeat('x', ${pad}) AS pad FROM vault, generate_series(1, 10) g WHERE id = ${id}`,
    (id: number) => `SELECT g, (SELECT secret FROM vault WHERE id = ${id}) AS s, repeat('x', ${pad}) AS pad FROM generate_series(1, 10) g`,
  ];
  for (const sql of spellings) {
    const answers = [await query(sql(1)), await query(sql(2)), await query(sql(3))];
    for (const a of answers) t.is(a.status, 200, JSON.stringify(a.body).slice(0, 300));
    t.deepEqual(
      answers.map((a) => a.body.rows.map((r: unknown[]) => r[1])),
      answers.map((a) => a.body.rows.map(() => null)),
      'every value comes back null',
    );
    t.deepEqual(
      answers.map((a) => [a.body.rowCount, a.body.truncated]),
      answers.map(() => [answers[0]!.body.rowCount, answers[0]!.body.truncated]),
      sql(1),
    );
  }
});

// The recorded execution.result must not tell them apart either: an event over the store's limit
// is refused (503 event_too_large, Firestore's is 1 MB, under the default 4 MiB budget), so a
// byte's difference in the record is a bit for a bot that pads to the limit. Its masking decisions
// counted only non-NULL cells: `cells: 10` or none at all, by whether the secret was NULL.
test.serial('the recorded result of a NULL and of a value under the null strategy are alike', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  const sql = (id: number) => `SELECT g, v.secret FROM (SELECT secret FROM vault WHERE id = ${id}) v, generate_series(1, 10) g`;
  const records = [];
  for (const id of [1, 2, 3]) {
    const r = await query(sql(id));
    t.is(r.status, 200, JSON.stringify(r.body).slice(0, 300));
    const events = await gw.runtime.sessions.read(r.body.sessionId);
    const { durationMs: _d, resultSha256: _r, rawHmacSha256: _h, ...data } = events.find((e) => e.type === 'execution.result')!.data as any;
    records.push(data);
  }
  t.deepEqual(records[1], records[0]);
  t.deepEqual(records[2], records[0]);
});

// What an unmasked cell's JSON adds to its wire bytes (`\u0001` for a control character) counts
// against maxResultBytes; a masked one's must not, or its control characters would decide how
// many rows fit.
test.serial('how a masked value would be spelled in JSON does not decide how many rows fit', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  const pad = padFor(256);
  const sql = (id: number) => `SELECT g, v.secret, repeat('x', ${pad}) AS pad FROM (SELECT secret FROM vault WHERE id = ${id}) v, generate_series(1, 10) g`;
  const answers = [await query(sql(4)), await query(sql(5)), await query(sql(6))];
  for (const a of answers) t.is(a.status, 200, JSON.stringify(a.body).slice(0, 300));
  t.deepEqual(
    answers.map((a) => [a.body.rowCount, a.body.truncated]),
    [[10, false], [10, false], [10, false]],
  );
  // The same control characters unmasked do count: fewer rows fit.
  const shown = await query(`SELECT g, repeat(chr(1), 200) AS s, repeat('x', ${pad}) AS pad FROM generate_series(1, 10) g`);
  t.is(shown.status, 200);
  t.is(shown.body.truncatedBy, 'bytes');
  t.true(Buffer.byteLength(JSON.stringify(shown.body.rows)) <= DEFAULT_MAX_RESULT_BYTES);
});

test.serial('columns that are not masked still count as their bytes', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  // Ten rows of a 419,000-byte unmasked cell fit 4 MiB; eleven do not — exactly as counted raw.
  const r = await query(`SELECT g, repeat('y', 419000) AS pad FROM generate_series(1, 11) g`);
  t.is(r.status, 200);
  t.is(r.body.rowCount, 10);
  t.is(r.body.truncatedBy, 'bytes');
});
