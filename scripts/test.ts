// `npm test`: start what the tests need, run ava with any arguments given, stop it all afterwards.
// Services are started once here rather than per test file: initdb costs seconds, and each test
// file gets its own database inside the one cluster (test/helpers/pg.ts). Google's Pub/Sub
// emulator starts alongside when the Cloud SDK has it; the tests that need it read its address
// from GATEHOUSE_TEST_PUBSUB_HOST, or report themselves skipped (loudly) with the reason in
// GATEHOUSE_TEST_PUBSUB_MISSING.
import { spawn } from 'node:child_process';
import { startTestPostgres } from '../infra/throwaway-postgres.ts';
import { pubSubEmulatorMissing, startPubSubEmulator, type RunningEmulator } from '../infra/emulators.ts';
import { firestoreEmulatorMissing, startFirestoreEmulator } from '../infra/firestore-emulator.ts';

const missing = pubSubEmulatorMissing();
const firestoreMissing = firestoreEmulatorMissing();
const [pgStarted, pubsub, firestore] = await Promise.all([
  startTestPostgres().then(
    (v) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  ),
  missing ? Promise.resolve<RunningEmulator | string>(missing) : startPubSubEmulator().catch((e: unknown) => (e instanceof Error ? e.message : String(e))),
  // Google's Firestore emulator, for the Firestore session log (test/adapters/firestore-*.test.ts).
  firestoreMissing ? Promise.resolve<RunningEmulator | string>(firestoreMissing) : startFirestoreEmulator().catch((e: unknown) => (e instanceof Error ? e.message : String(e))),
]);
if (!pgStarted.ok) {
  // The emulators run detached in their own process groups: they would outlive us if not stopped.
  if (typeof pubsub !== 'string') await pubsub.stop();
  if (typeof firestore !== 'string') await firestore.stop();
  throw pgStarted.e;
}
const pg = pgStarted.v;
console.log(`test services: ${pg.kind === 'postgres' ? 'PostgreSQL cluster' : 'PGlite (no PostgreSQL binaries found)'} at ${pg.url}`);
if (typeof pubsub === 'string') {
  console.log(`test services: Pub/Sub emulator NOT AVAILABLE — the suites that need it will be reported as skipped: ${pubsub.split('\n')[0]}`);
} else {
  console.log(`test services: Pub/Sub emulator at ${pubsub.host}`);
}
if (typeof firestore === 'string') {
  console.log(`test services: Firestore emulator NOT AVAILABLE — SKIPPED: the Firestore session log suite (test/adapters/firestore-session-log.test.ts): ${firestore.split('\n')[0]}`);
} else {
  console.log(`test services: Firestore emulator at ${firestore.host}`);
}

// Where the services were meant to be installed (Cloud Build), a missing one is a failure, not a
// run with suites skipped.
if (process.env.GATEHOUSE_REQUIRE_SERVICES === '1') {
  const absent = [
    ...(pg.kind === 'postgres' ? [] : ['PostgreSQL']),
    ...(typeof pubsub === 'string' ? ['the Pub/Sub emulator'] : []),
    ...(typeof firestore === 'string' ? ['the Firestore emulator'] : []),
  ];
  if (absent.length > 0) {
    console.error(`GATEHOUSE_REQUIRE_SERVICES=1 but ${absent.join(', ')} could not be started`);
    await Promise.allSettled([pg.stop(), typeof pubsub === 'string' ? undefined : pubsub.stop(), typeof firestore === 'string' ? undefined : firestore.stop()]);
    process.exit(1);
  }
}

const child = spawn(process.execPath, ['node_modules/ava/entrypoints/cli.mjs', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: {
    ...process.env,
    GATEHOUSE_TEST_PG_URL: pg.url,
    GATEHOUSE_TEST_PG_KIND: pg.kind,
    // Not PUBSUB_EMULATOR_HOST: that would silently redirect every Pub/Sub client in every test.
    ...(typeof pubsub === 'string' ? { GATEHOUSE_TEST_PUBSUB_MISSING: pubsub.split('\n')[0] } : { GATEHOUSE_TEST_PUBSUB_HOST: pubsub.host }),
    // Not FIRESTORE_EMULATOR_HOST, for the same reason: the tests that want it set it themselves.
    ...(typeof firestore === 'string' ? {} : { GATEHOUSE_TEST_FIRESTORE_HOST: firestore.host }),
    // Off GCP, Google client libraries would otherwise probe the metadata server (docs/design.md#local-stand-ins-for-gcp).
    METADATA_SERVER_DETECTION: 'none',
  },
});
const stopAll = async () => {
  await Promise.all([
    pg.stop().catch((e: unknown) => console.error('stopping test PostgreSQL failed:', e)),
    typeof pubsub === 'string' ? undefined : pubsub.stop().catch((e: unknown) => console.error('stopping the Pub/Sub emulator failed:', e)),
    typeof firestore === 'string' ? undefined : firestore.stop().catch((e: unknown) => console.error('stopping the Firestore emulator failed:', e)),
  ]);
};
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => child.kill(sig));
}
const code: number = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
await stopAll();
process.exit(code);
