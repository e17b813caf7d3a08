// sessions replay: a session as it happened, from the store, through the same readers as the
// export — including approvals decided in another session and masking decisions.
import test from 'ava';
import { renderReplay, replaySession } from '../../shared/cli/replay.ts';
import { safe } from '../../shared/cli/format.ts';
import { DBA, startEvidenceFixture, type EvidenceFixture } from './fixture.ts';
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
