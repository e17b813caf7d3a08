// Export hashes an event from its stored data text only when that text is the canonical JSON the
// hash is defined over (shared/audit/stored-text.ts). Here, as an attacker with the table owner's
// rights on real PostgreSQL: a data text rewritten in a non-canonical form — whitespace, key order,
// a duplicate key, a number or an escape written differently — with the event hash recomputed over
// exactly those bytes, as a fast path that trusted the text would compute it. Export must still
// find the chain broken, write the event as its parsed value, and refuse a rewritten first event
// in the listing; and exports through every read path and page size stay byte for byte the same.
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import pg from 'pg';
import { createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import { hashEvent } from '../../shared/audit/chain.ts';
import type { SessionEvent } from '../../shared/audit/events.ts';
import { eventLine } from '../../shared/evidence/event-line.ts';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { createTestDatabase } from '../helpers/pg.ts';
import { tempDir } from './helpers.ts';

async function setup(t: import('ava').ExecutionContext) {
  const db = await createTestDatabase();
  const log = await createPostgresSessionLog({ connectionString: db.url, poolSize: 2 });
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  t.teardown(async () => {
    await log.close();
    await admin.end();
    await db.drop();
  });
  const asOwner = async (sql: string, params: unknown[]) => {
    await admin.query('BEGIN');
    await admin.query('SET LOCAL session_replication_role = replica');
    await admin.query(sql, params);
    await admin.query('COMMIT');
  };
  return { log, asOwner };
}

/** The hash a fast path that trusted the stored text would compute: SHA-256 around the raw bytes. */
function forgedHash(e: SessionEvent, text: string): string {
  return createHash('sha256')
    .update(`{"at":${JSON.stringify(e.at)},"data":${text},"prevHash":${JSON.stringify(e.prevHash)},"seq":${e.seq},"sessionId":${JSON.stringify(e.sessionId)},"type":${JSON.stringify(e.type)}}`)
    .digest('hex');
}

// Each rewrites {"class":"read","rows":[1,2]} into a text that is not canonical.
const REWRITES: Record<string, string> = {
  whitespace: '{"class": "write","rows":[1,2]}',
  unsorted: '{"rows":[1,2],"class":"write"}',
  duplicate: '{"class":"read","class":"write","rows":[1,2]}',
  number: '{"class":"write","rows":[1.0,2]}',
  escape: '{"class":"\\u0077rite","rows":[1,2]}',
  nested: '{"class":"write","rows":[1,2],"z":{"b":1,"a":2}}',
};

test('a non-canonical data text hashed over its own bytes is a broken chain, and is exported as its value', async (t) => {
  const { log, asOwner } = await setup(t);
  const from = new Date(Date.now() - 1000);
  const victims = new Map<string, string>();
  for (const [name, text] of Object.entries(REWRITES)) {
    const id = randomUUID();
    await log.append(id, [{ type: 'request', data: { principal: { subject: 'bot' }, sql: 'SELECT 1' } }]);
    const [last] = await log.append(id, [{ type: 'analysis', data: { class: 'read', rows: [1, 2] } }]);
    const forged = forgedHash(last!, text);
    // The forged hash is not the event's hash as defined: canonicalize(parse(text)) is not the text.
    t.not(forged, hashEvent({ ...last!, data: JSON.parse(text) as Record<string, unknown> }), name);
    await asOwner('UPDATE gatehouse_session_events SET data = $3, hash = $4 WHERE session_id = $1 AND seq = $2', [id, last!.seq, text, forged]);
    victims.set(id, name);
  }
  const clean = randomUUID();
  await log.append(clean, [{ type: 'request', data: { principal: { subject: 'bot' }, sql: 'SELECT 2' } }, { type: 'analysis', data: { class: 'read' } }]);
  const to = new Date(Date.now() + 1000);

  const dir = tempDir(t);
  const s = await exportEvidence(log, { from, to, out: join(dir, 'e'), source: 'test' });
  const verification = JSON.parse(readFileSync(join(dir, 'e', 'verification.json'), 'utf8')) as { broken: { sessionId: string; problems: { kind: string; seq: number }[] }[] };
  const broken = new Map(verification.broken.map((b) => [b.sessionId, b.problems]));
  for (const [id, name] of victims) {
    t.deepEqual(broken.get(id), [{ kind: 'hash_mismatch', seq: 1 }], name);
  }
  t.false(broken.has(clean));
  t.true(s.chainsBroken >= victims.size);
  // Every line is eventLine of the event as parsed: never the stored bytes spliced in.
  for (const line of readFileSync(join(dir, 'e', 'events.jsonl'), 'utf8').split('\n').filter(Boolean)) {
    const e = JSON.parse(line) as SessionEvent;
    t.is(`${line}\n`, eventLine(e));
  }
});

test('a first event rewritten in a non-canonical form with a hash over its bytes: the listing names its row, export names it and its broken chain', async (t) => {
  const { log, asOwner } = await setup(t);
  const from = new Date(Date.now() - 1000);
  const id = randomUUID();
  const [first] = await log.append(id, [{ type: 'request', data: { principal: { subject: 'bot' }, sql: 'SELECT 1' } }]);
  const text = '{"principal":{"subject":"bot"},"sql":"SELECT 1"} ';
  await asOwner('UPDATE gatehouse_session_events SET data = $3, hash = $4 WHERE session_id = $1 AND seq = $2', [id, 0, text, forgedHash(first!, text)]);
  const to = new Date(Date.now() + 1000);
  const listed = await log.list({ from, to });
  t.like(listed.find((r) => r.sessionId === id), { listingTampered: 'first event', status: 'unknown' });
  const e = await exportEvidence(log, { from, to, out: join(tempDir(t), 'e'), source: 'test' });
  t.true(e.logProblems.some((p) => p.kind === 'listing_tampered' && p.sessionId === id), JSON.stringify(e.logProblems));
  t.true(e.chainsBroken >= 2, 'the listing and the chain both named');
});

test('readManyStored gives the stored texts beside the events; exports by every read path and page size are the same bytes', async (t) => {
  const { log } = await setup(t);
  const from = new Date(Date.now() - 1000);
  const ids: string[] = [];
  for (let i = 0; i < 45; i++) {
    const id = randomUUID();
    ids.push(id);
    await log.append(id, [{ type: 'request', data: { principal: { subject: `bot-${i % 3}` }, sql: `SELECT ${i}`, z: 1, a: [{ y: 2, b: 'é😀\u2028</script>' }] } }]);
    for (let k = 0; k < i % 3; k++) await log.append(id, [{ type: 'analysis', data: { class: 'read', k } }]);
  }
  const to = new Date(Date.now() + 1000);
  const stored = await log.readManyStored!([...ids, 'no-such-session']);
  for (const id of ids) {
    const s = stored.get(id)!;
    t.deepEqual(s.events, await log.read(id));
    t.is(s.dataTexts.length, s.events.length);
    s.events.forEach((e, i) => t.deepEqual(JSON.parse(s.dataTexts[i]!), e.data));
  }
  t.deepEqual(stored.get('no-such-session')!.events, []);

  const dir = tempDir(t);
  const single = await exportEvidence({ list: log.list.bind(log), read: log.read.bind(log) }, { from, to, out: join(dir, 'single'), source: 'test', pageSize: 10 });
  for (const [name, options] of Object.entries({ p1: { pageSize: 1 }, p7: { pageSize: 7, readConcurrency: 1 }, p7c4: { pageSize: 7, readConcurrency: 4 }, p500: { pageSize: 500 } })) {
    const other = await exportEvidence(log, { from, to, out: join(dir, name), source: 'test', ...options });
    t.is(other.sessions, 45, name);
    t.is(other.merkleRoot, single.merkleRoot, name);
    for (const file of ['events.jsonl', 'sessions.jsonl', 'approvals.jsonl', 'population.csv']) {
      t.is(readFileSync(join(dir, name, file), 'utf8'), readFileSync(join(dir, 'single', file), 'utf8'), `${name} ${file}`);
    }
    // The global log's leaves come with a store that has them (the single-read source does not).
    if (name !== 'p1') t.is(readFileSync(join(dir, name, 'leaves.jsonl'), 'utf8'), readFileSync(join(dir, 'p1', 'leaves.jsonl'), 'utf8'), `${name} leaves.jsonl`);
  }
});
