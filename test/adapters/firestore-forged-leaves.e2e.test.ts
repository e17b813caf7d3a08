// A document of the global log's collection ({prefix}log) created with nothing but the log's
// create() right, its `index` not a place in the log: text, a map, a boolean, a fraction, or a
// whole number at a document id no append writes (leafId(index) is the only one). The adapter took
// the highest `index` in the collection as the log's size: text sorts above every number in
// Firestore, so one such document made the size "zz1" — every later append got the index NaN
// (its events outside the global log, the second append refused for good: its leaf id taken) —
// and a fraction made every later index fractional. Now only whole-number indices at their own
// document id are the log; the rest are not leaves.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { leafId } from '../../shared/adapters/firestore/documents.ts';
import { createFirestoreSessionLog } from '../../shared/adapters/firestore/index.ts';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { verifyEvidence } from '../../shared/evidence/verify.ts';
import { firestoreSuite } from '../helpers/firestore-suite.ts';

firestoreSuite('Firestore log documents that are no leaf', (emulator) => {
  const DB = `leaves-${randomBytes(5).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-forged-leaves-'));
  test.before(() => emulator.ready());
  test.after.always(() => rmSync(dir, { recursive: true, force: true }));

  for (const [label, id, doc] of [
    ['whose index is text', 'zzzzzzzzzzzzzzz', { index: 'zz', sessionId: 'x', seq: 0, hash: 'h' }],
    ['whose index is a map', '999999999999999', { index: { a: 1 } }],
    ['whose index is a boolean', 'zzzzzzzzzzzzzzy', { index: true }],
    ['whose index is a fraction', 'a-fraction', { index: 1.5, sessionId: 'x', seq: 0, hash: 'h' }],
    ['whose index is a whole number at an id no append writes', 'not-a-leaf-id', { index: 40, sessionId: 'x', seq: 0, hash: 'h' }],
  ] as const) {
    test.serial(`a log document ${label}: appends go on at the next index, the log's size and leaves are the genuine ones, export verifies`, async (t) => {
      const from = new Date(Date.now() - 60_000);
      const prefix = `l${randomBytes(5).toString('hex')}_`;
      const settings = { projectId: 'gatehouse-test', databaseId: DB, timeoutMs: 10_000 };
      const before = await createFirestoreSessionLog({ ...settings, firestore: await emulator.client(emulator.host, settings), collectionPrefix: prefix });
      await before.append(randomUUID(), [{ type: 'request', data: { endpoint: 'query', connection: 'main', sql: 'SELECT 1', params: [] } }]);
      await before.close();
      const admin = await emulator.client(emulator.host, settings);
      await admin.collection(`${prefix}log`).doc(id).create(doc);

      // A gateway started after it: reads the log's head from the store.
      const log = await createFirestoreSessionLog({ ...settings, firestore: await emulator.client(emulator.host, settings), collectionPrefix: prefix });
      t.is(await log.treeSize(), 1);
      const a = await log.append(randomUUID(), [{ type: 'request', data: { endpoint: 'query', connection: 'main', sql: 'SELECT 2', params: [] } }]);
      const b = await log.append(randomUUID(), [{ type: 'request', data: { endpoint: 'query', connection: 'main', sql: 'SELECT 3', params: [] } }]);
      t.is(a[0]!.index, 1);
      t.is(b[0]!.index, 2);
      t.is(await log.treeSize(), 3);
      t.deepEqual((await log.leaves(0, 3)).map((l) => l.index), [0, 1, 2]);

      const out = join(dir, randomUUID());
      await exportEvidence(log, { from, to: new Date(Date.now() + 60_000), out, source: 'test' });
      const verified = await verifyEvidence(out, {});
      t.true(verified.ok, JSON.stringify(verified.problems.slice(0, 3)));
      await log.close();
    });
  }

  // The same right can create a document at the id the next append's leaf will take. The append
  // then failed on it for good (its create refused, the head read again: the same place) — every
  // bot's statement refused from then on. Now the place counts as taken: appends go on after it,
  // and export names the place as what it is, no leaf of the log.
  for (const [label, doc] of [
    ['text for an index', { index: 'zz' }],
    ['a fraction for an index', { index: 1.5 }],
    ['nothing', {}],
  ] as const) {
    test.serial(`a document at the next leaf's id, holding ${label}: appends go on after it, export names the place`, async (t) => {
      const from = new Date(Date.now() - 60_000);
      const prefix = `q${randomBytes(5).toString('hex')}_`;
      const settings = { projectId: 'gatehouse-test', databaseId: DB, timeoutMs: 10_000 };
      const log = await createFirestoreSessionLog({ ...settings, firestore: await emulator.client(emulator.host, settings), collectionPrefix: prefix });
      await log.append(randomUUID(), [{ type: 'request', data: { endpoint: 'query', connection: 'main', sql: 'SELECT 1', params: [] } }]);
      const admin = await emulator.client(emulator.host, settings);
      await admin.collection(`${prefix}log`).doc(leafId(1)).create(doc);

      const a = await log.append(randomUUID(), [{ type: 'request', data: { endpoint: 'query', connection: 'main', sql: 'SELECT 2', params: [] } }]);
      t.is(a[0]!.index, 2, 'after the taken place');
      const b = await log.append(randomUUID(), [{ type: 'request', data: { endpoint: 'query', connection: 'main', sql: 'SELECT 3', params: [] } }]);
      t.is(b[0]!.index, 3);
      t.is(await log.treeSize(), 4);
      t.deepEqual((await log.leaves(0, 4)).map((l) => l.index), [0, 2, 3], 'the taken place is no leaf');

      const out = join(dir, randomUUID());
      const exported = await exportEvidence(log, { from, to: new Date(Date.now() + 60_000), out, source: 'test' });
      t.true(exported.logProblems.some((p) => (p as { index?: number }).index === 1), JSON.stringify(exported.logProblems));
      t.false((await verifyEvidence(out, {})).ok);
      await log.close();
    });
  }
});
