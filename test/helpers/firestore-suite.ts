// Registers a suite that needs Google's Firestore emulator: the one `npm test` started
// (GATEHOUSE_TEST_FIRESTORE_HOST), or one of its own when run alone; or, when the emulator is not
// installed, one skipped test that says so loudly, by name. Clients made through it, and an
// emulator of its own, are ended after the suite's own hooks.
import type { Firestore } from '@google-cloud/firestore';
import test from 'ava';
import { FIRESTORE_EMULATOR_DIR, firestoreEmulatorMissing, startFirestoreEmulator, type FirestoreEmulator } from '../../infra/firestore-emulator.ts';
import { freePort } from '../../infra/free-port.ts';
import { firestoreSettings, type ClientOptions } from '../../shared/adapters/firestore/client.ts';
import { tcpProxy, type TcpProxy } from './tcp-proxy.ts';

export interface FirestoreTestEmulator {
  /** `host:port`; known once ready() has resolved. */
  readonly host: string;
  /**
   * Starts an emulator of the suite's own if `npm test` gave none, and points this process's
   * Firestore clients at it. ava runs `before` hooks concurrently: call this first in each one.
   */
  ready(): Promise<string>;
  /**
   * A client to `via` (this emulator, or a proxy in front of it) with the adapters' own settings;
   * terminated after the suite's hooks.
   */
  client(via: string, settings: ClientOptions): Promise<Firestore>;
  /** An open proxy to this emulator that a test can cut, like a network outage. */
  proxy(): Promise<TcpProxy>;
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
  const clients: Firestore[] = [];
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
        // file's clients are redirected); and nothing probes for a GCP metadata server (docs/design.md#local-stand-ins-for-gcp).
        process.env.FIRESTORE_EMULATOR_HOST = emulator.host;
        process.env.METADATA_SERVER_DETECTION ??= 'none';
        return emulator.host;
      })();
      return started;
    },
    async client(via: string, settings: ClientOptions): Promise<Firestore> {
      const { Firestore } = await import('@google-cloud/firestore');
      // FIRESTORE_EMULATOR_HOST overrides an explicit host in the constructor, and this client must
      // go where it is told (through a proxy the test can cut): the variable is hidden while it is
      // built. The constructor is synchronous, so no other test runs in between.
      const saved = process.env.FIRESTORE_EMULATOR_HOST;
      delete process.env.FIRESTORE_EMULATOR_HOST;
      try {
        const c = new Firestore({ ...firestoreSettings(settings), host: via, ssl: false });
        clients.push(c);
        return c;
      } finally {
        if (saved !== undefined) process.env.FIRESTORE_EMULATOR_HOST = saved;
      }
    },
    async proxy(): Promise<TcpProxy> {
      const [host, port] = emulator.host.split(':') as [string, string];
      const proxy = tcpProxy(await freePort(), { host, port: Number(port) });
      await proxy.open();
      return proxy;
    },
  };
  register(emulator);
  test.after.always(async () => {
    // Every adapter over these clients is closed by now, and close() waited for its requests.
    await Promise.allSettled(clients.map((c) => c.terminate()));
    await (await own?.catch(() => undefined))?.stop();
  });
}
