// Attacks on `gatehouse sessions show`'s claim that a session is "covered by a signed checkpoint"
// (shared/cli/checkpoint.ts sessionCoverage), on real PostgreSQL with a real local signer. Covered
// must mean: what is shown is the session as the signed log holds it — every event shown is its
// leaf, AND no event of the session in the signed tree is left out. A store that hides a session's
// last events (a denial, a rollback, a vote) while every shown event still sits in the signed tree
// must not be vouched for. The owner's rights (past the create-only triggers) move a row to another
// session: its leaf (the same row) keeps its hash, so the signed root still holds.
import { randomUUID } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { sessionCoverage } from '../../shared/cli/checkpoint.ts';
import { showSession } from '../../shared/cli/sessions.ts';
import { checkpointOnce } from '../../shared/transparency/checkpointer.ts';
import { pgSignedLog } from './pg-signed-log.ts';

async function setup(t: ExecutionContext) {
  const { log, stateDir, local, asOwner } = await pgSignedLog(t, 'gatehouse-coverage-attack-');
  const sign = async () => t.is((await checkpointOnce({ log, signer: local.signer, store: local.store })).kind, 'signed');
  const coverage = async (sid: string) => sessionCoverage(log, await log.read(sid), stateDir);
  return { log, stateDir, sign, asOwner, coverage };
}

const denied = (sql: string) => [
  { type: 'request' as const, data: { sql } },
  { type: 'decision' as const, data: { action: 'deny' } },
];

test('a session whose last event (its denial) was moved to another session is not "covered"', async (t) => {
  const { log, stateDir, sign, asOwner, coverage } = await setup(t);
  const sid = randomUUID();
  const other = randomUUID();
  await log.append(sid, denied('DROP TABLE customers'));
  await log.append(other, [{ type: 'request', data: { sql: 'SELECT 1' } }]);
  await sign();
  t.true((await coverage(sid)).covered, 'the genuine session is covered');
  // The denial now reads as another session's: the session looks pending, its chain a clean prefix.
  await asOwner('UPDATE gatehouse_session_events SET session_id = $2 WHERE session_id = $1 AND seq = 1', [sid, other]);
  const shown = JSON.parse((await showSession(log, sid, true, (events) => sessionCoverage(log, events, stateDir))).text);
  t.is(shown.events.length, 1, 'the store shows the session without its denial');
  t.false(shown.checkpoint.covered, `the signed log holds an event of this session that is not shown: ${shown.checkpoint.reason}`);
  t.regex(shown.checkpoint.reason, /leaf_missing/);
});

test('a session whose last event was moved to a session of its own (a new listing row) is not "covered"', async (t) => {
  const { log, sign, asOwner, coverage } = await setup(t);
  const sid = randomUUID();
  await log.append(sid, denied('DELETE FROM orders'));
  await log.append(randomUUID(), denied('SELECT 2'));
  await sign();
  const hideout = `hideout-${randomUUID()}`;
  await asOwner("INSERT INTO gatehouse_sessions (session_id, started_at, subject, email, connection, sql) VALUES ($1, now(), '', '', '', '')", [hideout]);
  await asOwner('UPDATE gatehouse_session_events SET session_id = $2 WHERE session_id = $1 AND seq = 1', [sid, hideout]);
  const c = await coverage(sid);
  t.false(c.covered, c.reason);
  t.regex(c.reason, /leaf_missing/);
});

test('a session whose later event is labelled with its own id but not shown is not "covered"; an intact log with many sessions still is', async (t) => {
  const { log, stateDir, sign, coverage } = await setup(t);
  const sid = randomUUID();
  const others = Array.from({ length: 30 }, () => randomUUID());
  await log.append(sid, [{ type: 'request', data: { sql: 'SELECT 1' } }]);
  for (const o of others) await log.append(o, denied('SELECT 3'));
  await log.append(sid, [{ type: 'decision', data: { action: 'allow' } }]);
  await log.append(others[0]!, [{ type: 'request', data: { sql: 'SELECT 4' } }]);
  await sign();
  const c = await coverage(sid);
  t.true(c.covered, c.reason);
  for (const o of others.slice(0, 3)) t.true((await coverage(o)).covered, o);
  // Shown without its decision — what Firestore's read() gives once the writer deletes the event's
  // document (its leaf is a document of its own, and stays): not covered.
  const partial = await sessionCoverage(log, (await log.read(sid)).slice(0, 1), stateDir);
  t.false(partial.covered, partial.reason);
  t.regex(partial.reason, /leaf_missing/);
});
