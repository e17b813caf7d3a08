// The doctor's connection (shared/doctor/): a plain node-postgres client, one per check, kept in
// this package so the doctor itself knows nothing of `pg`. Not the statement path: it runs a
// handful of catalog queries once, when an operator asks.
import pg from 'pg';

export interface DoctorClient {
  connect(): Promise<void>;
  query(text: string, values?: readonly unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
}

/** Throws when the URL is not a usable connection string (the caller reports it without the URL). */
export function doctorClient(url: string, timeoutMs: number): DoctorClient {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, application_name: 'gatehouse-doctor' });
  // A server that drops the connection emits 'error'; unheard, it would crash the process.
  client.on('error', () => {});
  return {
    connect: async () => {
      await client.connect();
    },
    query: async (text, values = []) => ({ rows: (await client.query(text, [...values])).rows as Record<string, unknown>[] }),
    end: () => client.end(),
  };
}
