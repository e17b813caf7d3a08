// A fresh database per test file, a TargetDatabase over it (credentials through the embedded
// secret source, as in the demo), and a plain pg client for looking behind the module's back.
import pg from 'pg';
import { createEmbeddedSecrets } from '../../shared/adapters/secrets/index.ts';
import { createTargetDatabase } from '../../shared/postgres/index.ts';
import type { StatementRequest, TargetDatabase } from '../../shared/ports.ts';
import { createTestDatabase } from '../helpers/pg.ts';

export interface Fixture {
  readonly url: string;
  readonly target: TargetDatabase;
  readonly admin: pg.Client;
  /** A request on the fixture's connection with the given overrides. */
  req(sql: string, more?: Partial<StatementRequest>): StatementRequest;
  count(table: string): Promise<number>;
  close(): Promise<void>;
}

export async function openFixture(seed: string, options: { poolSize?: number } = {}): Promise<Fixture> {
  const db = await createTestDatabase();
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query(seed);
  const target = createTargetDatabase({
    connections: { t: { credentials: 'embedded://t' } },
    secrets: createEmbeddedSecrets(new Map([['t', db.url]])),
    ...options,
  });
  return {
    url: db.url,
    target,
    admin,
    req: (sql, more = {}) => ({ connection: 't', sql, params: [], readOnly: true, maxRows: 100, statementTimeoutMs: 5000, ...more }),
    async count(table) {
      const { rows } = await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
      return rows[0]!.n;
    },
    async close() {
      await target.close();
      await admin.end();
      await db.drop();
    },
  };
}
