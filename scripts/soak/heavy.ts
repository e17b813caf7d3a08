// npx tsx scripts/soak/heavy.ts [--concurrency 4,16] [--duration 15] [--budget 32MiB] [--heap-mb N] —
// the heavy-results scenario of `npm run faults` alone (3 rows of 8 MB each per request, many in
// flight), for the memory bound of issue 15: the gateway's RSS start/peak/end, at each concurrency
// asked for, in one table. --budget sets the gateway's GATEHOUSE_MAX_INFLIGHT_RESULT_BYTES and
// --heap-mb its V8 old-space cap (--max-old-space-size), for comparing settings.
import { parseArgs } from 'node:util';
import { formatTable, runScenario, startHarness, type ScenarioRow } from './harness.ts';

const { values } = parseArgs({
  options: { concurrency: { type: 'string', default: '4,16' }, duration: { type: 'string', default: '15' }, budget: { type: 'string' }, 'heap-mb': { type: 'string' } },
});
// Read by the harness and the child launcher (scripts/soak/harness.ts, child-process.ts).
if (values.budget) process.env.GATEHOUSE_MAX_INFLIGHT_RESULT_BYTES = values.budget;
if (values['heap-mb']) {
  if (!/^[1-9][0-9]{1,4}$/.test(values['heap-mb'])) throw new TypeError('--heap-mb must be a whole number of MB');
  process.env.GATEHOUSE_SOAK_HEAP_MB = values['heap-mb'];
}
const levels = values.concurrency!.split(',').map(Number);
if (levels.some((n) => !Number.isInteger(n) || n < 1 || n > 64)) throw new TypeError('--concurrency must be whole numbers from 1 to 64, comma-separated');
const durationSec = Number(values.duration);
if (!Number.isInteger(durationSec) || durationSec < 1 || durationSec > 600) throw new TypeError('--duration must be 1 to 600 seconds');

const rows: ScenarioRow[] = [];
const h = await startHarness();
try {
  for (const concurrency of levels) {
    rows.push(await runScenario(h, `heavy results (3 × 8 MB rows) × ${concurrency}`, { durationSec, concurrency, maxRequests: 100_000, mix: { heavy: 1 } }));
  }
  console.log(formatTable(rows));
  if (rows.some((r) => r.verify !== 'ok' || r.unknownOutcomes > 0)) process.exitCode = 1;
} finally {
  await h.close();
}
