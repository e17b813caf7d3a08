// The Firestore session log on Google's Firestore emulator: the same contract suite the PostgreSQL
// store passes, plus what only this adapter promises. `npm test` starts the emulator and passes
// its host in GATEHOUSE_TEST_FIRESTORE_HOST; run on its own, this file starts one itself. Where
// the emulator is not installed the suite is reported as skipped, loudly — never passed.
import { randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Firestore } from '@google-cloud/firestore';
import test from 'ava';
import { freePort } from '../../infra/free-port.ts';
import { firestoreSuite, type FirestoreTestEmulator } from '../helpers/firestore-suite.ts';
import { eventId } from '../../shared/adapters/firestore/documents.ts';
import { createFirestoreSessionLog } from '../../shared/adapters/firestore/index.ts';
import { openSessionLog, sessionStoreFromEnv } from '../../shared/config.ts';
import { verifyChain } from '../../shared/audit/chain.ts';
import type { EventDraft } from '../../shared/audit/events.ts';
import type { GatehouseError } from '../../shared/errors.ts';
import { sessionLogContract, type MakeSessionLog } from './session-log.contract.ts';

const ADAPTER_DIR = new URL('../../shared/adapters/firestore/', import.meta.url);

// --- create-only, by construction: needs no emulator --------------------------------------------

