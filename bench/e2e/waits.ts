// What the databases' backends are doing while the gateway is under load, seen from PostgreSQL:
// pg_stat_activity sampled every few ms — working (`active`, no wait event: on CPU), waiting on
// a lock, on the WAL flush (`IO:WALSync`, the fsync the durable log pays), or idle inside a
// transaction waiting for the gateway's next message (`idle in transaction Client:ClientRead`).
// Only the bench's breakdown phases sample: a sampler is a little load of its own.
import pg from 'pg';

export interface WaitSample {
  /** `state wait_event_type:wait_event` (`active CPU` when no wait event) → mean backends in it. */
  readonly backends: Readonly<Record<string, number>>;
  readonly samples: number;
}

export interface WaitSampler {
  stop(): Promise<Record<string, WaitSample>>;
}

export async function startWaitSampler(databases: Readonly<Record<string, string>>, intervalMs = 25): Promise<WaitSampler> {
  const clients = Object.fromEntries(await Promise.all(Object.entries(databases).map(async ([name, url]) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    return [name, c] as const;
  })));
  const counts: Record<string, Record<string, number>> = Object.fromEntries(Object.keys(databases).map((k) => [k, {}]));
  const samples: Record<string, number> = Object.fromEntries(Object.keys(databases).map((k) => [k, 0]));
  let running = true;
  const loops = Object.entries(clients).map(async ([name, c]) => {
    while (running) {
      const { rows } = await c.query<{ what: string; n: number }>(
        `SELECT state || ' ' || coalesce(wait_event_type || ':' || wait_event, 'CPU') AS what, count(*)::int AS n
           FROM pg_stat_activity
          WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND state IS NOT NULL AND state <> 'idle'
          GROUP BY 1`,
      );
      samples[name]!++;
      for (const r of rows) counts[name]![r.what] = (counts[name]![r.what] ?? 0) + r.n;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      await Promise.all(Object.values(clients).map((c) => c.end()));
      return Object.fromEntries(
        Object.keys(databases).map((name) => {
          const n = samples[name]!;
          const backends = Object.fromEntries(
            Object.entries(counts[name]!)
              .map(([k, v]) => [k, Math.round((v / Math.max(1, n)) * 100) / 100] as const)
              .sort((a, b) => b[1] - a[1]),
          );
          return [name, { backends, samples: n }];
        }),
      );
    },
  };
}
