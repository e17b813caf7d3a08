// sessions replay: a session as it happened, from the store, through the same readers as the
// export — including approvals decided in another session and masking decisions.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { renderReplay, replaySession } from '../../shared/cli/replay.ts';
import { safe } from '../../shared/cli/format.ts';
import { DBA, DESK_PUBLIC_KEY, startEvidenceFixture, type EvidenceFixture } from './fixture.ts';
import { heldRequest } from './signed-votes.ts';
import { runCli } from './helpers.ts';

let fx: EvidenceFixture;
test.before(async () => {
  fx = await startEvidenceFixture();
});
test.after.always(async () => {
  await fx?.close();
});

test('a read: who, what, decision, what ran, and the rows exactly as returned', async (t) => {
  const r = await replaySession(fx.log, fx.byKind('read').sessionId);
  t.true(r.chain.verified);
  t.is(r.facts.principal?.email, 'review-bot@acme-prod.iam.gserviceaccount.com');
  t.deepEqual(r.facts.principal?.groups, ['review-bots']);
  t.is(r.facts.agent.model, 'gemini-2.5-pro-002');
  t.is(r.facts.agent.runId, 'run-42');
  t.is(r.facts.analysis?.class, 'read');
  t.is(r.facts.decision?.rule, 'bots-read');
  t.is(r.facts.decision?.policySha256, fx.gw.runtime.policy.sha256);
  t.is(r.facts.execution?.readOnly, true);
  t.deepEqual(r.result, { columns: ['id', 'total'], rows: [[1, '1.50'], [2, '3.00'], [3, '4.50']] });
  const text = renderReplay(r);
  for (const section of ['WHO', 'WHAT', 'APPROVALS', 'WHAT RAN', 'RESULT as returned to the bot (3 rows)']) t.true(text.includes(`\n${section}`), section);
  t.regex(text, /decision\s+allow by rule bots-read/);
  t.regex(text, /id \| total\n\s+-+\+-+\n\s+1\s+\| 1\.50/);
});

test('an approved write: the approval decided in the asking session, with approver, comment, and before execution', async (t) => {
  const r = await replaySession(fx.log, fx.byKind('redeemed').sessionId);
  const granted = r.approvals.find((a) => a.step === 'granted');
  t.truthy(granted, JSON.stringify(r.approvals));
  t.is(granted!.sessionId, fx.byKind('held').sessionId);
  t.is(granted!.by?.email, DBA);
  t.is(granted!.comment, 'checked the WHERE clause: one row');
  t.true(granted!.at <= r.facts.execution!.startedAt!);
  const text = renderReplay(r);
  t.regex(text, /granted\s+\S+ \(before execution\)\s+alice@acme\.com/);
  t.regex(text, /comment\s+checked the WHERE clause: one row/);
  t.regex(text, /redeemed\s+approval [0-9a-f-]{36} from session/);
});

test('a masked result: masked columns, strategy and why, and only the stored (masked) values', async (t) => {
  const r = await replaySession(fx.log, fx.byKind('masked').sessionId);
  const text = renderReplay(r);
  t.regex(text, /masked\s+email → email\s+\(provenance: public\.customers\.email\)/);
  t.regex(text, /name\s+\| email \[masked\]/);
  t.true(text.includes('***@example.com'));
  t.false(text.includes('ada.lovelace@example.com'));
});

test('a read the masking step masked: the replay names the column, the strategy and why, and the raw HMAC', async (t) => {
  const text = renderReplay(await replaySession(fx.log, fx.byKind('pii-read').sessionId));
  t.regex(text, /masked\s+email → email\s+\(provenance: public\.customers\.email\)/);
  t.regex(text, /raw hmac\s+[0-9a-f]{64}/);
  t.true(text.includes('***@example.com'));
  t.false(text.includes('ada.lovelace@example.com'));
});

test('a denial and a refusal: nothing ran, and why', async (t) => {
  const denied = renderReplay(await replaySession(fx.log, fx.byKind('denied').sessionId));
  t.regex(denied, /decision\s+deny by rule nothing-else/);
  t.regex(denied, /WHAT RAN\n\s+nothing ran/);
  const bad = renderReplay(await replaySession(fx.log, fx.byKind('unparsable').sessionId));
  t.regex(bad, /refused\s+sql_unparsable/);
});

test('control characters from a bot cannot reach the terminal raw', (t) => {
  t.is(safe('a\u001b[2Jb\u202ec'), 'a\\u001b[2Jb\\u202ec');
  t.is(safe('tab\tand\nnewline'), 'tab\tand\nnewline');
});