test('Firestore session log: the adapter source never calls set, update or delete', (t) => {
  const files = readdirSync(ADAPTER_DIR).filter((f) => f.endsWith('.ts'));
  let creates = 0;
  for (const file of files) {
    const source = readFileSync(new URL(file, ADAPTER_DIR), 'utf8');
    if (file === 'head-cache.ts') {
      // Its Map calls are the only .set(/.delete( allowed, because it cannot reach Firestore.
      t.notRegex(source, /\bimport\b/, 'head-cache.ts must import nothing');
      continue;
    }
    t.notRegex(source, /\.\s*(set|update|delete|recursiveDelete)\s*\(/, `${file} must only create() and read`);
    creates += source.match(/\.create\(/g)?.length ?? 0;
  }
  t.true(creates >= 2, 'the check reads the files that write (the session and its events)');
});

// --- the emulator: given by npm test, started here, or missing ------------------------------------

firestoreSuite('Firestore session log', registerEmulatorTests);

function registerEmulatorTests(emulator: FirestoreTestEmulator): void {
  const PROJECT = 'gatehouse-test';
  // One database for this file's contract run: the emulator keeps named databases apart, and
  // other test files (and earlier runs against a long-lived emulator) use databases of their own.
  const CONTRACT_DB = `contract-${randomBytes(6).toString('hex')}`;
  // Short enough that the cut-off test does not drag, long enough for a loaded machine (2 s was
  // not, with four emulators warming up on two cores).
  const TIMEOUT_MS = 5000;

  test.before(() => emulator.ready());

  /** A client that goes to `via` (the emulator, or a proxy in front of it), configured as the log's own. */
  const clientVia = (via: string, databaseId: string) => emulator.client(via, { projectId: PROJECT, databaseId, timeoutMs: TIMEOUT_MS });

  let admin: Promise<Firestore> | undefined;
  /** As an attacker with access to the database would: straight to the emulator, past the log. */
  const adminClient = () => (admin ??= clientVia(emulator.host, CONTRACT_DB));

  const libraryLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('@google-cloud/firestore/build/src/'));

  // Serial tests run before the concurrent ones, so nothing has loaded the library yet.
  test.serial('Firestore session log: the client library is imported on first use, not before', async (t) => {
    t.false(libraryLoaded(), 'loaded before any test used it');
    const log = await createFirestoreSessionLog({ projectId: PROJECT, databaseId: 'gatehouse-audit' });
    t.teardown(() => log.close());
    t.false(libraryLoaded(), 'creating the log must not load the library');
    const sid = randomUUID();
    await log.append(sid, [request('lazy')]);
    t.true(libraryLoaded());
    t.is((await log.read(sid)).length, 1);
  });

  const make: MakeSessionLog = async (options) => {
    // The log reaches the emulator through a proxy the test can cut, like a network outage.
    const proxy = await emulator.proxy();
    const firestore = await clientVia(`127.0.0.1:${proxy.port}`, CONTRACT_DB);
    const log = await createFirestoreSessionLog({ projectId: PROJECT, databaseId: CONTRACT_DB, firestore, timeoutMs: TIMEOUT_MS, ...options });
    return {
      log,
      direct: async () => createFirestoreSessionLog({ projectId: PROJECT, databaseId: CONTRACT_DB, firestore: await adminClient(), timeoutMs: TIMEOUT_MS }),
      async tamper(sessionId, seq, newData) {
        const ref = (await adminClient()).doc(`sessions/${sessionId}/events/${eventId(seq)}`);
        const stored = await ref.get();
        if (!stored.exists) throw new Error(`no event ${sessionId}/${seq} to tamper with`);
        // An overwrite in place: possible with update permission, which the log's own account lacks.
        await ref.set({ ...stored.data(), data: JSON.stringify(newData) });
      },
      cutOff: () => proxy.close(),
      async cleanup() {
        await log.close();
        await proxy.close();
      },
    };
  };

  sessionLogContract('Firestore (emulator)', make);

  // --- what only the Firestore adapter promises -------------------------------------------------

  test('Firestore session log: documents are laid out as documented, data as the exact hashed text', async (t) => {
    const f = await make();
    t.teardown(() => f.cleanup());
    const sid = randomUUID();
    const written = await f.log.append(sid, [
      request('layout', { connection: 'demo', sql: 'SELECT 1' }),
      { type: 'analysis', data: { z: 1, a: [[1, 2]], '': 'empty key', __x__: -0 } },
    ]);
    const db = await adminClient();
    const session = await db.doc(`sessions/${sid}`).get();
    t.deepEqual(Object.keys(session.data() ?? {}).sort(), ['connection', 'email', 'sql', 'startedAt', 'subject']);
    t.is((session.get('startedAt') as { toDate(): Date }).toDate().toISOString(), written[0]!.at);
    t.is(session.get('subject'), 'layout');
    const events = await db.collection(`sessions/${sid}/events`).get();
    t.deepEqual(events.docs.map((d) => d.id), ['0000000000', '0000000001']);
    events.docs.forEach((d, i) => {
      const e = written[i]!;
      t.deepEqual(d.data(), { seq: e.seq, type: e.type, at: e.at, data: JSON.stringify(e.data), prevHash: e.prevHash, hash: e.hash, index: e.index });
    });
    // The global log: one leaf document per event, at its index.
    for (const e of written) {
      const leaf = await db.doc(`log/${String(e.index).padStart(15, '0')}`).get();
      t.deepEqual(leaf.data(), { index: e.index, sessionId: sid, seq: e.seq, hash: e.hash });
    }
  });

  test('Firestore session log: list reads the data of the last event when the status depends on it', async (t) => {
    const base = Date.UTC(2200, 0, 1) + Math.floor(Math.random() * 2 ** 30) * 1000;
    const at = new Date(base);
    const log = await createFirestoreSessionLog({ projectId: PROJECT, databaseId: CONTRACT_DB, firestore: await clientVia(emulator.host, CONTRACT_DB), clock: () => at });
    t.teardown(() => log.close());
    const tag = randomUUID().slice(0, 8);
    const cases: [string, EventDraft][] = [
      ['pending_approval', { type: 'approval.granted', data: { approvalId: 'a-1', quorumMet: false } }],
      ['approved', { type: 'approval.granted', data: { approvalId: 'a-1', quorumMet: true } }],
      ['executed', { type: 'execution.completed', data: { rows: [['not fetched']] } }],
    ];
    for (const [i, [, last]] of cases.entries()) await log.append(`${tag}-${i}`, [request('status'), last]);
    const listed = await log.list({ from: at, to: new Date(base + 1) });
    t.deepEqual(listed.map((s) => s.status), cases.map(([status]) => status));
  });

  test('Firestore session log: chosen by GATEHOUSE_SESSION_STORE=firestore, in gatehouse-audit unless told otherwise', async (t) => {
    const env = { GATEHOUSE_SESSION_STORE: 'firestore', GATEHOUSE_FIRESTORE_PROJECT: PROJECT };
    t.deepEqual(sessionStoreFromEnv(env), { kind: 'firestore', projectId: PROJECT, databaseId: 'gatehouse-audit' });
    t.deepEqual(sessionStoreFromEnv({ ...env, GATEHOUSE_AUDIT_DATABASE: 'audit-eu' }), { kind: 'firestore', projectId: PROJECT, databaseId: 'audit-eu' });
    t.throws(() => sessionStoreFromEnv({ GATEHOUSE_SESSION_STORE: 'firestore' }), { instanceOf: TypeError, message: /GATEHOUSE_FIRESTORE_PROJECT/ });
    await t.throwsAsync(openSessionLog({ kind: 'firestore', projectId: PROJECT, databaseId: 'Not_Valid' }), { instanceOf: TypeError });
    const log = await openSessionLog(sessionStoreFromEnv(env));
    t.teardown(() => log.close());
    const sid = randomUUID();
    const written = await log.append(sid, [request('configured')]);
    t.deepEqual(await log.read(sid), written);
  });

  test('Firestore session log: named databases are isolated (the same path in gatehouse-audit and gatehouse-state)', async (t) => {
    // The adapter's own clients, as deployed: project and database id only.
    const audit = await createFirestoreSessionLog({ projectId: PROJECT, databaseId: 'gatehouse-audit' });
    const state = await createFirestoreSessionLog({ projectId: PROJECT, databaseId: 'gatehouse-state' });
    t.teardown(() => Promise.all([audit.close(), state.close()]));
    const sid = randomUUID();
    const inAudit = await audit.append(sid, [request('isolated-a')]);
    t.deepEqual(await state.read(sid), [], 'written to gatehouse-audit, not visible in gatehouse-state');
    const inState = await state.append(sid, [request('isolated-b')]);
    t.is(inState[0]!.seq, 0, 'the same path starts its own chain in the other database');
    t.deepEqual(await audit.read(sid), inAudit);
    t.deepEqual(await state.read(sid), inState);
    t.deepEqual(verifyChain(sid, await audit.read(sid)), []);
  });

  test('Firestore session log: a collection prefix keeps logs apart within one database', async (t) => {
    const db = await clientVia(emulator.host, CONTRACT_DB);
    const a = await createFirestoreSessionLog({ projectId: PROJECT, databaseId: CONTRACT_DB, firestore: db, collectionPrefix: 'tenant_a_' });
    const b = await createFirestoreSessionLog({ projectId: PROJECT, databaseId: CONTRACT_DB, firestore: db, collectionPrefix: 'tenant_b_' });
    t.teardown(() => Promise.all([a.close(), b.close()]));
    const sid = randomUUID();
    await a.append(sid, [request('prefixed')]);
    t.is((await a.read(sid)).length, 1);
    t.deepEqual(await b.read(sid), []);
    t.true((await db.doc(`tenant_a_sessions/${sid}`).get()).exists);
  });

  test('Firestore session log: an event too large for a document fails closed, and nothing is written', async (t) => {
    const f = await make();
    t.teardown(() => f.cleanup());
    const sid = randomUUID();
    const rows = Array.from({ length: 1100 }, (_, i) => [i, 'x'.repeat(1000)]);
    const e = await t.throwsAsync<GatehouseError>(
      f.log.append(sid, [request('big'), { type: 'execution.completed', data: { rows } }]),
      { code: 'audit_unavailable', message: 'session log unavailable' },
    );
    t.is(e?.details?.reason, 'event_too_large');
    t.deepEqual(await f.log.read(sid), []);
  });

  test('Firestore session log: an unreachable store fails closed in bounded time, naming no host or project', async (t) => {
    const port = await freePort(); // just released: nothing listens there
    const firestore = await clientVia(`127.0.0.1:${port}`, 'unreachable-db');
    const log = await createFirestoreSessionLog({ projectId: PROJECT, databaseId: 'unreachable-db', firestore, timeoutMs: 1000 });
    t.teardown(() => log.close());
    const started = Date.now();
    const e = await t.throwsAsync<GatehouseError>(log.append(randomUUID(), [request('down')]), {
      code: 'audit_unavailable',
      message: 'session log unavailable',
    });
    t.true(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    t.is(e?.status, 503);
    t.truthy(e?.cause, 'the library error is kept for the operator');
    for (const shown of [e?.message, JSON.stringify(e?.details), String(e)]) {
      for (const secretish of [String(port), PROJECT, 'unreachable-db']) t.false(shown?.includes(secretish), String(shown));
    }
  });

  test('Firestore session log: options are checked up front; ids Firestore cannot hold are refused or read as empty', async (t) => {
    const ok = { projectId: PROJECT, databaseId: 'gatehouse-audit' };
    for (const bad of [
      { ...ok, projectId: '' },
      { ...ok, databaseId: 'Bad_Name' },
      { ...ok, databaseId: 'ab' },
      { ...ok, collectionPrefix: 'a/b' },
      { ...ok, timeoutMs: 0 },
    ]) {
      await t.throwsAsync(createFirestoreSessionLog(bad), { instanceOf: TypeError }, JSON.stringify(bad));
    }
    const log = await createFirestoreSessionLog({ ...ok, firestore: await clientVia(emulator.host, CONTRACT_DB) });
    t.teardown(() => log.close());
    for (const id of ['a/b', '.', '..', '__reserved__', '', 'x'.repeat(1501)]) {
      await t.throwsAsync(log.append(id, [request('bad-id')]), { instanceOf: TypeError }, id);
      t.deepEqual(await log.read(id), [], id);
      t.deepEqual(await log.list({ after: id }), [], id);
    }
  });
}

function request(subject: string, more: Record<string, unknown> = {}): EventDraft {
  return {
    type: 'request',
    data: { endpoint: 'query', principal: { issuer: 'https://issuer.test', subject, email: `${subject}@example.com`, groups: [] }, ...more },
  };
}
