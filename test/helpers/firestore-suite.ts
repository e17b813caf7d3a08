// Registers a suite that needs Google's Firestore emulator: the one `npm test` started
// (GATEHOUSE_TEST_FIRESTORE_HOST), or one of its own when run alone; or, when the emulator is not
// installed, one skipped test that says so loudly, by name. An emulator of its own is stopped
// after the suite's own hooks.
import test from 'ava';
import { FIRESTORE_EMULATOR_DIR, firestoreEmulatorMissing, startFirestoreEmulator, type FirestoreEmulator } from '../../infra/firestore-emulator.ts';

export interface FirestoreTestEmulator {
  /** `host:port`; known once ready() has resolved. */
  readonly host: string;
  /**
   * Starts an emulator of the suite's own if `npm test` gave none, and points this process's
   * Firestore clients at it. ava runs `before` hooks concurrently: call this first in each one.
   */
  ready(): Promise<string>;
}

export function firestoreSuite(name: string, register: (emulator: FirestoreTestEmulator) => void): void {
  const givenHost = process.env.GATEHOUSE_TEST_FIRESTORE_HOST;
  const missing = givenHost ? undefined : firestoreEmulatorMissing();
  if (missing) {
    const reason = `${name}: SKIPPED — emulator not installed at ${FIRESTORE_EMULATOR_DIR}`;
    console.error(`\n${'!'.repeat(100)}\n!!! ${reason}\n!!! (${missing})\n${'!'.repeat(100)}\n`);
    test.skip(reason, () => {});
    return;
  }
  let own: Promise<FirestoreEmulator> | undefined;
  let started: Promise<string> | undefined;
  const emulator = {
    host: givenHost ?? '',
    ready(): Promise<string> {
      started ??= (async () => {
        if (!givenHost) {
          own = startFirestoreEmulator();
          emulator.host = (await own).host;
        }
        // In this test process only (npm test passes the host under a name of its own, so no other
        // file's clients are redirected); and nothing probes for a GCP metadata server (DESIGN §4).
        process.env.FIRESTORE_EMULATOR_HOST = emulator.host;
        process.env.METADATA_SERVER_DETECTION ??= 'none';
        return emulator.host;
      })();
      return started;
    },
  };
  register(emulator);
  test.after.always(async () => {
    await (await own?.catch(() => undefined))?.stop();
  });
}
