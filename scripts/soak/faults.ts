// npm run faults — the issue 15 fault scenarios, one after another against one gateway process over
// real PostgreSQL, each a short bounded load with the fault injected mid-way; prints one table.
// Store outage and target outage cut a TCP proxy; kill -9 kills the gateway and starts it again;
// store lock holds ACCESS EXCLUSIVE on the events table; slow completion makes the result append
// outlive the store's bound; heavy results reads 8 MB rows; garbage sends 1,000 malformed bodies.
import { setTimeout as sleep } from 'node:timers/promises';
import { formatTable, runScenario, startHarness, type ScenarioRow } from './harness.ts';

const SECONDS = 10;
const base = { durationSec: SECONDS, concurrency: 8, maxRequests: 20_000, mix: { read: 50, write: 40, analyze: 10 } };
const rows: ScenarioRow[] = [];
const h = await startHarness();
try {
  rows.push(await runScenario(h, 'baseline', base));
  rows.push(
    await runScenario(h, 'store outage 3 s', base, async () => {
      await sleep(3000);
      await h.storeProxy.close();
      await sleep(3000);
      await h.storeProxy.open();
    }),
  );
  rows.push(
    await runScenario(h, 'target outage 3 s', base, async () => {
      await sleep(3000);
      await h.targetProxy.close();
      await sleep(3000);
      await h.targetProxy.open();
    }),
  );
  rows.push(
    await runScenario(h, 'kill -9 and restart', { ...base, durationSec: 25 }, async () => {
      await sleep(6000);
      await h.restartGateway();
    }),
  );
  rows.push(
    await runScenario(h, 'store lock 6 s', base, async () => {
      await sleep(2000);
      const c = await h.store.connect();
      try {
        await c.query('BEGIN');
        await c.query('LOCK TABLE gatehouse_session_events IN ACCESS EXCLUSIVE MODE');
        await sleep(6000);
        await c.query('COMMIT');
      } finally {
        c.release();
      }
    }),
  );
  rows.push(
    await runScenario(h, 'slow completion (3 s > 2 s bound)', base, async () => {
      await h.store.query(`
        CREATE OR REPLACE FUNCTION soak_slow_result() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.type = 'execution.result' AND random() < 0.2 THEN PERFORM pg_sleep(3); END IF; RETURN NEW; END $$;
        CREATE TRIGGER soak_slow_result BEFORE INSERT ON gatehouse_session_events FOR EACH ROW EXECUTE FUNCTION soak_slow_result();`);
      await sleep((SECONDS - 2) * 1000);
      await h.store.query('DROP TRIGGER soak_slow_result ON gatehouse_session_events; DROP FUNCTION soak_slow_result()');
    }),
  );
  rows.push(await runScenario(h, 'heavy results (3 × 8 MB rows)', { ...base, concurrency: 4, mix: { heavy: 1 } }));
  rows.push(await runScenario(h, '1,000 garbage bodies', { durationSec: 120, concurrency: 8, maxRequests: 1000, mix: { garbage: 1 } }));
  console.log(formatTable(rows));
  // Whatever else happened, the log must not lie: every session named, every outcome known, verify clean.
  if (rows.some((r) => r.verify !== 'ok' || r.unknownOutcomes > 0 || (r.unnamedSessions > 0 && !r.scenario.startsWith('kill')))) process.exitCode = 1;
} finally {
  await h.close();
}
