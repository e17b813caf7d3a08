// Events without a place in the global log, written with the gateway's own INSERT right on real
// PostgreSQL. "No index" exists only for events stored before the global log did: an event
// inserted today with log_index NULL is outside every signed root, so nothing signed can show it
// was forged — the store must refuse it, and an export must not pass it off as covered.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import pg from 'pg';
import { createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import { chainEvents } from '../../shared/audit/chain.ts';
import type { EventDraft, SessionEvent } from '../../shared/audit/events.ts';
import { createTestDatabase } from '../helpers/pg.ts';

const request = (subject: string, sql: string): EventDraft => ({
  type: 'request',
  data: { endpoint: 'query', principal: { issuer: 'https://issuer.test', subject, email: subject, groups: [] }, agent: { model: 'test-model' }, connection: 'main', sql },
});

async function setup(t: ExecutionContext) {
  const db = await createTestDatabase();
  const log = await createPostgresSessionLog({ connectionString: db.url, poolSize: 2 });
  const writer = new pg.Client({ connectionString: db.url });
  await writer.connect();
  const stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-unindexed-'));
  t.teardown(async () => {
    await writer.end();
    await log.close();
    await db.drop();
    rmSync(stateDir, { recursive: true, force: true });
  });
  /** INSERT only, as the gateway's role may: no triggers disabled, no UPDATE, no DELETE. */
  const insert = async (events: readonly SessionEvent[], index: (e: SessionEvent, i: number) => number | null, listing?: { subject: string; sql: string }) => {
    await writer.query('BEGIN');
    try {
      if (listing) {
        await writer.query('INSERT INTO gatehouse_sessions (session_id, started_at, subject, email, connection, sql) VALUES ($1, $2, $3, $3, $4, $5)', [events[0]!.sessionId, events[0]!.at, listing.subject, 'main', listing.sql]);
      }
      for (const [i, e] of events.entries()) {
        await writer.query('INSERT INTO gatehouse_session_events (session_id, seq, type, at, data, prev_hash, hash, log_index) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
          e.sessionId,
          e.seq,
          e.type,
          e.at,
          JSON.stringify(e.data),
          e.prevHash,
          e.hash,
          index(e, i),
        ]);
      }
      await writer.query('COMMIT');
    } catch (e) {
      await writer.query('ROLLBACK');
      throw e;
    }
  };
  return { log, insert, stateDir, db, writer };
}

test('the writer cannot insert a whole session outside the global log (log_index NULL)', async (t) => {
  const { log, insert } = await setup(t);
  await log.append(randomUUID(), [request('bot@acme.com', 'SELECT 1')]);
  const sid = randomUUID();
  const forged = chainEvents(sid, null, [request('alice@acme.com', 'DROP TABLE customers'), { type: 'decision', data: { action: 'allow', rule: 'dba' } }, { type: 'execution.completed', data: { command: 'DROP TABLE' } }], new Date());
  await t.throwsAsync(insert(forged, () => null, { subject: 'alice@acme.com', sql: 'DROP TABLE customers' }), { message: /log_index/ });
  t.deepEqual(await log.read(sid), [], 'nothing of it landed');
  t.is(await log.treeSize(), 1);
});

test('the writer cannot append an unindexed event to a session of the log', async (t) => {
  const { log, insert } = await setup(t);
  const denied = await log.append(randomUUID(), [request('mallory@acme.com', 'DROP TABLE customers'), { type: 'decision', data: { action: 'deny' } }]);
  const head = denied.at(-1)!;
  const [ran] = chainEvents(head.sessionId, { seq: head.seq, hash: head.hash }, [{ type: 'execution.completed', data: { command: 'DROP TABLE' } }], new Date());
  await t.throwsAsync(insert([ran!], () => null), { message: /log_index/ });
  t.is((await log.read(head.sessionId)).length, 2);
});

test('the writer cannot choose a global index that leaves a gap, or one far ahead', async (t) => {
  const { log, insert, writer } = await setup(t);
  const writerSession = (sid: string, at: string) => writer.query('INSERT INTO gatehouse_sessions (session_id, started_at, subject) VALUES ($1, $2, $3)', [sid, at, 'alice@acme.com']);
  const a = await log.append(randomUUID(), [request('bot@acme.com', 'SELECT 1')]);
  t.is(a[0]!.index, 0);
  for (const index of [2, 1000, Number.MAX_SAFE_INTEGER]) {
    const sid = randomUUID();
    const events = chainEvents(sid, null, [request('alice@acme.com', 'SELECT 2')], new Date());
    await t.throwsAsync(insert(events, () => index, { subject: 'alice@acme.com', sql: 'SELECT 2' }), { message: /log_index/ }, `index ${index}`);
  }
  // A multi-row insert that starts at the next index but skips one is refused whole.
  const sid = randomUUID();
  const two = chainEvents(sid, null, [request('alice@acme.com', 'SELECT 3'), { type: 'decision', data: { action: 'allow' } }], new Date());
  await t.throwsAsync(insert(two, (_e, i) => (i === 0 ? 1 : 3), { subject: 'alice@acme.com', sql: 'SELECT 3' }), { message: /log_index/ });
  // One multi-row statement (the store checks each INSERT statement as a whole): a gap inside it,
  // or a NULL beside a good index, is refused whole.
  for (const indices of [[1, 3], [1, null], [0, 1], [2, 3]]) {
    const s2 = randomUUID();
    const evs = chainEvents(s2, null, indices.map((_, i) => (i === 0 ? request('alice@acme.com', 'SELECT 5') : { type: 'decision', data: { action: 'allow', n: i } })), new Date());
    await writerSession(s2, evs[0]!.at);
    await t.throwsAsync(
      writer.query(
        'INSERT INTO gatehouse_session_events (session_id, seq, type, at, data, prev_hash, hash, log_index) SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::bigint[])',
        [evs.map((e) => e.sessionId), evs.map((e) => e.seq), evs.map((e) => e.type), evs.map((e) => e.at), evs.map((e) => JSON.stringify(e.data)), evs.map((e) => e.prevHash), evs.map((e) => e.hash), indices],
      ),
      { message: /log_index/ },
      JSON.stringify(indices),
    );
  }
  t.is(await log.treeSize(), 1, 'no gap, nothing far ahead');
  // The gateway's own appends carry on at the next index, gap-free.
  const b = await log.append(randomUUID(), [request('bot@acme.com', 'SELECT 4'), { type: 'decision', data: { action: 'allow' } }]);
  t.deepEqual(b.map((e) => e.index), [1, 2]);
  const leaves = await log.leaves(0, 3);
  t.deepEqual(leaves.map((l) => l.index), [0, 1, 2]);
});

test('an append at the next index, as the gateway would make it, is still accepted (the writer can always append: checkpoints date it)', async (t) => {
  const { log, insert } = await setup(t);
  await log.append(randomUUID(), [request('bot@acme.com', 'SELECT 1')]);
  const sid = randomUUID();
  const events = chainEvents(sid, null, [request('alice@acme.com', 'SELECT 2'), { type: 'decision', data: { action: 'allow' } }], new Date());
  await insert(events, (_e, i) => 1 + i, { subject: 'alice@acme.com', sql: 'SELECT 2' });
  t.deepEqual((await log.read(sid)).map((e) => e.index), [1, 2]);
});
