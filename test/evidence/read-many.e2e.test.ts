// SessionLog.readMany (PostgreSQL adapter), what export reads a batch of sessions with: each
// session exactly as `read` gives it, unknown and unstorable ids as empty, and an export made with
// it byte for byte the export made one read at a time. Real PostgreSQL.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { createTestDatabase } from '../helpers/pg.ts';
import { tempDir } from './helpers.ts';

test('readMany gives each session as read does; an export through it is the export through read, byte for byte', async (t) => {
  const db = await createTestDatabase();
  const log = await createPostgresSessionLog({ connectionString: db.url, poolSize: 2 });
  t.teardown(async () => {
    await log.close();
    await db.drop();
  });
  const from = new Date(Date.now() - 1000);
  const ids: string[] = [];
  for (let i = 0; i < 70; i++) {
    const id = randomUUID();
    ids.push(id);
    await log.append(id, [{ type: 'request', data: { principal: { subject: `bot-${i % 3}` }, sql: `SELECT ${i}`, params: [i, 'x'] } }]);
    for (let k = 0; k < i % 4; k++) await log.append(id, [{ type: 'analysis', data: { class: 'read', k, note: 'é😀</script>' } }]);
  }
  const to = new Date(Date.now() + 1000);
  const many = await log.readMany!([...ids, 'no-such-session', 'nul\u0000id']);
  for (const id of ids) t.deepEqual(many.get(id), await log.read(id), id);
  t.deepEqual(many.get('no-such-session'), []);
  t.deepEqual(many.get('nul\u0000id'), []);
  t.deepEqual([...(await log.readMany!([])).keys()], []);

  const dir = tempDir(t);
  const batched = await exportEvidence(log, { from, to, out: join(dir, 'batched'), source: 'test', pageSize: 25 });
  const single = await exportEvidence({ list: log.list.bind(log), read: log.read.bind(log) }, { from, to, out: join(dir, 'single'), source: 'test', pageSize: 25, readConcurrency: 3 });
  t.is(batched.sessions, 70);
  for (const name of ['events.jsonl', 'sessions.jsonl', 'approvals.jsonl', 'population.csv']) {
    t.is(readFileSync(join(dir, 'batched', name), 'utf8'), readFileSync(join(dir, 'single', name), 'utf8'), name);
  }
  t.is(batched.merkleRoot, single.merkleRoot);
});
