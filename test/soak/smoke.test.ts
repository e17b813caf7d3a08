// The soak run in small (issue 15): 6 s of mixed load at concurrency 4 against a gateway process
// over the test cluster, then the truth check the full `npm run soak` makes. Kept small for CI.
import test from 'ava';
import { formatTable, runScenario, startHarness } from '../../scripts/soak/harness.ts';
import { testPgKind, testPgUrl } from '../helpers/pg.ts';

test('soak smoke: every recorded session was named by an answer, no 5xx, no unknown outcome, evidence verifies', async (t) => {
  if (testPgKind === 'pglite') {
    t.pass('needs a real PostgreSQL cluster (CREATE DATABASE, pg_stat_activity)');
    return;
  }
  const h = await startHarness({ baseUrl: testPgUrl() });
  t.teardown(() => h.close());
  const row = await runScenario(h, 'smoke', {
    durationSec: 6,
    concurrency: 4,
    maxRequests: 2000,
    mix: { read: 50, write: 30, analyze: 10, denied: 5, garbage: 5 },
  });
  t.log(`\n${formatTable([row])}`);
  t.true(row.requests > 0);
  t.is(row.fiveXX, 0);
  t.is(row.noAnswer, 0);
  t.is(row.unnamedSessions, 0, 'a session in the log that no answer named');
  t.is(row.sessionsRecorded, row.answersWithSession);
  t.is(row.unknownOutcomes, 0);
  t.is(row.verify, 'ok');
  t.true(row.rssMb.peak > 0);
});
