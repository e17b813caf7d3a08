// Attack: a session appended with the writer's rights and dated in the future (postdated). The
// checkpoints bound when a leaf was appended from both sides: leaf_backdated names an event dated
// well before a checkpoint signed before its leaf existed; an event dated well after a checkpoint
// whose tree already holds its leaf cannot be genuine either — the gateway dates an event when it
// happens and appends it then. Unchecked, a writer could plant a session "of next week" that
// verified as that week's genuine evidence, and whose leaves lie before the run an export of that
// week starts at (from the last checkpoint signed before it), where a regenerated folder could
// leave it out unseen. Real PostgreSQL, a real local signer, real exports; every pass of verify.
import { join } from 'node:path';
import test from 'ava';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { tempDir } from './helpers.ts';
import { deniedSession, everyPass, signedLog } from './signed-log.ts';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const session = deniedSession;

test('a session appended today but dated tomorrow: leaf_postdated in today\'s export (its leaves) and in tomorrow\'s (its events)', async (t) => {
  const { T, log, state, setNow, sign, checkpoints: signed } = await signedLog(t, Date.UTC(2100, 3, 1), 'gatehouse-postdated-state-');
  const genuine = `genuine-${T}`;
  await log.append(genuine, session('SELECT 1'));
  await sign(T + MIN);
  // The writer's append, dated a day ahead; the signer signs it two minutes later.
  const forged = `forged-${T}`;
  setNow(T + DAY);
  await log.append(forged, session('DROP TABLE customers'));
  await sign(T + 2 * MIN);
  // Tomorrow: one genuine session, and a checkpoint after the range.
  setNow(T + DAY + MIN);
  await log.append(`tomorrow-${T}`, session('SELECT 2'));
  await sign(T + DAY + 30 * MIN);
  const checkpoints = await signed();

  const today = join(tempDir(t), 'today');
  const e1 = await exportEvidence(log, { from: new Date(T - 10 * MIN), to: new Date(T + 10 * MIN), out: today, source: 'test', checkpoints, clock: () => new Date(T + 2 * DAY) });
  // Export says so too: whoever exports sees what the auditor's verify will name.
  t.true(e1.logProblems.some((p) => p.kind === 'leaf_postdated' && p.sessionId === forged), JSON.stringify(e1.logProblems));
  t.true(e1.chainsBroken > 0, 'counted, so the export is not ok');
  const r1 = await everyPass(t, today, state);
  t.is(r1.checked.sessions, 1, 'today holds the genuine session only');
  t.false(r1.ok);
  t.true(r1.problems.some((p) => p.kind === 'leaf_postdated' && p.sessionId === forged && p.file === 'leaves.jsonl'), JSON.stringify(r1.problems));

  const tomorrow = join(tempDir(t), 'tomorrow');
  const e2 = await exportEvidence(log, { from: new Date(T + DAY - 10 * MIN), to: new Date(T + DAY + 10 * MIN), out: tomorrow, source: 'test', checkpoints, clock: () => new Date(T + 2 * DAY) });
  t.true(e2.logProblems.some((p) => p.kind === 'leaf_postdated' && p.sessionId === forged), JSON.stringify(e2.logProblems));
  t.false(e2.logProblems.some((p) => p.sessionId === `tomorrow-${T}`));
  const r2 = await everyPass(t, tomorrow, state);
  t.is(r2.checked.sessions, 2, 'tomorrow holds the forged session (its listing says it started then) and the genuine one');
  t.false(r2.ok);
  t.true(r2.problems.some((p) => p.kind === 'leaf_postdated' && p.sessionId === forged && p.file === 'events.jsonl'), JSON.stringify(r2.problems));
  t.false(r2.problems.some((p) => p.sessionId === `tomorrow-${T}`), 'the genuine session of tomorrow is not named');
});

test('a session appended today but dated yesterday, after yesterday was exported: leaf_backdated in today\'s export (its leaves), so it hides in no export', async (t) => {
  const { T, log, state, setNow, sign, checkpoints: signed } = await signedLog(t, Date.UTC(2100, 6, 1), 'gatehouse-backdated-state-');
  // Yesterday's genuine session, in the log before today's first checkpoint.
  const old = `old-${T}`;
  setNow(T - DAY);
  await log.append(old, session('SELECT 0'));
  setNow(T);
  const genuine = `genuine-${T}`;
  await log.append(genuine, session('SELECT 1'));
  await sign(T + MIN);
  // The writer's append today, dated a day back: yesterday's export (already taken and verified)
  // never held it, and today's range does not list it — only its leaves in today's run show it.
  const forged = `forged-${T}`;
  setNow(T - DAY);
  await log.append(forged, session('DROP TABLE customers'));
  // And an event added today to yesterday's session, dated yesterday (the other spelling: not a
  // session's first event, so nothing about a range, only its place in the log dates it).
  setNow(T - DAY + MIN);
  const [added] = await log.append(old, [{ type: 'execution.started', data: {} }]);
  setNow(T + 3 * MIN);
  await log.append(`later-${T}`, session('SELECT 2'));
  await sign(T + 30 * MIN);
  const checkpoints = await signed();

  const today = join(tempDir(t), 'today');
  const e = await exportEvidence(log, { from: new Date(T - 10 * MIN), to: new Date(T + 10 * MIN), out: today, source: 'test', checkpoints, clock: () => new Date(T + DAY) });
  t.true(e.logProblems.some((p) => p.kind === 'leaf_backdated' && p.sessionId === forged), JSON.stringify(e.logProblems));
  t.true(e.chainsBroken > 0, 'counted, so the export is not ok');
  const r = await everyPass(t, today, state);
  t.is(r.checked.sessions, 2, 'today holds the two genuine sessions');
  t.false(r.ok);
  t.true(r.problems.some((p) => p.kind === 'leaf_backdated' && p.sessionId === forged && p.file === 'leaves.jsonl'), JSON.stringify(r.problems));
  t.true(r.problems.some((p) => p.kind === 'leaf_backdated' && p.sessionId === old && p.seq === added!.seq && p.file === 'leaves.jsonl'), JSON.stringify(r.problems));
  t.true(e.logProblems.some((p) => p.kind === 'leaf_backdated' && p.sessionId === old), JSON.stringify(e.logProblems));
  t.is(r.problems.filter((p) => p.kind === 'leaf_backdated').length, 3, 'the forged session\'s two events and the added one, nothing else');
  t.false(r.problems.some((p) => p.sessionId === genuine || p.sessionId === `later-${T}`), 'the genuine sessions are not named');
});
