// npm run soak -- [--duration 60] [--concurrency 32] [--max-requests 200000]
// A steady mix (reads, writes, analyses, refusals, a few 8 MB-row reads) against a gateway in its
// own process over real PostgreSQL, then the truth check: every recorded session named by an
// answer, outcomes reconciled, evidence exported and verified. Prints one table (docs/outcomes.md).
import { parseArgs } from 'node:util';
import { formatTable, runScenario, startHarness } from './harness.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    concurrency: { type: 'string', default: '32' },
    'max-requests': { type: 'string', default: '200000' },
  },
});
const durationSec = bounded(values.duration!, 'duration', 1, 3600);
const concurrency = bounded(values.concurrency!, 'concurrency', 1, 256);
const maxRequests = bounded(values['max-requests']!, 'max-requests', 1, 1_000_000);

const h = await startHarness();
try {
  const row = await runScenario(h, `soak ${durationSec}s × ${concurrency}`, {
    durationSec,
    concurrency,
    maxRequests,
    mix: { read: 60, write: 20, analyze: 8, denied: 6, garbage: 4, heavy: 2 },
  });
  console.log(formatTable([row]));
  if (row.unnamedSessions || row.verify !== 'ok' || row.unknownOutcomes) process.exitCode = 1;
} finally {
  await h.close();
}

function bounded(v: string, name: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new TypeError(`--${name} must be a whole number from ${min} to ${max}`);
  return n;
}
