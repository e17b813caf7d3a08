// The Pub/Sub emulator `npm test` started (scripts/test.ts), and the loud skip when there is none:
// a suite that needs it is reported as skipped with its name and the reason, never passed.
import test from 'ava';

export function pubSubEmulatorHost(): string | undefined {
  return process.env.GATEHOUSE_TEST_PUBSUB_HOST || undefined;
}

/** True when the emulator is missing; the suite is then registered as one skipped test, and said so. */
export function skipWithoutEmulator(suite: string): boolean {
  if (pubSubEmulatorHost()) return false;
  const reason = process.env.GATEHOUSE_TEST_PUBSUB_MISSING ?? 'GATEHOUSE_TEST_PUBSUB_HOST is not set (run the tests with `npm test`)';
  console.warn(`\n*** SKIPPED: ${suite} — the Pub/Sub emulator is not available: ${reason}\n`);
  test.skip(`${suite}: SKIPPED — Pub/Sub emulator not available (${reason})`, () => {});
  return true;
}

export const EMULATOR_PROJECT = 'gatehouse-test';
