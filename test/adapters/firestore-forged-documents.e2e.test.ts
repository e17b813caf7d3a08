// Documents of the wrong shape, created with nothing but the log's create() right on Google's
// Firestore emulator. Firestore keeps no schema: a session document's startedAt can be a string,
// a number, null or a map, an event's seq a string, its at a Timestamp, its hash a number or
// missing. Before, one session document whose startedAt was not a Timestamp made every listing
// without a time range (`sessions list`) report the whole log unavailable (audit_unavailable), and
// one event whose hash was not text made export write a manifest `evidence verify` refused whole
// (manifest_invalid: not one genuine session checked); an event whose seq or at was not of its
// type was written to events.jsonl as a line verify could not read as an event. Now each such
// document is read as what it is: the listing row `listingTampered: 'started_at'` (status
// unknown), the event as an `unreadable` one naming the field (audit/stored-data.ts) — its session
// `unknown`, its hash not holding, verify naming it — and every other session as before.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Firestore } from '@google-cloud/firestore';
import test from 'ava';
import { eventId } from '../../shared/adapters/firestore/documents.ts';
import { hashEvent } from '../../shared/audit/chain.ts';
import { createFirestoreSessionLog } from '../../shared/adapters/firestore/index.ts';
import { listSessions, showSession } from '../../shared/cli/sessions.ts';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { verifyEvidence } from '../../shared/evidence/verify.ts';
import type { TransparentSessionLog } from '../../shared/ports.ts';
import { firestoreSuite } from '../helpers/firestore-suite.ts';

