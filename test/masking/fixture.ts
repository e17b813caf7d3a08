// A fresh database with the demo seed (infra/demo-db/seed.sql: the customers' PII is known), the
// statement path the gateway uses (createTargetDatabase), a catalog reader and a masker over it.
// `run` does exactly what the gateway will: prepare, execute, plan, apply.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { createEmbeddedSecrets } from '../../shared/adapters/secrets/index.ts';
import { createCatalogReader, createTargetDatabase, type ClosableCatalogReader } from '../../shared/postgres/index.ts';
import { createMasker, type Masker, type MaskedResult, type MaskPlan } from '../../shared/masking/index.ts';
import { createViewLineageAnalyzer } from '../../shared/masking/view-lineage.ts';
import type { MaskingConfig } from '../../shared/policy/types.ts';
import type { StatementResult, TargetDatabase } from '../../shared/ports.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';

export const SEED = readFileSync(new URL('../../infra/demo-db/seed.sql', import.meta.url), 'utf8');

/** Every strategy in play, phone included so that each seeded identifier is a configured column. */
export const CONFIG: MaskingConfig = {
  columns: {
    'public.customers.email': 'email',
    'public.customers.ssn': 'redact',
    'public.customers.card_number': 'last4',
    'public.customers.phone': 'hash',
  },
  derived: 'mask',
  detectors: ['email', 'card', 'ssn', 'phone', 'iban', 'secret'],
};

/** The policy example of docs/policy.example.yaml, where phones are left to the detector. */
export const DESIGN_CONFIG: MaskingConfig = {
  columns: { 'public.customers.email': 'email', 'public.customers.ssn': 'redact', 'public.customers.card_number': 'last4' },
  derived: 'mask',
  detectors: ['email', 'card', 'ssn', 'phone', 'iban', 'secret'],
};

export const KEY = new Uint8Array(32).fill(0x42);

export interface Fixture {
  readonly db: TestDatabase;
  readonly admin: pg.Pool;
  readonly target: TargetDatabase;
  readonly catalog: ClosableCatalogReader;
  readonly masker: Masker;
  masker2(config: MaskingConfig, key?: Uint8Array): Masker;
  run(sql: string, masker?: Masker): Promise<{ raw: StatementResult; plan: MaskPlan; masked: MaskedResult }>;
  /** Every seeded raw identifier, in the forms a leak could take. */
  readonly forbidden: readonly string[];
  close(): Promise<void>;
}

export async function openFixture(extraSeed = '', options: { maxAgeMs?: number; clock?: () => number; config?: MaskingConfig } = {}): Promise<Fixture> {
  const db = await createTestDatabase();
  const admin = new pg.Pool({ connectionString: db.url, max: 2 });
  admin.on('error', () => {}); // db.drop() may end a connection pool.end() is still closing
  await admin.query(SEED + extraSeed);
  const connections = { t: { credentials: 'embedded://t' } };
  const secrets = createEmbeddedSecrets(new Map([['t', db.url]]));
  const target = createTargetDatabase({ connections, secrets });
  const { config = CONFIG, ...catalogOptions } = options;
  const catalog = createCatalogReader({ connections, secrets, views: createViewLineageAnalyzer(), ...catalogOptions });
  const masker2 = (config: MaskingConfig, key = KEY) => createMasker({ config, catalog, hashKey: async () => key });
  const masker = masker2(config);
  const { rows } = await admin.query<{ email: string; phone: string; ssn: string; card_number: string }>(
    'SELECT email, phone, ssn, card_number FROM customers ORDER BY id',
  );
  return {
    db,
    admin,
    target,
    catalog,
    masker,
    masker2,
    forbidden: rows.flatMap(forms),
    async run(sql, m = masker) {
      const prepared = await m.prepare({ connection: 't', sql });
      // As the gateway runs it: the engine asks which columns will be masked when the rows start.
      let flagged: readonly boolean[] | undefined;
      const maskedColumns = (fields: Parameters<Masker['maskedColumns']>[1]) => (flagged = m.maskedColumns(prepared, fields));
      const raw = await target.run({ connection: 't', sql, params: [], readOnly: true, maxRows: 100, statementTimeoutMs: 5000, maskedColumns });
      const plan = await m.plan({ connection: 't', sql, fields: raw.fields, prepared });
      // The byte budget counted each cell by that answer (a masked one at a fixed cost): it must be
      // the plan's own, for every statement any masking test runs.
      plan.columns.forEach((c, i) => {
        if (flagged !== undefined && flagged[i] !== (c.strategy !== null)) {
          throw new Error(`maskedColumns said ${flagged[i]} for column ${i} (${c.name}), the plan ${c.strategy}: ${sql}`);
        }
      });
      return { raw, plan, masked: await m.apply(plan, raw.rows) };
    },
    async close() {
      await target.close();
      await catalog.close();
      await admin.end();
      await db.drop();
    },
  };
}

/** The raw value, its identifying parts, and encodings a query can produce (lower-cased: checks ignore case). */
export function forms(c: { email: string; phone: string; ssn: string; card_number: string }): string[] {
  const local = c.email.slice(0, c.email.indexOf('@'));
  const phoneDigits = c.phone.replace(/\D/g, '');
  const reverse = (s: string) => [...s].reverse().join('');
  const out = [
    c.email,
    local,
    reverse(local),
    Buffer.from(c.email).toString('hex'),
    Buffer.from(c.email).toString('base64'),
    createHash('md5').update(c.email).digest('hex'),
    c.phone,
    phoneDigits,
    phoneDigits.slice(1), // 2025550101
    c.ssn,
    c.ssn.replace(/-/g, ''),
    reverse(c.ssn),
    Buffer.from(c.ssn).toString('hex'),
    c.card_number,
    // last4 shows the last four digits; everything before them must stay hidden.
    c.card_number.slice(0, -4),
    reverse(c.card_number),
  ];
  return out.map((s) => s.toLowerCase());
}

/** The forbidden forms found in anything JSON can hold. */
export function leaks(forbidden: readonly string[], ...values: unknown[]): string[] {
  const text = JSON.stringify(values).toLowerCase();
  return forbidden.filter((f) => text.includes(f));
}
