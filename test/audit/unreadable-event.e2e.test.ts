// An event whose stored data is not JSON, appended with nothing but the session log's INSERT right
// (the append function the query path itself calls). Before, every reader of that session parsed
// it with a bare JSON.parse: `sessions list` died with a SyntaxError for everyone, `sessions show`
// and GET /v1/sessions/:id reported an outage (audit_unavailable, 503), and every evidence export
// failed. Now it is read as an `unreadable` event (shared/audit/stored-data.ts): the session is
// `unknown` and named broken, its stored text is never echoed, and everything else reads as before.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import pg from 'pg';
import { listSessions, showSession } from '../../shared/cli/sessions.ts';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { verifyEvidence } from '../../shared/evidence/verify.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

const SECRETISH = 'sk_live_0123456789abcdefSECRET';
let gw: TestGateway;
let audit: pg.Pool;
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-unreadable-'));
test.before(async () => {
  gw = await startTestGateway({ seedSql: 'CREATE TABLE runs (tag text NOT NULL)' });
  audit = new pg.Pool({ connectionString: gw.audit.url, max: 2 });
});
test.after.always(async () => {
  await audit?.end();
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
});

const auditor = async () => ({ authorization: `Bearer ${await gw.token('carol@acme.com', { groups: ['auditors'] })}` });

