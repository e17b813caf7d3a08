// Registers a suite that needs Google's Firestore emulator: given the address `npm test` started
// (GATEHOUSE_TEST_FIRESTORE_HOST), or undefined when the suite may start its own; or, when the
// emulator is not installed, one skipped test that says so loudly, by name.
import test from 'ava';
import { FIRESTORE_EMULATOR_DIR, firestoreEmulatorMissing } from '../../infra/firestore-emulator.ts';

export function firestoreSuite(name: string, register: (givenHost: string | undefined) => void): void {
  const givenHost = process.env.GATEHOUSE_TEST_FIRESTORE_HOST;
  const missing = givenHost ? undefined : firestoreEmulatorMissing();
  if (missing) {
    const reason = `${name}: SKIPPED — emulator not installed at ${FIRESTORE_EMULATOR_DIR}`;
    console.error(`\n${'!'.repeat(100)}\n!!! ${reason}\n!!! (${missing})\n${'!'.repeat(100)}\n`);
    test.skip(reason, () => {});
  } else {
    register(givenHost);
  }
}
