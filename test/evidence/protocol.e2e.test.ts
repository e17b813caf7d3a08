// Events appended out of the gateway's order (shared/audit/protocol.ts), with the log's INSERT
// right (the store's own append: indexed, chained, in the Merkle log): a committed write made to
// look rolled back, a denied DROP made to look run. Every view says `unknown` rather than what
// the last event claims; `sessions show` and `evidence verify` (both passes, and the CLI's exit
// status) name event_out_of_protocol; population.csv says `executed: unknown`.
import { join } from 'node:path';
import test from 'ava';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { verifyEvidence } from '../../shared/evidence/verify.ts';
import { listSessions, showSession } from '../../shared/cli/sessions.ts';
import { replayCommand } from '../../shared/cli/replay.ts';
import { DESK_PUBLIC_KEY, startEvidenceFixture, type EvidenceFixture } from './fixture.ts';
import { readJsonl, runCli, tempDir } from './helpers.ts';
import { readFileSync } from 'node:fs';

let fx: EvidenceFixture;
test.before(async () => {
  fx = await startEvidenceFixture();
});
test.after.always(async () => {
  await fx?.close();
});

const desk = { pem: DESK_PUBLIC_KEY };

async function views(sessionId: string) {
  const api = await fx.gw.get(`/v1/sessions/${sessionId}`, { authorization: `Bearer ${await fx.gw.token('auditor@acme.com', { groups: ['auditors'] })}` });
  const show = await showSession(fx.log, sessionId, true, undefined, desk);
  const listed = JSON.parse((await listSessions(fx.log, { limit: 1000 }, true, desk)).text) as { sessionId: string; status: string }[];
  return { api: api.body.status as string, apiStatus: api.status, show: JSON.parse(show.text), ok: show.ok, list: listed.find((s) => s.sessionId === sessionId)?.status };
}

async function exported(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const out = join(tempDir(t), 'export');
  await exportEvidence(fx.log, { from: fx.from, to: new Date(Date.now() + 1000), out, source: 'test', votePublicKeyPem: DESK_PUBLIC_KEY });
  return out;
}

function populationRow(dir: string, sessionId: string): Record<string, string> {
  const [header, ...rows] = readFileSync(join(dir, 'population.csv'), 'utf8').trim().split('\n');
  const names = header!.split(',');
  const row = rows.find((r) => r.includes(sessionId))!;
  return Object.fromEntries(row.split(',').map((v, i) => [names[i]!, v]));
}

test.serial('before anything is appended, the committed write and the denied DROP verify and show as they happened', async (t) => {
  const write = await views(fx.byKind('dba-write').sessionId);
  t.deepEqual([write.api, write.show.status, write.list], ['committed', 'committed', 'committed']);
  t.true(write.ok);
  t.is(write.show.outOfProtocol, undefined);
  const denied = await views(fx.byKind('denied').sessionId);
  t.deepEqual([denied.api, denied.show.status, denied.list], ['denied', 'denied', 'denied']);
  const r = await verifyEvidence(await exported(t), { votePublicKey: undefined });
  t.deepEqual(r.problems.filter((p) => p.kind === 'event_out_of_protocol'), []);
});

test.serial('a legacy session whose COMMIT failed after its completion (execution.completed, then execution.failed, as cb5431a … 05d6b7a wrote it) is in order: failed everywhere, verify names nothing', async (t) => {
  // Written before the outcome protocol, in the order those versions wrote: completed before
  // COMMIT, failed once COMMIT failed ("the log says so after it").
  const sessionId = `legacy-commit-failed-${Date.now()}`;
  await fx.log.append(sessionId, [
    { type: 'request', data: { endpoint: 'query', principal: { issuer: 'https://issuer.example', subject: 'alice@acme.com' }, connection: 'main', sql: 'UPDATE notes SET body = $1', params: ['x'] } },
    { type: 'analysis', data: { kind: 'update', class: 'write', reasons: [], tables: { read: [], written: ['public.notes'] } } },
    { type: 'decision', data: { action: 'allow', rule: 'dba-everything', reasons: [] } },
    { type: 'execution.started', data: { connection: 'main', readOnly: false, maxRows: 1000, statementTimeoutMs: 30000 } },
    { type: 'execution.completed', data: { command: 'UPDATE', rowCount: 2, columns: [], rows: [] } },
    { type: 'execution.failed', data: { error: { code: 'database_unavailable', message: 'the connection failed during COMMIT' } } },
  ]);
  const v = await views(sessionId);
  t.deepEqual([v.api, v.show.status, v.list], ['failed', 'failed', 'failed']);
  t.true(v.ok);
  t.is(v.show.outOfProtocol, undefined);
  const dir = await exported(t);
  t.is(populationRow(dir, sessionId).executed, 'no');
  for (const fullPass of [false, true]) {
    const r = await verifyEvidence(dir, { fullPass });
    t.deepEqual(r.problems.filter((p) => p.sessionId === sessionId || p.kind === 'event_out_of_protocol'), [], `fullPass ${fullPass}`);
  }
});

