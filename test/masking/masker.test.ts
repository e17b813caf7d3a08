// The masker with a fake catalog (no database): preview for /v1/analyze, fail-closed planning,
// error messages, options checked at start-up.
import test from 'ava';
import { createMasker, identifiersOf, redactErrorMessage } from '../../shared/masking/index.ts';
import { parseOne } from '../../shared/sql/parse.ts';
import { loadParser } from '../../shared/sql/index.ts';
import type { CatalogReader, RelationInfo, ResultField } from '../../shared/ports.ts';
import { CONFIG } from './fixture.ts';

const CUSTOMERS: RelationInfo = {
  oid: 100,
  schema: 'public',
  name: 'customers',
  kind: 'table',
  columns: new Map(['id', 'name', 'email', 'phone', 'ssn', 'card_number', 'date_of_birth', 'created_at'].map((c, i) => [i + 1, c])),
  ancestors: [],
};
const ORDERS: RelationInfo = { oid: 200, schema: 'public', name: 'orders', kind: 'table', columns: new Map([[1, 'id'], [2, 'total']]), ancestors: [] };

const fakeCatalog: CatalogReader = {
  async describe(_c, oids) {
    return new Map([CUSTOMERS, ORDERS].filter((r) => oids.includes(r.oid)).map((r) => [r.oid, r]));
  },
  async lookup(_c, names) {
    return new Map(names.map((n) => [n, [CUSTOMERS, ORDERS].filter((r) => r.name === n.split('.').pop())]));
  },
  async userFunctions(_c, names) {
    return new Set(names.filter((n) => n === 'lookup_secret'));
  },
};

test.before(async () => {
  await loadParser(); // preview() is synchronous, like analyze()
});

const masker = createMasker({ config: CONFIG, catalog: fakeCatalog, hashKey: async () => new Uint8Array(32) });
const field = (name: string, tableID = 0, columnID = 0, dataTypeID = 25): ResultField => ({ name, tableID, columnID, dataTypeID, type: 'text' });

test('preview: which output columns would be masked, from lineage and the policy alone', (t) => {
  t.deepEqual(masker.preview('SELECT id, email, lower(ssn) AS s, md5(phone), total FROM customers JOIN orders o ON true'), [
    { index: 0, column: 'id', strategy: null, why: 'lineage' },
    { index: 1, column: 'email', strategy: 'email', why: 'lineage', source: ['public.customers.email'] },
    { index: 2, column: 's', strategy: 'redact', why: 'lineage', source: ['public.customers.ssn'] },
    { index: 3, column: 'md5', strategy: 'redact', why: 'lineage', source: ['public.customers.phone'] },
    { index: 4, column: 'total', strategy: null, why: 'lineage' },
  ]);
  t.deepEqual(masker.preview('SELECT *, 1 AS one FROM customers'), [
    { index: null, column: 'card_number', strategy: 'last4', why: 'lineage', source: ['public.customers.card_number'] },
    { index: null, column: 'email', strategy: 'email', why: 'lineage', source: ['public.customers.email'] },
    { index: null, column: 'phone', strategy: 'hash', why: 'lineage', source: ['public.customers.phone'] },
    { index: null, column: 'ssn', strategy: 'redact', why: 'lineage', source: ['public.customers.ssn'] },
    { index: null, column: 'one', strategy: null, why: 'lineage' },
  ]);
  t.deepEqual(masker.preview('SELECT count(*) FROM customers'), [{ index: 0, column: 'count', strategy: null, why: 'lineage' }]);
  t.deepEqual(masker.preview('EXPLAIN SELECT email FROM customers'), []);
  const deny = createMasker({ config: { ...CONFIG, derived: 'deny' }, catalog: fakeCatalog, hashKey: async () => new Uint8Array(32) });
  t.deepEqual(deny.preview('SELECT lower(email) FROM customers')[0], { index: 0, column: 'lower', strategy: 'redact', why: 'lineage', source: ['public.customers.email'], denied: true });
});