test('the CLI: sessions replay ID (text and --json); an unknown id fails with its code', async (t) => {
  const id = fx.byKind('read').sessionId;
  const text = await runCli(['sessions', 'replay', id, '--store', fx.gw.audit.url]);
  t.is(text.code, 0, text.stderr);
  t.true(text.stdout.startsWith(`session ${id}  ·  result`));
  const json = await runCli(['sessions', 'replay', id, '--store', fx.gw.audit.url, '--json']);
  t.is(json.code, 0, json.stderr);
  t.deepEqual(JSON.parse(json.stdout).result.rows, [[1, '1.50'], [2, '3.00'], [3, '4.50']]);
  const none = await runCli(['sessions', 'replay', 'no-such-session', '--store', fx.gw.audit.url]);
  t.is(none.code, 1);
  t.regex(none.stderr, /session_not_found/);
});

// Approvals in a replay are believed only as the approval desk's key proves them (issue 14): the
// log's write rights can append a chained approval.granted; the replay shows it, marked.
test('votes: a genuine approval is proven by the desk key; without a key nothing about votes is', async (t) => {
  const held = await replaySession(fx.log, fx.byKind('held').sessionId, { pem: DESK_PUBLIC_KEY });
  t.is(held.status, 'approved');
  t.deepEqual(held.votes?.problems, []);
  const redeemed = await replaySession(fx.log, fx.byKind('redeemed').sessionId, { pem: DESK_PUBLIC_KEY });
  t.deepEqual(redeemed.votes?.problems, [], 'the asking session’s vote is checked too');
  t.regex(renderReplay(redeemed), /\nvotes {3}1 signed by the approval desk's key [0-9a-f]{16}…/);
  t.notRegex(renderReplay(redeemed), /NOT PROVEN/);

  const keyless = await replaySession(fx.log, fx.byKind('redeemed').sessionId);
  t.deepEqual(keyless.votes?.problems.map((p) => p.kind), ['vote_public_key_missing']);
  t.regex(renderReplay(keyless), /granted\s+\S+ \(before execution\)\s+alice@acme\.com.*NOT PROVEN \(vote_public_key_missing\)/);
  const heldKeyless = await replaySession(fx.log, fx.byKind('held').sessionId);
  t.is(heldKeyless.status, 'pending_approval', 'fail closed: an unchecked vote approves nothing');
});

test('votes: a chained but unsigned approval.granted is shown as the log holds it, marked NOT PROVEN; the CLI exits 1', async (t) => {
  const sessionId = randomUUID();
  const approvalId = randomUUID();
  await fx.log.append(sessionId, heldRequest(fx.gw.issuer, approvalId, 'f'.repeat(64)));
  await fx.log.append(sessionId, [{ type: 'approval.granted', data: { approvalId, approver: { issuer: fx.gw.issuer, subject: DBA, email: DBA }, comment: 'lgtm', quorumMet: true, state: 'approved' } }]);
  const r = await replaySession(fx.log, sessionId, { pem: DESK_PUBLIC_KEY });
  t.true(r.chain.verified, 'the chain holds: appended through the store');
  t.is(r.status, 'pending_approval');
  t.deepEqual(r.votes?.problems.map((p) => [p.kind, p.sessionId, p.seq]), [['vote_unsigned', sessionId, 3]]);
  const text = renderReplay(r);
  t.true(text.startsWith(`session ${sessionId}  ·  pending_approval`));
  t.regex(text, /granted\s+\S+\s+alice@acme\.com.*NOT PROVEN \(vote_unsigned\)/);

  const keyFile = join(mkdtempSync(join(tmpdir(), 'desk-')), 'desk.pem');
  writeFileSync(keyFile, DESK_PUBLIC_KEY);
  const forged = await runCli(['sessions', 'replay', sessionId, '--store', fx.gw.audit.url, '--vote-public-key', keyFile]);
  t.is(forged.code, 1);
  t.regex(forged.stdout, /NOT PROVEN \(vote_unsigned\)/);
  const genuine = await runCli(['sessions', 'replay', fx.byKind('redeemed').sessionId, '--store', fx.gw.audit.url, '--vote-public-key', keyFile]);
  t.is(genuine.code, 0, genuine.stderr);
  const unchecked = await runCli(['sessions', 'replay', fx.byKind('redeemed').sessionId, '--store', fx.gw.audit.url]);
  t.is(unchecked.code, 1, 'no desk key for a remote store: the votes are not proven');
  t.regex(unchecked.stdout, /vote_public_key_missing/);
});
