// An auditor on the Firestore session log: `--store firestore://PROJECT/DATABASE` with the real CLI
// in a child process, against Google's Firestore emulator. Sessions are written the gateway's way
// (createFirestoreSessionLog and shared/audit drafts); the CLI then lists, shows, replays and
// exports them — and writes nothing, since a roles/datastore.viewer auditor cannot. `npm test`
// starts the emulator; run on its own, this file starts one. Without it: skipped, loudly.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CollectionReference, Firestore } from '@google-cloud/firestore';
import test from 'ava';
import { firestoreSuite, type FirestoreTestEmulator } from '../helpers/firestore-suite.ts';
import { createFirestoreSessionLog } from '../../shared/adapters/firestore/index.ts';
import { decisionEvent, executionResultEvent, executionStartedEvent, requestEvent } from '../../shared/audit/drafts.ts';
import type { EventDraft } from '../../shared/audit/events.ts';
import { runCli, tempDir } from '../evidence/helpers.ts';

firestoreSuite('CLI --store firestore://', registerEmulatorTests);

function registerEmulatorTests(emulator: FirestoreTestEmulator): void {
  const PROJECT = 'gatehouse-test';
  // A database of this run's own: the emulator keeps named databases apart.
  const DB = `cli-${randomBytes(6).toString('hex')}`;
  const STORE = `firestore://${PROJECT}/${DB}`;
  const FROM = new Date('2026-02-01T00:00:00.000Z');
  const TO = new Date('2026-02-02T00:00:00.000Z');
  const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
  let admin: Firestore;
  let before: string[];
  const written: { sessionId: string; hashes: string[] }[] = [];
  const cli = (args: string[]) => runCli(args, { FIRESTORE_EMULATOR_HOST: emulator.host, METADATA_SERVER_DETECTION: 'none' });

  test.before(async () => {
    await emulator.ready();
    let now = FROM.getTime() + 60_000;
    const log = await createFirestoreSessionLog({ projectId: PROJECT, databaseId: DB, clock: () => new Date((now += 1000)) });
    try {
      for (const [i, drafts] of sessions().entries()) {
        const sessionId = `cli-${i}-${randomUUID()}`;
        const events = [...(await log.append(sessionId, drafts.slice(0, 2))), ...(await log.append(sessionId, drafts.slice(2)))];
        written.push({ sessionId, hashes: events.map((e) => e.hash) });
      }
    } finally {
      await log.close();
    }
    const { Firestore } = await import('@google-cloud/firestore');
    admin = new Firestore({ projectId: PROJECT, databaseId: DB });
    before = await everything(admin);
  });

  test.after.always(async () => {
    await admin?.terminate();
  });

  test.serial('sessions list --json --store firestore://PROJECT/DATABASE lists the sessions written there', async (t) => {
    const r = await cli(['sessions', 'list', '--store', STORE, '--from', FROM.toISOString(), '--to', TO.toISOString(), '--json']);
    t.is(r.code, 0, r.stderr);
    const listed = JSON.parse(r.stdout) as { sessionId: string; status: string; email: string | null }[];
    t.deepEqual(listed.map((s) => s.sessionId), written.map((w) => w.sessionId));
    t.deepEqual(listed.map((s) => s.status), ['result', 'denied']);
    t.true(listed.every((s) => s.email === BOT));
  });

  test.serial('sessions show and replay read one session from Firestore, chain verified', async (t) => {
    const { sessionId, hashes } = written[0]!;
    const show = await cli(['sessions', 'show', sessionId, '--store', STORE, '--json']);
    t.is(show.code, 0, show.stderr);
    const shown = JSON.parse(show.stdout) as { verified: boolean; events: { hash: string }[] };
    t.true(shown.verified);
    t.deepEqual(shown.events.map((e) => e.hash), hashes);
    const replay = await cli(['sessions', 'replay', sessionId, '--store', STORE]);
    t.is(replay.code, 0, replay.stderr);
    t.true(replay.stdout.includes('SELECT id FROM orders'), replay.stdout);
  });

  test.serial('evidence export from Firestore verifies, and names the Firestore database as its source', async (t) => {
    const out = join(tempDir(t), 'evidence');
    const r = await cli(['evidence', 'export', '--store', STORE, '--from', FROM.toISOString(), '--to', TO.toISOString(), '--out', out, '--json']);
    t.is(r.code, 0, r.stderr);
    t.like(JSON.parse(r.stdout), { sessions: written.length, chainsBroken: 0 });
    const verify = await cli(['evidence', 'verify', out]);
    t.is(verify.code, 0, verify.stderr);
    t.regex(verify.stdout, /^OK: /);
    const source = `Firestore database ${DB} in project ${PROJECT}`;
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { source: string; chainHeads: unknown };
    t.is(manifest.source, source);
    t.true(readFileSync(join(out, 'report.html'), 'utf8').includes(source));
    const exported = readFileSync(join(out, 'sessions.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { sessionId: string }).sessionId);
    t.deepEqual(exported, written.map((w) => w.sessionId));
  });

  test.serial('firestore://PROJECT alone reads gatehouse-audit, the database the gateway writes by default', async (t) => {
    // gatehouse-audit is shared with other test files: a far-off time of this run's own isolates it.
    const at = new Date(Date.UTC(2300, 0, 1) + Math.floor(Math.random() * 2 ** 30) * 1000);
    const log = await createFirestoreSessionLog({ projectId: PROJECT, databaseId: 'gatehouse-audit', clock: () => at });
    const sessionId = `cli-default-${randomUUID()}`;
    try {
      await log.append(sessionId, sessions()[1]!);
    } finally {
      await log.close();
    }
    const r = await cli(['sessions', 'list', '--store', `firestore://${PROJECT}`, '--from', at.toISOString(), '--to', new Date(at.getTime() + 1).toISOString(), '--json']);
    t.is(r.code, 0, r.stderr);
    t.deepEqual((JSON.parse(r.stdout) as { sessionId: string }[]).map((s) => s.sessionId), [sessionId]);
  });

  // Before, one such row made `sessions list` fail for everyone (audit_tampered), its rows unseen.
  test.serial('sessions list: a row whose subject copy was edited is shown as tampered (exit 1), never as that subject; the other rows as they are', async (t) => {
    const db = `cli-tampered-${randomBytes(6).toString('hex')}`;
    const at = new Date('2026-03-01T00:00:00.000Z');
    let now = at.getTime();
    const log = await createFirestoreSessionLog({ projectId: PROJECT, databaseId: db, clock: () => new Date((now += 1000)) });
    const ids = [`t-0-${randomUUID()}`, `t-1-${randomUUID()}`];
    try {
      for (const [i, drafts] of sessions().entries()) await log.append(ids[i]!, drafts);
    } finally {
      await log.close();
    }
    const { Firestore } = await import('@google-cloud/firestore');
    const owner = new Firestore({ projectId: PROJECT, databaseId: db });
    try {
      await owner.collection('sessions').doc(ids[1]!).update({ subject: 'cfo@acme.com', email: 'cfo@acme.com' });
    } finally {
      await owner.terminate();
    }
    const args = ['sessions', 'list', '--store', `firestore://${PROJECT}/${db}`, '--from', at.toISOString(), '--to', new Date(now + 1000).toISOString()];
    const r = await cli(args);
    t.is(r.code, 1, r.stderr);
    const lines = r.stdout.split('\n');
    t.regex(lines.find((l) => l.includes(ids[1]!)) ?? '', /unknown.*LISTING TAMPERED \(subject disagrees with the log\)/);
    t.false(r.stdout.includes('cfo@acme.com'), 'the edited copy is never shown as who');
    t.false(r.stdout.includes('DROP TABLE orders'), 'nor the copy of its SQL');
    t.regex(lines.find((l) => l.includes(ids[0]!)) ?? '', /SELECT id FROM orders/);
    t.regex(r.stdout, /1 listed session\(s\) disagree with their hashed first event/);
    const json = await cli([...args, '--json']);
    t.is(json.code, 1);
    t.deepEqual((JSON.parse(json.stdout) as { sessionId: string; listingTampered?: string }[]).map((s) => [s.sessionId, s.listingTampered ?? null]), [[ids[0], null], [ids[1], 'subject']]);
  });

  // Runs after the serial tests above: everything the CLI did to DB is done by now.
  test('the CLI wrote nothing to the Firestore database it read (no document created, changed or removed)', async (t) => {
    const after = await everything(admin);
    // The sessions collection, 2 sessions with an events collection each, 4 + 2 events; the global
    // log's collection with one leaf per event.
    t.is(before.length, 1 + 2 * 2 + 6 + 1 + 6, before.join('\n'));
    t.deepEqual(after, before);
  });

  function sessions(): EventDraft[][] {
    const principal = { issuer: 'https://issuer.test', subject: BOT, email: BOT, groups: ['review-bots'] };
    const agent = { model: 'test-model' };
    const policySha256 = 'a'.repeat(64);
    return [
      [
        requestEvent({ endpoint: 'query', principal, agent, connection: 'main', sql: 'SELECT id FROM orders', params: [], maxRows: 100 }),
        decisionEvent({ action: 'allow', rule: 'bots-read', reasons: ['rule "bots-read" allows read'], policySha256 }),
        executionStartedEvent({ connection: 'main', readOnly: true, maxRows: 100, statementTimeoutMs: 5000 }),
        executionResultEvent({ command: 'SELECT', rowCount: 1, truncated: false, durationMs: 2, fields: [{ name: 'id', type: 'int4', dataTypeID: 23, tableID: 1, columnID: 1 }], rows: [[1]] }),
      ],
      [
        requestEvent({ endpoint: 'query', principal, agent, connection: 'main', sql: 'DROP TABLE orders', params: [], maxRows: 100 }),
        decisionEvent({ action: 'deny', rule: 'nothing-else', reasons: ['rule "nothing-else" denies destructive'], policySha256 }),
      ],
    ];
  }
}

/** Every collection and document in the database, walked down, with each document's update time. */
async function everything(db: Firestore): Promise<string[]> {
  const out: string[] = [];
  const walk = async (collections: CollectionReference[]): Promise<void> => {
    for (const c of collections) {
      out.push(`collection ${c.path}`);
      // listDocuments, not get(): it names documents that exist only as parents of subcollections too.
      for (const ref of await c.listDocuments()) {
        const snap = await ref.get();
        out.push(`${ref.path} ${snap.exists ? snap.updateTime!.toDate().toISOString() : 'missing'}`);
        await walk(await ref.listCollections());
      }
    }
  };
  await walk(await db.listCollections());
  return out.sort();
}
