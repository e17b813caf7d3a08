// The log tamper suite on Google's Firestore emulator: the writer's rights are create(); the
// owner's are set/update/delete (no IAM in the emulator, as for a project owner). Each case gets
// collections of its own (a prefix) in one database.
import { randomBytes } from 'node:crypto';
import { eventDocument, eventId, leafId } from '../../shared/adapters/firestore/documents.ts';
import { createFirestoreSessionLog } from '../../shared/adapters/firestore/index.ts';
import { firestoreSuite } from '../helpers/firestore-suite.ts';
import { logTamperContract } from './log-tamper.contract.ts';
import test from 'ava';

firestoreSuite('Firestore log tamper suite', (emulator) => {
  const PROJECT = 'gatehouse-test';
  const DB = `tamper-${randomBytes(5).toString('hex')}`;
  test.before(() => emulator.ready());

  logTamperContract('Firestore (emulator)', async (clock) => {
    const prefix = `t${randomBytes(5).toString('hex')}_`;
    const settings = { projectId: PROJECT, databaseId: DB, timeoutMs: 10_000 };
    const log = await createFirestoreSessionLog({ ...settings, firestore: await emulator.client(emulator.host, settings), clock, collectionPrefix: prefix });
    const admin = await emulator.client(emulator.host, settings);
    const sessions = admin.collection(`${prefix}sessions`);
    const leaves = admin.collection(`${prefix}log`);
    const eventDoc = (sessionId: string, seq: number) => sessions.doc(sessionId).collection('events').doc(eventId(seq));
    return {
      log,
      async insertRaw(events, session) {
        const batch = admin.batch();
        if (session) batch.create(sessions.doc(events[0]!.sessionId), { startedAt: session.startedAt, subject: session.subject, email: session.email, connection: session.connection, sql: session.sql });
        for (const e of events) {
          const { storedData, ...event } = e;
          batch.create(eventDoc(e.sessionId, e.seq), { ...eventDocument(event), ...('storedData' in e ? { data: storedData } : {}) });
          batch.create(leaves.doc(leafId(e.index)), { index: e.index, sessionId: e.sessionId, seq: e.seq, hash: e.hash });
        }
        await batch.commit();
      },
      async insertUnindexed(events, session) {
        const batch = admin.batch();
        if (session) batch.create(sessions.doc(events[0]!.sessionId), { startedAt: session.startedAt, subject: session.subject, email: session.email, connection: session.connection, sql: session.sql });
        for (const e of events) {
          const { index: _index, ...doc } = eventDocument({ ...e, index: 0 });
          batch.create(eventDoc(e.sessionId, e.seq), doc);
        }
        await batch.commit();
      },
      async deleteEvent(sessionId, seq) {
        const doc = await eventDoc(sessionId, seq).get();
        await leaves.doc(leafId(doc.get('index') as number)).delete();
        await doc.ref.delete();
      },
      async hideEvent(sessionId, seq) {
        // Only the event's document: its leaf is a document of its own, and stays.
        await eventDoc(sessionId, seq).delete();
      },
      async deleteSession(sessionId) {
        const evs = await sessions.doc(sessionId).collection('events').get();
        for (const d of evs.docs) {
          await leaves.doc(leafId(d.get('index') as number)).delete();
          await d.ref.delete();
        }
        await sessions.doc(sessionId).delete();
      },
      async replaceEvent(e) {
        const old = await eventDoc(e.sessionId, e.seq).get();
        await eventDoc(e.sessionId, e.seq).set(eventDocument(e));
        const oldLeaf = leaves.doc(leafId(old.get('index') as number));
        const cur = await oldLeaf.get();
        // Only remove the old leaf if it still names this event (a swap rewrites both).
        if (cur.exists && cur.get('sessionId') === e.sessionId && cur.get('seq') === e.seq) await oldLeaf.delete();
        await leaves.doc(leafId(e.index)).set({ index: e.index, sessionId: e.sessionId, seq: e.seq, hash: e.hash });
      },
      async setStartedAt(sessionId, at) {
        await sessions.doc(sessionId).update({ startedAt: at });
      },
      async insertSessionOnly(sessionId, session) {
        await sessions.doc(sessionId).create({ startedAt: session.startedAt, subject: session.subject, email: session.email, connection: session.connection, sql: session.sql });
      },
      async setSubject(sessionId, subject) {
        await sessions.doc(sessionId).update({ subject });
      },
      async setSql(sessionId, sql) {
        await sessions.doc(sessionId).update({ sql });
      },
      async close() {
        await log.close();
      },
    };
  });
});