test.serial('a rolled_back appended after a committed write: unknown everywhere, named by show and verify, executed unknown', async (t) => {
  const { sessionId } = fx.byKind('dba-write');
  await fx.log.append(sessionId, [{ type: 'execution.rolled_back', data: { error: { code: 'commit_failed', message: 'the write was rolled back' } } }]);
  const v = await views(sessionId);
  t.is(v.apiStatus, 200);
  t.deepEqual([v.api, v.show.status, v.list], ['unknown', 'unknown', 'unknown'], 'not rolled_back, which the appended event claims');
  t.false(v.ok);
  t.deepEqual(v.show.problems, [], 'the chain itself holds');
  t.like(v.show.outOfProtocol, { seq: 6, type: 'execution.rolled_back' });
  const text = await showSession(fx.log, sessionId, false, undefined, desk);
  t.regex(text.text, /^order {4}OUT OF PROTOCOL \(event_out_of_protocol\): event 6 \(execution\.rolled_back\) cannot follow execution\.committed/m);

  const replayed = await replayCommand(fx.log, sessionId, false, desk);
  t.false(replayed.ok, 'replay exits 1');
  t.regex(replayed.text, /^session \S+ {2}· {2}unknown$/m);
  t.regex(replayed.text, /^order {3}OUT OF PROTOCOL \(event_out_of_protocol\): event 6 \(execution\.rolled_back\)/m);

  const dir = await exported(t);
  t.is(populationRow(dir, sessionId).executed, 'unknown');
  t.is(readJsonl(join(dir, 'sessions.jsonl')).find((s) => s.sessionId === sessionId).status, 'unknown');
  for (const fullPass of [false, true]) {
    const r = await verifyEvidence(dir, { fullPass });
    t.false(r.ok, `fullPass ${fullPass}`);
    const found = r.problems.filter((p) => p.kind === 'event_out_of_protocol');
    t.is(found.length, 1, `fullPass ${fullPass}`);
    t.like(found[0], { sessionId, seq: 6, file: 'events.jsonl' });
  }
  const cli = await runCli(['evidence', 'verify', dir, '--json']);
  t.is(cli.code, 1);
  t.true(JSON.parse(cli.stdout || cli.stderr).problems.some((p: { kind: string }) => p.kind === 'event_out_of_protocol'));
});

test.serial('an execution appended to a denied DROP (started, result, committed): unknown, never committed', async (t) => {
  const { sessionId } = fx.byKind('denied');
  await fx.log.append(sessionId, [
    { type: 'execution.started', data: { connection: 'main', readOnly: false, maxRows: 1000, statementTimeoutMs: 30000 } },
    { type: 'execution.result', data: { command: 'DROP', rowCount: null, columns: [], rows: [] } },
    { type: 'execution.committed', data: {} },
  ]);
  const v = await views(sessionId);
  t.deepEqual([v.api, v.show.status, v.list], ['unknown', 'unknown', 'unknown']);
  t.like(v.show.outOfProtocol, { seq: 3, type: 'execution.started' });
  const dir = await exported(t);
  t.is(populationRow(dir, sessionId).executed, 'unknown');
  const r = await verifyEvidence(dir);
  t.true(r.problems.some((p) => p.kind === 'event_out_of_protocol' && p.sessionId === sessionId && p.seq === 3));
});

test.serial('an abandoned (rolled_back) appended to a read the gateway answered: unknown, never "the rows were not read"', async (t) => {
  // Reconciliation never closes a read's result (reconcile.ts judge): only the log's INSERT right writes this.
  const { sessionId } = fx.byKind('read');
  const before = await views(sessionId);
  t.deepEqual([before.api, before.show.status, before.list], ['result', 'result', 'result']);
  await fx.log.append(sessionId, [
    { type: 'execution.abandoned', data: { outcome: 'rolled_back', basis: 'target_transaction_status', lastEvent: 'execution.result', readOnly: true, reconciledBy: 'cli' } },
  ]);
  const v = await views(sessionId);
  t.deepEqual([v.api, v.show.status, v.list], ['unknown', 'unknown', 'unknown'], 'not rolled_back, which the appended event claims');
  t.like(v.show.outOfProtocol, { type: 'execution.abandoned' });
  const dir = await exported(t);
  t.is(populationRow(dir, sessionId).executed, 'unknown');
  const r = await verifyEvidence(dir);
  t.true(r.problems.some((p) => p.kind === 'event_out_of_protocol' && p.sessionId === sessionId));
});

test.serial('an abandoned (committed) appended to a write that never produced a result: unknown, never committed', async (t) => {
  // Reconciliation closes a session left at execution.started only as rolled_back (reconcile.ts judge).
  const sessionId = `never-ran-${Date.now()}`;
  await fx.log.append(sessionId, [
    { type: 'request', data: { endpoint: 'query', principal: { issuer: 'https://issuer.example', subject: 'alice@acme.com' }, connection: 'main', sql: 'DELETE FROM orders', params: [] } },
    { type: 'analysis', data: { kind: 'delete', class: 'write', reasons: [] } },
    { type: 'decision', data: { action: 'allow', rule: 'dba-everything', reasons: [] } },
    { type: 'execution.started', data: { connection: 'main', readOnly: false, maxRows: 1000, statementTimeoutMs: 30000 } },
  ]);
  await fx.log.append(sessionId, [
    { type: 'execution.abandoned', data: { outcome: 'committed', basis: 'target_transaction_status', lastEvent: 'execution.started', readOnly: false, reconciledBy: 'cli' } },
  ]);
  const v = await views(sessionId);
  t.deepEqual([v.api, v.show.status, v.list], ['unknown', 'unknown', 'unknown']);
  t.like(v.show.outOfProtocol, { seq: 4, type: 'execution.abandoned' });
  const dir = await exported(t);
  t.is(populationRow(dir, sessionId).executed, 'unknown');
});
