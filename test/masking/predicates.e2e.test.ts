// masking.predicates: deny — a masked column used to pick, group, order or count rows refuses the
// statement before it runs (the counting and ordering oracles that masking the output cannot
// close). Real PostgreSQL, the demo seed, the masker's prepare() exactly as the gateway calls it.
import test from 'ava';
import { CONFIG, openFixture, type Fixture } from './fixture.ts';

let fx: Fixture;
test.before(async () => {
  fx = await openFixture();
});
test.after.always(async () => {
  await fx?.close();
});

const deny = () => fx.masker2({ ...CONFIG, predicates: 'deny' });

const ORACLES: readonly string[] = [
  "SELECT id FROM customers WHERE ssn LIKE '9%'",
  "SELECT count(*) FROM customers WHERE email > 'm'",
  'SELECT id FROM customers WHERE ssn = $1',
  'SELECT c.id FROM customers c WHERE (c).ssn < $1',
  'SELECT id FROM customers ORDER BY email',
  'SELECT id FROM customers ORDER BY 1, lower(card_number) DESC',
  'SELECT count(*) FROM customers GROUP BY substr(ssn, 1, 1)',
  "SELECT name FROM customers GROUP BY name HAVING max(ssn) > '905'",
  'SELECT count(DISTINCT ssn) FROM customers',
  'SELECT count(phone) FROM customers',
  "SELECT sum(id) FILTER (WHERE email LIKE 'a%') FROM customers",
  'SELECT row_number() OVER (ORDER BY email), id FROM customers',
  'SELECT rank() OVER w FROM customers WINDOW w AS (PARTITION BY ssn)',
  'SELECT string_agg(name, \',\' ORDER BY email) FROM customers',
  'SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id AND c.email LIKE \'a%\'',
  "SELECT id FROM products p WHERE EXISTS (SELECT 1 FROM customers c WHERE c.ssn LIKE '9%' AND c.id = p.id)",
  "SELECT id FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE card_number LIKE '4%')",
  "SELECT id FROM customer_contacts WHERE email LIKE 'a%'",
  "WITH x AS (SELECT id, ssn FROM customers) SELECT id FROM x WHERE ssn LIKE '9%'",
  'SELECT DISTINCT ON (email) id FROM customers',
  // JOIN … USING and NATURAL JOIN compare columns as JOIN … ON does: an equality oracle on a guess
  "SELECT count(*) FROM customers JOIN (SELECT '123-45-6789'::text AS ssn) g USING (ssn)",
  "SELECT count(*) FROM customers NATURAL JOIN (SELECT '123-45-6789'::text AS ssn) g",
  "SELECT count(*) FROM (SELECT email FROM customers) a JOIN (VALUES ('ada@example.com')) g(email) USING (email)",
  "SELECT count(*) FROM customers c JOIN customer_contacts v USING (email)",
  // IS NULL picks rows by a masked column: the null count, as count(phone) is
  'SELECT count(*) FROM customers WHERE phone IS NULL',
  'SELECT id FROM customers c JOIN orders o ON o.customer_id = c.id AND c.ssn IS NOT NULL',
];

for (const sql of ORACLES) {
  test(`deny: ${sql}`, async (t) => {
    const error = await t.throwsAsync(deny().prepare({ connection: 't', sql }), { code: 'masking_denied' } as never);
    t.is((error as { details?: { reason?: string } }).details?.reason, 'masked_column_in_predicate');
    // The default (allow) runs the same statement: the refusal is the option's, not a parse failure.
    await t.notThrowsAsync(fx.masker.prepare({ connection: 't', sql }));
  });
}

const FINE: readonly string[] = [
  'SELECT id, name FROM customers WHERE id > 3 ORDER BY name',
  'SELECT count(*) FROM customers',
  'SELECT name, count(*) FROM customers GROUP BY name HAVING count(*) > 0',
  'SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id ORDER BY o.total DESC',
  'SELECT row_number() OVER (PARTITION BY name ORDER BY created_at), email FROM customers',
  "SELECT id FROM customers WHERE date_of_birth < '1980-01-01' AND name LIKE 'A%'",
  'SELECT c.id, o.total, c.email FROM customers c JOIN (SELECT customer_id AS id, total FROM orders) o USING (id)',
  'SELECT * FROM (SELECT id, email FROM customers) a NATURAL JOIN (SELECT id FROM orders) b',
  'SELECT id, email IS NULL FROM customers WHERE name IS NOT NULL',
];

for (const sql of FINE) {
  test(`allowed under deny: ${sql}`, async (t) => {
    await t.notThrowsAsync(deny().prepare({ connection: 't', sql }));
  });
}
