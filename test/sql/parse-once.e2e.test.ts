// Parse once, through the whole gateway (issue 17 item 1): libpg-query is called by exactly one
// function (shared/sql/parse.ts), which tells observers the text of every parse. A request parses
// its SQL exactly once — analysis, masking plan, /v1/analyze preview and error redaction all read
// the same tree — and a repeated statement not at all. Catalog changes made while the gateway runs
// are still seen with the statement cached. Real PostgreSQL, real HTTP, real masking.
import { execFileSync } from 'node:child_process';
import test from 'ava';
import { observeParser } from '../../shared/sql/parse.ts';
import { startTestGateway, testPolicy, type TestGateway } from '../helpers/gateway.ts';
import { SEED } from '../masking/fixture.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';

let gw: TestGateway;
let token: string;

const policy = (issuer: string) =>
  testPolicy(issuer, `masking:
  columns:
    public.customers.email: email
    public.customers.ssn: redact
functions:
  - signature: public.made_during_test(integer)
    class: read
    reason: created while the gateway runs
`);

test.before(async () => {
  gw = await startTestGateway({ seedSql: SEED, policy });
  token = await gw.token(BOT, { groups: [] });
});
test.after.always(() => gw?.close());

function post(path: '/v1/query' | '/v1/analyze', sql: string, params?: unknown[]) {
  return gw.post(path, { connection: 'main', sql, ...(params ? { params } : {}) }, { authorization: `Bearer ${token}`, 'x-agent-model': 'test-model' });
}

/** The texts parsed while `f` runs (serial tests only: the observer sees the whole process). */
async function parsed<T>(f: () => Promise<T>): Promise<{ value: T; texts: string[] }> {
  const texts: string[] = [];
  const stop = observeParser((sql) => texts.push(sql));
  try {
    return { value: await f(), texts };
  } finally {
    stop();
  }
}

test.serial('the parser is called from one place only', (t) => {
  // Every other module reaches PostgreSQL's parser through parseOne; a second caller would escape the count.
  const root = new URL('../..', import.meta.url);
  const importers = execFileSync('git', ['grep', '-l', '-E', "from 'libpg-query'|import\\('libpg-query'", '--', 'shared', 'bin', 'functions', 'infra'], { cwd: root, encoding: 'utf8' })
    .split('\n')
    .filter((l) => l !== '');
  t.deepEqual(importers, ['shared/sql/parse.ts']);
});

test.serial('an executed, masked read parses its SQL exactly once; the same statement again parses nothing', async (t) => {
  const sql = 'SELECT id, email, ssn, upper(name) AS shout FROM customers WHERE id <= $1 ORDER BY id';
  const first = await parsed(() => post('/v1/query', sql, [3]));
  t.is(first.value.status, 200, JSON.stringify(first.value.body));
  t.deepEqual(first.value.body.columns.map((c: { masked: boolean }) => c.masked), [false, true, true, false]);
  t.deepEqual(first.texts.filter((s) => s === sql), [sql], 'parsed once: analysis, masking prepare and plan share the tree');
  const second = await parsed(() => post('/v1/query', sql, [2]));
  t.is(second.value.status, 200);
  t.is(second.value.body.rowCount, 2);
  t.deepEqual(second.texts, [], 'a cache hit parses nothing at all');
  // And masking still applied on the hit: the cached Statement is the same tree, not a shortcut.
  t.deepEqual(second.value.body.columns.map((c: { masked: boolean }) => c.masked), [false, true, true, false]);
});

test.serial('/v1/analyze parses once for the analysis and the masking preview', async (t) => {
  const sql = 'SELECT c.email, count(*) FROM customers c GROUP BY c.email';
  const { value, texts } = await parsed(() => post('/v1/analyze', sql));
  t.is(value.status, 200, JSON.stringify(value.body));
  t.true(value.body.masking.some((m: { column: string; strategy: string | null }) => m.column === 'email' && m.strategy !== null));
  t.deepEqual(texts.filter((s) => s === sql), [sql]);
});

test.serial('a failing statement parses once: its error is redacted from the same tree', async (t) => {
  // PostgreSQL's message would quote the SSN; the statement reads sensitive data, so it is withheld.
  const sql = 'SELECT ssn::int FROM customers WHERE id = 1';
  const { value, texts } = await parsed(() => post('/v1/query', sql));
  t.true(value.status >= 400, JSON.stringify(value.body));
  t.is(value.body.error.details?.withheld, true, JSON.stringify(value.body));
  t.deepEqual(texts.filter((s) => s === sql), [sql]);
  const again = await parsed(() => post('/v1/query', sql));
  t.is(again.value.body.error.details?.withheld, true);
  t.deepEqual(again.texts, []);
});

test.serial('two spellings of one statement are two cache entries with one fingerprint', async (t) => {
  const a = await parsed(() => post('/v1/analyze', 'SELECT id FROM customers WHERE id = 1'));
  const b = await parsed(() => post('/v1/analyze', 'select  id from customers where id = 2 -- other constant'));
  t.is(a.texts.length, 1);
  t.is(b.texts.length, 1);
  t.is(a.value.body.statement.fingerprint, b.value.body.statement.fingerprint);
});

test.serial('with the statement cached, CREATE FUNCTION on the target is seen (and a DROP too)', async (t) => {
  const sql = 'SELECT made_during_test(id) FROM customers WHERE id = 1';
  const before = await post('/v1/query', sql);
  t.is(before.status, 403);
  t.true(before.body.reasons.some((r: string) => /does not know/.test(r)), JSON.stringify(before.body));
  await gw.sql('CREATE FUNCTION made_during_test(integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT $1 * 2 $$');
  await new Promise((r) => setTimeout(r, 2100)); // refreshes on a miss are at most one per 2 s
  const after = await parsed(() => post('/v1/query', sql));
  t.is(after.value.status, 200, JSON.stringify(after.value.body));
  t.is(after.value.body.risk.class, 'read');
  t.deepEqual(after.texts, [], 'the statement itself came from the cache; only the catalog was asked again');
  // Replaced by a function of another signature, which the policy does not list: after the next
  // catalog refresh (a miss forces one) the cached statement is refused again.
  await gw.sql('DROP FUNCTION made_during_test(integer)');
  await new Promise((r) => setTimeout(r, 2100));
  const probe = await post('/v1/query', 'SELECT made_during_test_never(1)'); // a miss: the catalog reloads
  t.is(probe.status, 403);
  const dropped = await post('/v1/query', sql);
  t.is(dropped.status, 403, JSON.stringify(dropped.body));
});