test('plan: provenance first, lineage for 0/0, fail closed when lineage is unknown over a sensitive table', async (t) => {
  const sql = 'SELECT email, id, lower(ssn), nosuch.x, lookup_secret(1) FROM customers';
  const plan = await masker.plan({
    connection: 'c',
    sql,
    fields: [field('email', 100, 3), field('id', 100, 1, 23), field('lower'), field('x'), field('lookup_secret')],
  });
  t.deepEqual(
    plan.columns.map((c) => [c.name, c.strategy, c.why]),
    [
      ['email', 'email', 'provenance'],
      ['id', null, undefined],
      ['lower', 'redact', 'lineage'],
      ['x', 'redact', 'fail-closed'], // strictest present among what the statement reads, made safe for derived values
      ['lookup_secret', 'redact', 'fail-closed'], // a user function may read any table
    ],
  );
  // Nothing sensitive read, nothing known: not masked.
  const harmless = await masker.plan({ connection: 'c', sql: 'SELECT nosuch.x FROM orders', fields: [field('x')] });
  t.is(harmless.columns[0]!.strategy, null);
});

test('apply takes only plans of its own masker', async (t) => {
  await t.throwsAsync(masker.apply({ connection: 'c', columns: [] }, []), { code: 'internal' } as never);
});

test('a key that cannot be read or is too short fails closed with secret_unavailable', async (t) => {
  const broken = createMasker({ config: CONFIG, catalog: fakeCatalog, hashKey: async () => Promise.reject(new Error('down')) });
  await t.throwsAsync(broken.plan({ connection: 'c', sql: 'SELECT 1', fields: [field('?column?')] }), { code: 'secret_unavailable' } as never);
  const short = createMasker({ config: CONFIG, catalog: fakeCatalog, hashKey: async () => new Uint8Array(8) });
  await t.throwsAsync(short.rawDigest([], []), { code: 'secret_unavailable' } as never);
});

test('redactErrorMessage: quoted values go when the statement reads sensitive data; detectors run always', async (t) => {
  await loadParser();
  const ids = (sql: string) => identifiersOf(parseOne(sql).node);
  const msg = 'invalid input syntax for type integer: "901-12-3401"';
  t.is(redactErrorMessage(msg, true), 'invalid input syntax for type integer: "[REDACTED]"');
  t.is(redactErrorMessage('invalid input syntax for type integer: "ada"', true, ids('SELECT email::int FROM customers')), 'invalid input syntax for type integer: "[REDACTED]"');
  // Not reading anything sensitive: quoted text stays, but a detected value still goes.
  t.is(redactErrorMessage('invalid input syntax for type integer: "abc"', false), 'invalid input syntax for type integer: "abc"');
  t.is(redactErrorMessage(msg, false), 'invalid input syntax for type integer: "[REDACTED]"');
  t.is(redactErrorMessage('value "ada@example.com" is bad', false), 'value "***@example.com" is bad');
  // An identifier the bot wrote stays readable.
  t.is(redactErrorMessage('column "emial" does not exist', true, ids('SELECT emial FROM customers')), 'column "emial" does not exist');
  t.is(redactErrorMessage('malformed array literal: "{a,""b""}"', true), 'malformed array literal: "[REDACTED]"');
});

test('identifiersOf: names written as identifiers only — words in comments and string literals do not count', async (t) => {
  await loadParser();
  const words = identifiersOf(parseOne(`/* ada lovelace grace hopper */ SELECT c.email AS "Mail", 'alan turing' FROM public.customers c WHERE name = 'ada'`).node);
  for (const w of ['c', 'email', 'mail', 'public', 'customers', 'name']) t.true(words.has(w), w);
  for (const w of ['ada', 'lovelace', 'grace', 'hopper', 'alan', 'turing', 'alan turing']) t.false(words.has(w), w);
  // So a quoted value that only a comment names stays redacted.
  t.is(redactErrorMessage('invalid input syntax for type integer: "lovelace"', true, words), 'invalid input syntax for type integer: "[REDACTED]"');
});

test('options are checked at start-up', (t) => {
  t.throws(() => createMasker({ config: CONFIG, catalog: {} as CatalogReader, hashKey: async () => new Uint8Array(32) }), { instanceOf: TypeError });
  t.throws(() => createMasker({ config: { ...CONFIG, detectors: ['nope'] }, catalog: fakeCatalog, hashKey: async () => new Uint8Array(32) }), { instanceOf: TypeError });
  t.throws(() => createMasker({ config: { ...CONFIG, columns: { 'customers.email': 'email' } }, catalog: fakeCatalog, hashKey: async () => new Uint8Array(32) }), { instanceOf: TypeError });
});