firestoreSuite('Firestore documents of the wrong shape', (emulator) => {
  const PROJECT = 'gatehouse-test';
  const DB = `forged-${randomBytes(5).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-forged-docs-'));
  test.before(() => emulator.ready());
  test.after.always(() => rmSync(dir, { recursive: true, force: true }));

  async function fresh(): Promise<{ log: TransparentSessionLog; admin: Firestore; prefix: string; genuine: string[] }> {
    const prefix = `f${randomBytes(5).toString('hex')}_`;
    const settings = { projectId: PROJECT, databaseId: DB, timeoutMs: 10_000 };
    const log = await createFirestoreSessionLog({ ...settings, firestore: await emulator.client(emulator.host, settings), collectionPrefix: prefix });
    const admin = await emulator.client(emulator.host, settings);
    const genuine = [randomUUID(), randomUUID()];
    await log.append(genuine[0]!, [
      { type: 'request', data: { endpoint: 'query', connection: 'main', sql: 'DROP TABLE t', params: [], principal: { subject: 'bot' } } },
      { type: 'decision', data: { action: 'deny', rule: 'r', reasons: [] } },
    ]);
    await log.append(genuine[1]!, [{ type: 'request', data: { endpoint: 'query', connection: 'main', sql: 'SELECT 1', params: [] } }]);
    return { log, admin, prefix, genuine };
  }

  const firstEvent = { seq: 0, type: 'request', at: new Date(Date.now() - 1_000).toISOString(), data: '{}', prevHash: null, hash: 'e'.repeat(64) };

  for (const [label, startedAt] of [
    ['null', null],
    ['a string', new Date().toISOString()],
    ['a number', 1_700_000_000_000],
    ['a map that looks like a Timestamp', { seconds: 1_700_000_000, nanoseconds: 0, toDate: 'x' }],
  ] as const) {
    test.serial(`a session document whose startedAt is ${label}: named on its row, every listing goes on`, async (t) => {
      const { log, admin, prefix, genuine } = await fresh();
      const forged = randomUUID();
      await admin.collection(`${prefix}sessions`).doc(forged).create({ startedAt, subject: 'mallory' });
      // Its first event holds its hash: only startedAt disagrees with it.
      const first = { ...firstEvent, hash: hashEvent({ sessionId: forged, seq: 0, type: 'request', at: firstEvent.at, data: {}, prevHash: null }) };
      await admin.collection(`${prefix}sessions`).doc(forged).collection('events').doc(eventId(0)).create(first);

      const listed = await log.list({});
      t.deepEqual(listed.filter((s) => genuine.includes(s.sessionId)).map((s) => s.status).sort(), ['denied', 'received']);
      const row = listed.find((s) => s.sessionId === forged);
      t.like(row, { status: 'unknown', listingTampered: 'started_at' });
      t.is(row?.subject, undefined, "the row's who is not shown");
      const cli = await listSessions(log, { limit: 100 }, false);
      t.is(cli.tampered, 1);
      t.regex(cli.text, /LISTING TAMPERED \(started_at/);
      // A time range selects Timestamps only: the row is outside it, the genuine sessions inside.
      const ranged = await log.list({ from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000) });
      t.true(genuine.every((id) => ranged.some((s) => s.sessionId === id)));
      await log.close();
    });
  }

  const appended: [string, Record<string, unknown>, string][] = [
    ['whose hash is a number', { hash: 7 }, 'hash'],
    ['whose hash is missing (and prevHash a number)', { hash: undefined, prevHash: 5 }, 'prevHash'],
    ['whose seq is a string', { seq: 'zz' }, 'seq'],
    ['whose seq is not a whole number', { seq: 2.5 }, 'seq'],
    ['whose at is a Timestamp', { at: 'TIMESTAMP' }, 'at'],
    ['whose at is a number', { at: 5 }, 'at'],
    ['whose type is a number', { type: 5 }, 'type'],
    ['whose global index is negative', { index: -3 }, 'index'],
  ];
  for (const [label, change, field] of appended) {
    test.serial(`an event ${label}, appended to a genuine session: read as unreadable, exported, named by verify — the rest verifies`, async (t) => {
      const { log, admin, prefix, genuine } = await fresh();
      const { Timestamp } = await import('@google-cloud/firestore');
      const target = genuine[0]!;
      const events = admin.collection(`${prefix}sessions`).doc(target).collection('events');
      const head = (await events.orderBy('seq', 'desc').limit(1).get()).docs[0]!;
      const doc: Record<string, unknown> = { seq: (head.get('seq') as number) + 1, type: 'execution.committed', at: new Date().toISOString(), data: '{}', prevHash: head.get('hash'), hash: 'e'.repeat(64), ...change };
      if (doc.at === 'TIMESTAMP') doc.at = Timestamp.now();
      for (const k of Object.keys(doc)) if (doc[k] === undefined) delete doc[k];
      await events.doc(eventId((head.get('seq') as number) + 1)).create(doc);

      const read = await log.read(target);
      const last = read.at(-1)!;
      if (field === 'index') {
        t.is(last.index, undefined, 'an index that is no place in the log is no index');
      } else {
        t.is(last.type as string, 'unreadable');
        t.like(last.data, { storedType: field === 'type' ? 'number' : 'execution.committed' });
        t.regex(String(last.data.reason), new RegExp(field));
      }
      for (const e of read) {
        t.true(Number.isSafeInteger(e.seq) && typeof e.at === 'string' && typeof e.hash === 'string' && (e.prevHash === null || typeof e.prevHash === 'string'), JSON.stringify(e));
      }
      // The store's listing reads the last event's seq, type and at (not its hashes); what is shown re-reads the session.
      const listed = await log.list({});
      const row = listed.find((s) => s.sessionId === target)!;
      if (field === 'seq' || field === 'at' || field === 'type') t.is(row.status, 'unknown');
      t.true(Number.isSafeInteger(row.events) && typeof row.lastAt === 'string', JSON.stringify(row));
      const shownList = JSON.parse((await listSessions(log, { limit: 100 }, true)).text) as { sessionId: string; status: string }[];
      t.is(shownList.find((s) => s.sessionId === target)?.status, 'unknown');
      t.is(shownList.find((s) => s.sessionId === genuine[1])?.status, 'received');
      const shown = await showSession(log, target, false);
      t.false(shown.ok);

      const out = join(dir, randomUUID());
      await exportEvidence(log, { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000), out, source: 'test' });
      const verified = await verifyEvidence(out, {});
      t.false(verified.ok);
      const kinds = verified.problems.map((p) => p.kind);
      t.false(kinds.includes('manifest_invalid'), JSON.stringify(verified.problems.slice(0, 3)));
      t.false(kinds.includes('event_unreadable'), JSON.stringify(verified.problems.slice(0, 3)));
      t.true(verified.problems.some((p) => p.sessionId === target), JSON.stringify(verified.problems.slice(0, 3)));
      t.false(verified.problems.some((p) => p.sessionId === genuine[1]), 'the other session verifies');
      await log.close();
    });
  }
});
