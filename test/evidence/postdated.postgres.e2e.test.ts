// Attack: a session appended with the writer's rights and dated in the future (postdated). The
// checkpoints bound when a leaf was appended from both sides: leaf_backdated names an event dated
// well before a checkpoint signed before its leaf existed; an event dated well after a checkpoint
// whose tree already holds its leaf cannot be genuine either — the gateway dates an event when it
// happens and appends it then. Unchecked, a writer could plant a session "of next week" that
// verified as that week's genuine evidence, and whose leaves lie before the run an export of that
// week starts at (from the last checkpoint signed before it), where a regenerated folder could
// leave it out unseen. Real PostgreSQL, a real local signer, real exports; every pass of verify.
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import type { EventDraft } from '../../shared/audit/events.ts';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { verifyEvidence, type VerifyResult } from '../../shared/evidence/verify.ts';
import { checkpointOnce } from '../../shared/transparency/checkpointer.ts';
import { localCheckpointing } from '../../shared/transparency/local.ts';
import { createTestDatabase } from '../helpers/pg.ts';
import { tempDir } from './helpers.ts';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const session = (sql: string): EventDraft[] => [
  { type: 'request', data: { endpoint: 'query', principal: { issuer: 'https://issuer.test', subject: 'bot', email: 'bot@example.com', groups: [] }, agent: { model: 'test-model' }, connection: 'main', sql } },
  { type: 'decision', data: { action: 'deny', rule: 'nothing-else', reasons: ['no rule allows it'], policySha256: 'p'.repeat(64) } },
];
const answer = (r: VerifyResult) => ({ ...r, durationMs: 0, eventsPerSecond: 0, pass: undefined });

async function everyPass(t: ExecutionContext, dir: string, state: string): Promise<VerifyResult> {
  const runs: VerifyResult[] = [];
  for (const workers of [0, 2]) for (const fullPass of [false, true]) runs.push(await verifyEvidence(dir, { workers, fullPass, checkpoints: state }));
  for (const r of runs.slice(1)) t.deepEqual(answer(r), answer(runs[0]!), 'every pass gives the same answer');
  return runs[0]!;
}

test('a session appended today but dated tomorrow: leaf_postdated in today\'s export (its leaves) and in tomorrow\'s (its events)', async (t) => {
  const T = Date.UTC(2100, 3, 1) + Math.floor(Math.random() * 2 ** 30) * 1000;
  let now = T;
  const db = await createTestDatabase();
  const log = await createPostgresSessionLog({ connectionString: db.url, poolSize: 2, clock: () => new Date(now) });
  t.teardown(async () => {
    await log.close();
    await db.drop();
  });
  const state = tempDir(t, 'gatehouse-postdated-state-');
  const local = localCheckpointing(state, { createKey: true });
  const sign = async (at: number) => t.is((await checkpointOnce({ log, signer: local.signer, store: local.store, clock: () => new Date(at) })).kind, 'signed');
  const genuine = `genuine-${T}`;
  await log.append(genuine, session('SELECT 1'));
  await sign(T + MIN);
  // The writer's append, dated a day ahead; the signer signs it two minutes later.
  const forged = `forged-${T}`;
  now = T + DAY;
  await log.append(forged, session('DROP TABLE customers'));
  await sign(T + 2 * MIN);
  // Tomorrow: one genuine session, and a checkpoint after the range.
  now = T + DAY + MIN;
  await log.append(`tomorrow-${T}`, session('SELECT 2'));
  await sign(T + DAY + 30 * MIN);
  const checkpoints = (await local.store.list()).checkpoints;

  const today = join(tempDir(t), 'today');
  await exportEvidence(log, { from: new Date(T - 10 * MIN), to: new Date(T + 10 * MIN), out: today, source: 'test', checkpoints, clock: () => new Date(T + 2 * DAY) });
  const r1 = await everyPass(t, today, state);
  t.is(r1.checked.sessions, 1, 'today holds the genuine session only');
  t.false(r1.ok);
  t.true(r1.problems.some((p) => p.kind === 'leaf_postdated' && p.sessionId === forged && p.file === 'leaves.jsonl'), JSON.stringify(r1.problems));

  const tomorrow = join(tempDir(t), 'tomorrow');
  await exportEvidence(log, { from: new Date(T + DAY - 10 * MIN), to: new Date(T + DAY + 10 * MIN), out: tomorrow, source: 'test', checkpoints, clock: () => new Date(T + 2 * DAY) });
  const r2 = await everyPass(t, tomorrow, state);
  t.is(r2.checked.sessions, 2, 'tomorrow holds the forged session (its listing says it started then) and the genuine one');
  t.false(r2.ok);
  t.true(r2.problems.some((p) => p.kind === 'leaf_postdated' && p.sessionId === forged && p.file === 'events.jsonl'), JSON.stringify(r2.problems));
  t.false(r2.problems.some((p) => p.sessionId === `tomorrow-${T}`), 'the genuine session of tomorrow is not named');
});
