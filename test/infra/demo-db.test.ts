import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import pg from 'pg';
import { startDemoDatabase } from '../../infra/demo-db/index.ts';

// One state dir for the file: first start, then a restart, in order (initdb alone takes seconds).
test.serial('the demo database seeds a PII-holding shop once, keeps changes across restarts, and reports provenance on the wire', async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-demo-'));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));

  let started = performance.now();
  const first = await startDemoDatabase(stateDir);
  t.log(`first start (initdb + seed): ${Math.round(performance.now() - started)} ms`);
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await first.stop();
  });
  t.true(first.freshlySeeded);

  const c = new pg.Client({ connectionString: first.url });
  await c.connect();
  try {
    const count = async (sql: string) => Number((await c.query<{ n: string }>(sql)).rows[0]!.n);
    t.is(await count('SELECT count(*) AS n FROM customers'), 20);
    t.is(await count('SELECT count(*) AS n FROM orders'), 50);
    t.true((await count('SELECT count(*) AS n FROM products')) >= 5);
    t.is(await count('SELECT count(*) AS n FROM orders o WHERE total <> (SELECT sum(quantity * unit_price) FROM order_items i WHERE i.order_id = o.id)'), 0);

    const view = await c.query({ text: 'SELECT * FROM customer_contacts ORDER BY name LIMIT 1', rowMode: 'array' });
    t.deepEqual(view.fields.map((f) => f.name), ['name', 'email', 'phone']);

    const people = (await c.query<{ email: string; phone: string; ssn: string; card_number: string }>('SELECT * FROM customers')).rows;
    for (const p of people) {
      t.regex(p.email, /^[a-z-]+\.[a-z-]+@example\.com$/);
      t.regex(p.phone, /^\+1-202-555-01\d\d$/);
      // Shaped like an SSN, but area 9xx with a group below 50: neither an SSN nor an ITIN.
      t.regex(p.ssn, /^9\d\d-[1-4]\d-\d{4}$/);
      t.true(luhn(p.card_number), p.card_number);
    }

    // Masking's provenance: a plain column names its table and attribute, a view names itself,
    // an expression names nothing (docs/design.md#masking-provenance).
    const ids = (
      await c.query<{ customers: number; contacts: number; email: number }>(
        `SELECT 'public.customers'::regclass::oid::int AS customers,
                'public.customer_contacts'::regclass::oid::int AS contacts,
                (SELECT attnum FROM pg_attribute WHERE attrelid = 'public.customers'::regclass AND attname = 'email')::int AS email`,
      )
    ).rows[0]!;
    const field = async (sql: string) => {
      const f = (await c.query({ text: sql, rowMode: 'array' })).fields[0]!;
      return [f.tableID, f.columnID];
    };
    t.deepEqual(await field('SELECT email FROM customers'), [ids.customers, ids.email]);
    t.deepEqual(await field('SELECT email FROM customer_contacts'), [ids.contacts, 2]);
    t.deepEqual(await field('SELECT lower(email) FROM customers'), [0, 0]);

    await c.query("INSERT INTO customers (name, email, phone, ssn, card_number, date_of_birth, created_at) VALUES ('Test Person', 'test.person@example.com', '+1-202-555-0199', '999-49-0000', '4111111111111111', '2000-01-01', now())");
  } finally {
    await c.end();
  }
  await first.stop();
  stopped = true;

  started = performance.now();
  const again = await startDemoDatabase(stateDir);
  t.log(`restart: ${Math.round(performance.now() - started)} ms`);
  t.teardown(() => again.stop());
  t.false(again.freshlySeeded);
  const d = new pg.Client({ connectionString: again.url });
  await d.connect();
  try {
    t.is(Number((await d.query('SELECT count(*) AS n FROM customers')).rows[0].n), 21, 'the change survived, nothing reseeded');
    t.is(Number((await d.query('SELECT count(*) AS n FROM gatehouse_demo.seeded')).rows[0].n), 1);
  } finally {
    await d.end();
  }
});

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return /^\d{13,19}$/.test(digits) && sum % 10 === 0;
}