async function session(sql: string): Promise<string> {
  const r = await gw.post('/v1/query', { connection: 'main', sql }, { authorization: `Bearer ${await gw.token('alice@acme.com', { groups: ['dba'] })}`, 'x-agent-model': 'test-model' });
  if (r.status !== 200) throw new Error(`${sql}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.sessionId as string;
}

/** Appends one event with this stored data text, by the log's INSERT right alone. */
async function plant(sessionId: string, type: string, data: string): Promise<void> {
  const { rows } = await audit.query('SELECT seq, hash FROM gatehouse_session_events WHERE session_id = $1 ORDER BY seq DESC LIMIT 1', [sessionId]);
  await audit.query('SELECT gatehouse_append_events($1, $2, $3, $4, $5, $6, $7, false, NULL, NULL, NULL, NULL, NULL)', [
    sessionId, [rows[0].seq + 1], [type], [new Date().toISOString()], [data], [rows[0].hash], ['e'.repeat(64)],
  ]);
}

for (const [label, type, data] of [
  ['text that is not JSON, claiming a commit', 'execution.committed', `{"note":"${SECRETISH}"`],
  ['an empty text, claiming a rollback', 'execution.rolled_back', ''],
  ['NaN, claiming a grant', 'approval.granted', 'NaN'],
] as const) {
  test.serial(`an event stored as ${label}: listed, shown, served and exported as unknown and broken, its text never echoed`, async (t) => {
    const poisoned = await session(`SELECT 1 AS poisoned_${type.replace(/\W/g, '_')}`);
    const genuine = await session('SELECT 2 AS genuine');
    const before = JSON.parse((await listSessions(gw.runtime.sessions, { limit: 1000 }, true)).text) as { sessionId: string; status: string }[];
    const statusBefore = before.find((s) => s.sessionId === genuine)!.status;
    t.not(statusBefore, 'unknown');
    await plant(poisoned, type, data);

    // sessions list: every session, the poisoned one unknown, the genuine one as it was.
    const listed = JSON.parse((await listSessions(gw.runtime.sessions, { limit: 1000 }, true)).text) as { sessionId: string; status: string }[];
    t.is(listed.find((s) => s.sessionId === poisoned)?.status, 'unknown');
    t.is(listed.find((s) => s.sessionId === genuine)?.status, statusBefore);

    // sessions show: not verified, the event named as unreadable, never as what its type claims.
    const shown = await showSession(gw.runtime.sessions, poisoned, false);
    t.false(shown.ok);
    t.regex(shown.text, /status +unknown/);
    t.regex(shown.text, /chain +BROKEN/);
    t.regex(shown.text, new RegExp(`unreadable[\\s\\S]*storedType: ${type.replace('.', '\\.')}`));
    t.false(shown.text.includes(SECRETISH));

    // GET /v1/sessions/:id: an answer, not an outage.
    const served = await gw.get(`/v1/sessions/${poisoned}`, await auditor());
    t.is(served.status, 200, JSON.stringify(served.body));
    t.is(served.body.status, 'unknown');
    t.is(served.body.events.at(-1).type, 'unreadable');
    t.false(JSON.stringify(served.body).includes(SECRETISH));

    // Evidence: the export is written (with the genuine session), and verify names the event.
    const out = join(dir, `export-${type}`);
    const from = new Date(Date.now() - 3_600_000);
    const exported = await exportEvidence(gw.runtime.sessions, { from, to: new Date(Date.now() + 60_000), out, source: 'test' });
    t.true(exported.sessions >= 2);
    const events = readFileSync(join(out, 'events.jsonl'), 'utf8');
    t.true(events.includes(genuine));
    t.false(events.includes(SECRETISH));
    const verified = await verifyEvidence(out, {});
    t.false(verified.ok);
    t.true(verified.problems.some((p) => p.sessionId === poisoned), JSON.stringify(verified.problems.map((p) => [p.kind, p.sessionId])));
    t.false(verified.problems.some((p) => p.sessionId === genuine));
  });
}

// `at` is a timestamptz, and PostgreSQL takes 'infinity' and '-infinity' there: the INSERT right
// alone stores one. Such a time has no ISO-8601 text (the adapter's to_char gives NULL), and the
// event used to be handed to every reader with `at: null` — exported as a line evidence verify
// could not read as an event (event_unreadable, the session's chain then `event_missing`). It is
// now read as an `unreadable` event naming its at, like stored data that is not JSON.
for (const at of ['infinity', '-infinity']) {
  test.serial(`an event stored at ${at}: read as unreadable, listed, shown, served and exported; verify names its session, and only its`, async (t) => {
    const poisoned = await session(`SELECT 3 AS at_${at.replace('-', 'minus_')}`);
    const genuine = await session('SELECT 4 AS genuine');
    const { rows } = await audit.query('SELECT seq, hash FROM gatehouse_session_events WHERE session_id = $1 ORDER BY seq DESC LIMIT 1', [poisoned]);
    await audit.query('SELECT gatehouse_append_events($1, $2, $3, $4, $5, $6, $7, false, NULL, NULL, NULL, NULL, NULL)', [
      poisoned, [rows[0].seq + 1], ['execution.committed'], [at], ['{}'], [rows[0].hash], ['e'.repeat(64)],
    ]);

    const read = await gw.runtime.sessions.read(poisoned);
    t.like(read.at(-1), { type: 'unreadable', at: '', data: { storedType: 'execution.committed' } });
    t.regex(String(read.at(-1)!.data.reason), /at/);
    const listed = await gw.runtime.sessions.list({ limit: 1000 });
    t.like(listed.find((s) => s.sessionId === poisoned), { status: 'unknown', lastAt: '' });
    const shown = await showSession(gw.runtime.sessions, poisoned, false);
    t.false(shown.ok);
    const served = await gw.get(`/v1/sessions/${poisoned}`, await auditor());
    t.is(served.status, 200);
    t.is(served.body.status, 'unknown');

    const out = join(dir, `export-at-${at}`);
    await exportEvidence(gw.runtime.sessions, { from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 60_000), out, source: 'test' });
    const verified = await verifyEvidence(out, {});
    t.false(verified.ok);
    t.false(verified.problems.some((p) => p.kind === 'event_unreadable'), JSON.stringify(verified.problems.slice(0, 3)));
    t.true(verified.problems.some((p) => p.sessionId === poisoned && p.kind === 'event_modified'), JSON.stringify(verified.problems.map((p) => [p.kind, p.sessionId])));
    t.false(verified.problems.some((p) => p.sessionId === genuine));
  });
}
