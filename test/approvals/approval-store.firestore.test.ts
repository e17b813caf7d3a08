// The ApprovalStore contract (approval-store.contract.ts, the same tests the PostgreSQL store
// passes) against the Firestore adapter on Google's Firestore emulator, plus what only this adapter
// promises: beforeCommit runs once per committed change, the lease, the layout. `npm test` starts
// the emulator and passes GATEHOUSE_TEST_FIRESTORE_HOST; run on its own, this file starts one.
// Where the emulator is not installed the suite is reported as skipped, loudly — never passed.
import { randomBytes, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import test from 'ava';
import { firestoreSuite, type FirestoreTestEmulator } from '../helpers/firestore-suite.ts';
import { createFirestoreApprovalStore } from '../../shared/adapters/firestore/index.ts';
import { castVote, redeem } from '../../shared/approvals/state.ts';
import type { Approval } from '../../shared/approvals/types.ts';
import { approvalsFromEnv, notifyConfigFromEnv, openApprovalStore } from '../../shared/config.ts';
import type { GatehouseError } from '../../shared/errors.ts';
import { approval, approvalStoreContract, type MakeApprovalStore } from './approval-store.contract.ts';
import { alice, approveDecision, bot } from './fixtures.ts';

firestoreSuite('Firestore approval store', registerEmulatorTests);

function registerEmulatorTests(emulator: FirestoreTestEmulator): void {
  const PROJECT = 'gatehouse-test';
  // A database of this file's own: the emulator keeps named databases apart.
  const DB = `approvals-${randomBytes(6).toString('hex')}`;
  const TIMEOUT_MS = 5000;
  test.before(() => emulator.ready());

  /** A client to `via` (the emulator or a proxy in front of it), with the adapter's settings. */
  const clientVia = (via: string, databaseId = DB) => emulator.client(via, { projectId: PROJECT, databaseId, timeoutMs: TIMEOUT_MS });

  const libraryLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('@google-cloud/firestore/build/src/'));

  // Serial tests run before the concurrent ones: nothing has loaded the library yet.
  test.serial('Firestore approval store: the client library is imported on first use, not before', async (t) => {
    t.false(libraryLoaded(), 'loaded before any test used it');
    const store = await createFirestoreApprovalStore({ projectId: PROJECT, databaseId: DB });
    t.teardown(() => store.close());
    t.false(libraryLoaded(), 'creating the store must not load the library');
    t.is(await store.get(randomUUID()), undefined);
    t.true(libraryLoaded());
  });

  const make: MakeApprovalStore = async () => {
    const proxy = await emulator.proxy();
    const firestore = await clientVia(`127.0.0.1:${proxy.port}`);
    const store = await createFirestoreApprovalStore({ projectId: PROJECT, databaseId: DB, firestore, timeoutMs: TIMEOUT_MS });
    // Straight to the emulator, past the proxy: what the store's write right allows anyone.
    const raw = await clientVia(emulator.host);
    return {
      store,
      // create() reserves the document invisible until beforeCommit has run.
      isolated: true,
      cutOff: () => proxy.close(),
      rawRecord: async (id) => (await raw.doc(`approvals/${id}`).get()).get('record') as string | undefined,
      async writeRawRecord(id, record) {
        await raw.doc(`approvals/${id}`).update({ record });
      },
      async cleanup() {
        await store.close();
        await proxy.close();
      },
    };
  };

  approvalStoreContract('Firestore (emulator)', make);

  // --- what only the Firestore adapter promises -------------------------------------------------

  test('Firestore approval store: of 20 concurrent redemptions, beforeCommit runs exactly once, for the one that commits', async (t) => {
    const f = await make();
    t.teardown(() => f.cleanup());
    const a = approval();
    await f.store.create(a);
    await f.store.update(a.id, (x) => castVote(x, { by: alice, verdict: 'approve', comment: 'ok', now: new Date() }));
    const recorded: string[] = [];
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        f.store.update(
          a.id,
          (x) => redeem(x, { principal: bot, connection: 'main', sql: x.sql, params: x.params, decision: approveDecision(), sessionId: `s-${i}`, now: new Date(), digest: x.digest }),
          async (next) => {
            recorded.push(next.redemption!.sessionId);
            await new Promise((r) => setTimeout(r, 20));
          },
        ),
      ),
    );
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value!] : []));
    t.is(ok.length, 1);
    t.deepEqual(recorded, [ok[0]!.redemption!.sessionId], 'one event, for the committed change');
    t.is((await f.store.get(a.id))?.redemption?.sessionId, recorded[0]);
  });

  test('Firestore approval store: a lease that ran out is taken over, and the late holder fails with lease_lost, writing nothing', async (t) => {
    let now = Date.now();
    const firestore = await clientVia(emulator.host);
    const store = await createFirestoreApprovalStore({ projectId: PROJECT, databaseId: DB, firestore, leaseMs: 1000, clock: () => new Date(now) });
    t.teardown(() => store.close());
    const a = approval({ quorum: 3 });
    await store.create(a);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const slow = store.update(
      a.id,
      (x) => castVote(x, { by: alice, verdict: 'approve', comment: 'slow', now: new Date() }),
      async () => {
        entered();
        await held;
      },
    );
    await inside;
    now += 2000; // the slow update's lease has run out
    const fast = await store.update(a.id, (x) => ({ ...x, notification: { state: 'published', attempts: 1, messageId: 'm' } }), async () => {});
    t.is(fast?.notification.state, 'published');
    release();
    const e = await t.throwsAsync(slow);
    t.is((e as GatehouseError).code, 'approvals_unavailable');
    t.is((e as GatehouseError).details?.reason, 'lease_lost');
    const stored = await store.get(a.id);
    t.is(stored?.votes.length, 0, 'the late change was not written');
    t.is(stored?.notification.state, 'published');
  });

  test('Firestore approval store: an update waits for a live lease rather than overtaking it', async (t) => {
    const f = await make();
    t.teardown(() => f.cleanup());
    const a = approval({ quorum: 3 });
    await f.store.create(a);
    const order: string[] = [];
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const first = f.store.update(a.id, (x) => castVote(x, { by: alice, verdict: 'approve', comment: 'first', now: new Date() }), async () => {
      entered();
      await new Promise((r) => setTimeout(r, 300));
      order.push('first recorded');
    });
    await inside;
    const second = f.store.update(a.id, (x) => {
      order.push(`second saw ${x.votes.length} vote(s)`);
      return x;
    });
    await Promise.all([first, second]);
    t.deepEqual(order.filter((o, i) => i === 0 || o !== order[i - 1]).slice(-2), ['first recorded', 'second saw 1 vote(s)']);
  });

  test('Firestore approval store: a document whose own fields were edited (no record text, expiresAt no timestamp) is row_malformed, and left out of listings', async (t) => {
    const f = await make();
    t.teardown(() => f.cleanup());
    const raw = await clientVia(emulator.host);
    const base = new Date(Date.UTC(2097, 0, 1) + Math.floor(Math.random() * 1e6) * 3_600_000);
    const [first, noRecord, badExpiry, last] = [0, 1, 2, 3].map((m) => approval({}, new Date(base.getTime() + m * 60_000)));
    for (const a of [first!, noRecord!, badExpiry!, last!]) await f.store.create(a);
    await raw.doc(`approvals/${noRecord!.id}`).update({ record: 42 });
    await raw.doc(`approvals/${badExpiry!.id}`).update({ expiresAt: 'tomorrow' });
    for (const [a, field] of [[noRecord!, 'record'], [badExpiry!, 'expiresAt']] as const) {
      const e = await t.throwsAsync(f.store.get(a.id));
      t.is((e as GatehouseError).code, 'approval_mismatch');
      t.like((e as GatehouseError).details, { approvalId: a.id, reason: 'row_malformed', field });
      let called = false;
      const u = await t.throwsAsync(f.store.update(a.id, (x) => ((called = true), x)));
      t.like((u as GatehouseError).details, { reason: 'row_malformed', field });
      t.false(called);
    }
    // Only the state filter and the order run in Firestore: both edited documents reach the
    // adapter's page, which leaves them out.
    const listed = await f.store.list({ states: ['pending'], expiresAfter: new Date(base.getTime() - 1), limit: 1000 });
    const ours = listed.map((a) => a.id).filter((id) => [first!.id, noRecord!.id, badExpiry!.id, last!.id].includes(id));
    t.deepEqual(ours, [first!.id, last!.id]);
  });

  test('Firestore approval store: documents are laid out as documented, the record as exact JSON text', async (t) => {
    const f = await make();
    t.teardown(() => f.cleanup());
    const a = approval();
    await f.store.create(a, async () => {});
    const snap = await (await clientVia(emulator.host)).doc(`approvals/${a.id}`).get();
    t.deepEqual(Object.keys(snap.data() ?? {}).sort(), ['createdAt', 'expiresAt', 'lease', 'notifyDueAt', 'record', 'state', 'version', 'visible']);
    t.is(snap.get('record'), JSON.stringify(a));
    t.is(snap.get('visible'), true);
    t.is(snap.get('lease'), null);
  });

  test('Firestore approval store: chosen by GATEHOUSE_APPROVAL_STORE=firestore, in gatehouse-state unless told otherwise', async (t) => {
    const env = { GATEHOUSE_APPROVAL_STORE: 'firestore', GATEHOUSE_FIRESTORE_PROJECT: PROJECT, GATEHOUSE_APPROVAL_SIGNING_KEY: 'env://SIGNING_KEY' };
    t.deepEqual(approvalsFromEnv(env).store, { kind: 'firestore', projectId: PROJECT, databaseId: 'gatehouse-state' });
    t.deepEqual(approvalsFromEnv({ ...env, GATEHOUSE_STATE_DATABASE: 'state-eu' }).store, { kind: 'firestore', projectId: PROJECT, databaseId: 'state-eu' });
    t.throws(() => approvalsFromEnv({ GATEHOUSE_APPROVAL_STORE: 'firestore' }), { instanceOf: TypeError, message: /GATEHOUSE_FIRESTORE_PROJECT/ });
    // The notify function reads the same variables; a Firestore session log is no approval store.
    const hooks = { GATEHOUSE_WEBHOOK_URL: 'env://HOOK' };
    t.deepEqual(notifyConfigFromEnv({ ...env, ...hooks }).store, { kind: 'firestore', projectId: PROJECT, databaseId: 'gatehouse-state' });
    t.throws(() => notifyConfigFromEnv({ GATEHOUSE_SESSION_STORE: 'firestore', GATEHOUSE_FIRESTORE_PROJECT: PROJECT, ...hooks }), { instanceOf: TypeError, message: /GATEHOUSE_APPROVAL_STORE/ });
    await t.throwsAsync(openApprovalStore({ kind: 'firestore', projectId: PROJECT, databaseId: 'Not_Valid' }), { instanceOf: TypeError });
    const store = await openApprovalStore(approvalsFromEnv(env).store);
    t.teardown(() => store.close());
    const a: Approval = approval();
    await store.create(a);
    t.deepEqual(await store.get(a.id), a);
  });
}
