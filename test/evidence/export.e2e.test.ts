// evidence export end to end: sessions made through the gateway against real PostgreSQL, exported
// in-process and through the CLI, and checked file by file.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { readCsv } from '../../shared/evidence/csv.ts';
import { exportEvidence } from '../../shared/evidence/export.ts';
import { POPULATION_COLUMNS } from '../../shared/evidence/population.ts';
import { verifyEvidence } from '../../shared/evidence/verify.ts';
import { DBA, FORMULA_MODEL, FORMULA_SQL, HOSTILE_SQL, RAW_EMAIL, startEvidenceFixture, type EvidenceFixture, DESK_PUBLIC_KEY } from './fixture.ts';
import { readJsonl, runCli, tempDir } from './helpers.ts';

let fx: EvidenceFixture;
test.before(async () => {
  fx = await startEvidenceFixture();
});
test.after.always(async () => {
  await fx?.close();
});

async function exportTo(t: Parameters<typeof tempDir>[0], options: { pageSize?: number; readConcurrency?: number } = {}) {
  const out = join(tempDir(t), 'export');
  const summary = await exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from: fx.from, to: fx.to, out, source: 'test store', ...options });
  return { out, summary };
}

async function csvRows(path: string): Promise<string[][]> {
  const rows: string[][] = [];
  for await (const r of readCsv(createReadStream(path, { encoding: 'utf8' }))) rows.push(r);
  return rows;
}

test('a clean export has every file of docs/design.md#evidence, digests that match, and verifies', async (t) => {
  const { out, summary } = await exportTo(t);
  t.deepEqual(readdirSync(out).sort(), ['approvals.jsonl', 'events.jsonl', 'leaves.jsonl', 'manifest.json', 'population.csv', 'report.html', 'sessions.jsonl', 'verification.json']);
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  for (const [name, entry] of Object.entries<any>(manifest.files)) {
    t.is(createHash('sha256').update(readFileSync(join(out, name))).digest('hex'), entry.sha256, name);
  }
  t.is(summary.sessions, fx.made.length);
  t.is(manifest.counts.sessions, fx.made.length);
  t.is(manifest.chainHeads.length, fx.made.length);
  t.deepEqual(new Set(manifest.chainHeads.map((h: any) => h.sessionId)), new Set(fx.made.map((m) => m.sessionId)));
  t.is(manifest.merkle.root, summary.merkleRoot);
  t.is(manifest.policyVersions.length, 1);
  t.is(manifest.policyVersions[0].sha256, fx.gw.runtime.policy.sha256);
  t.is(manifest.counts.byDecision.deny, 2, 'DROP TABLE and the refused model');
  t.is(manifest.counts.byRiskClass.destructive, 1);
  t.is(manifest.counts.rejectedRequests, 2, 'unparsable SQL and malformed JSON');
  t.is(manifest.counts.approvalsGranted, 1);
  t.is(manifest.counts.changesExecutedWithApproval, 1);
  t.is(manifest.counts.approvalsAfterExecution, 0);
  t.is(manifest.counts.maskedStatements, 2, 'the real PII read and the appended one');
  const verification = JSON.parse(readFileSync(join(out, 'verification.json'), 'utf8'));
  t.true(verification.ok);
  t.is(verification.chainsVerified, fx.made.length);

  const v = await verifyEvidence(out);
  t.true(v.ok, JSON.stringify(v.problems));
  t.is(v.checked.events, manifest.counts.events);
});

test('events.jsonl holds every event of every session, exactly as the log has them, in listing order', async (t) => {
  const { out } = await exportTo(t);
  const lines = readJsonl(join(out, 'events.jsonl'));
  const sessions = readJsonl(join(out, 'sessions.jsonl'));
  t.deepEqual(
    sessions.map((s) => s.sessionId),
    [...sessions].sort((a, b) => (a.startedAt === b.startedAt ? (a.sessionId < b.sessionId ? -1 : 1) : a.startedAt < b.startedAt ? -1 : 1)).map((s) => s.sessionId),
  );
  for (const m of fx.made) {
    const stored = await fx.log.read(m.sessionId);
    t.deepEqual(lines.filter((e) => e.sessionId === m.sessionId), JSON.parse(JSON.stringify(stored)), m.kind);
  }
});

test('population.csv: one row per statement with the auditor’s columns, proper quoting, formulas neutralised', async (t) => {
  const { out } = await exportTo(t);
  const [header, ...rows] = await csvRows(join(out, 'population.csv'));
  t.deepEqual(header, [...POPULATION_COLUMNS]);
  t.is(rows.length, fx.made.length);
  const row = (kind: string) => {
    const r = rows.find((x) => x[1] === fx.byKind(kind).sessionId)!;
    return Object.fromEntries(POPULATION_COLUMNS.map((c, i) => [c, r[i]]));
  };
  const read = row('read');
  t.is(read.principal, 'review-bot@acme-prod.iam.gserviceaccount.com');
  t.is(read.groups, 'review-bots');
  t.is(read.agent_model, 'gemini-2.5-pro-002');
  t.is(read.risk_class, 'read');
  t.is(read.decision, 'allow');
  t.is(read.rule, 'bots-read');
  t.is(read.executed, 'yes');
  t.is(read.row_count, '3');
  t.is(read.agent_run_id, 'run-42');
  t.is(row('denied').executed, 'no');
  t.is(row('denied').risk_class, 'destructive');
  t.is(row('unparsable').error_code, 'sql_unparsable');
  t.is(row('hostile').sql, HOSTILE_SQL, 'commas and quotes survive quoting');
  t.is(row('formula').sql, `'${FORMULA_SQL}`, 'a cell starting with - gets a quote');
  t.is(row('model-refused').agent_model, `'${FORMULA_MODEL}`);
  t.is(row('model-refused').rule, 'agents.allowedModels');
  t.is(row('redeemed').approvers, DBA, 'the approved write names its approver');
  t.is(row('redeemed').executed, 'yes');
  t.is(row('dba-write').approvers, '', 'a write allowed by rule has no approver');
  t.is(row('masked').masked_columns, 'email (email)');
  t.is(row('pii-read').masked_columns, 'email (email)', 'masked by the real masking step');
  // Raw bytes: the file never holds a cell that starts a formula.
  const raw = readFileSync(join(out, 'population.csv'), 'utf8');
  t.false(/(^|,)[=+@]/m.test(raw));
  t.true(raw.includes('\r\n'));
});

test('approvals.jsonl: who approved what, when, with what comment, before it ran', async (t) => {
  const { out } = await exportTo(t);
  const approvals = readJsonl(join(out, 'approvals.jsonl'));
  const held = fx.byKind('held').sessionId;
  t.deepEqual(approvals.map((a) => a.event), ['approval.requested', 'approval.granted']);
  const granted = approvals.find((a) => a.event === 'approval.granted');
  t.is(granted.sessionId, held);
  t.is(granted.approver.email, DBA);
  t.is(granted.comment, 'checked the WHERE clause: one row');
  t.is(granted.sql, 'UPDATE orders SET total = total + 1 WHERE id = $1');
  const events = readJsonl(join(out, 'events.jsonl'));
  t.is(events.find((e) => e.sessionId === held && e.seq === granted.seq).hash, granted.hash, 'each line points at its event');
});

test('paging: a tiny page size and one read at a time give the same export, byte for byte', async (t) => {
  const a = await exportTo(t);
  const b = await exportTo(t, { pageSize: 2, readConcurrency: 1 });
  t.is(b.summary.merkleRoot, a.summary.merkleRoot);
  for (const name of ['events.jsonl', 'sessions.jsonl', 'population.csv', 'approvals.jsonl']) {
    t.is(b.summary.files[name]!.sha256, a.summary.files[name]!.sha256, name);
  }
});

test('a range selects by start time, [from, to)', async (t) => {
  const order = readJsonl(join((await exportTo(t)).out, 'sessions.jsonl'));
  const from = new Date(order[2].startedAt);
  const to = new Date(order[5].startedAt);
  const out = join(tempDir(t), 'part');
  const s = await exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from, to, out, source: 'test' });
  t.deepEqual(readJsonl(join(out, 'sessions.jsonl')).map((x) => x.sessionId), order.slice(2, 5).map((x) => x.sessionId));
  t.is(s.sessions, 3);
  t.true((await verifyEvidence(out)).ok);
});

test('an empty range still makes a folder that verifies', async (t) => {
  const out = join(tempDir(t), 'empty');
  const s = await exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from: new Date('2001-01-01'), to: new Date('2001-02-01'), out, source: 'test' });
  t.is(s.sessions, 0);
  t.is(s.merkleRoot, createHash('sha256').digest('hex'));
  t.true((await verifyEvidence(out)).ok);
  t.is(readFileSync(join(out, 'approvals.jsonl'), 'utf8'), '');
});

test('export refuses a folder with something in it, and leaves no partial folder behind', async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'busy');
  mkdirSync(out);
  writeFileSync(join(out, 'keep.txt'), 'mine');
  await t.throwsAsync(exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from: fx.from, to: fx.to, out, source: 'test' }), { instanceOf: TypeError, message: /not empty/ });
  t.deepEqual(readdirSync(out), ['keep.txt']);
  await t.throwsAsync(exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from: fx.to, to: fx.from, out: join(dir, 'x'), source: 'test' }), { message: /before/ });
  // A store that fails half way: nothing that looks like a finished export remains.
  const failing = { list: fx.log.list.bind(fx.log), read: async () => Promise.reject(new Error('store went away')) };
  await t.throwsAsync(exportEvidence(failing, { from: fx.from, to: fx.to, out: join(dir, 'broken'), source: 'test' }), { message: /store went away/ });
  t.deepEqual(readdirSync(dir).sort(), ['busy']);
});

test('the CLI: evidence export --store … --json, then evidence verify, exit 0', async (t) => {
  const out = join(tempDir(t), 'cli');
  const deskKey = join(tempDir(t), 'desk-public-key.pem');
  writeFileSync(deskKey, DESK_PUBLIC_KEY);
  const r = await runCli(['evidence', 'export', '--store', fx.gw.audit.url, '--from', fx.from.toISOString(), '--to', fx.to.toISOString(), '--out', out, '--json', '--vote-public-key', deskKey]);
  t.is(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  t.is(summary.sessions, fx.made.length);
  t.is(r.stderr, '', 'no progress bar off a terminal');
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  t.regex(manifest.source, /^PostgreSQL session store postgres:\/\/127\.0\.0\.1/);
  t.false(manifest.source.includes('@'), 'no user or password in the manifest');
  const v = await runCli(['evidence', 'verify', out]);
  t.is(v.code, 0, v.stderr);
  t.regex(v.stdout, /^OK: .* verifies/);
  t.true(v.stdout.includes(summary.merkleRoot));
  const again = await runCli(['evidence', 'export', '--store', fx.gw.audit.url, '--from', fx.from.toISOString(), '--to', fx.to.toISOString(), '--out', out]);
  t.is(again.code, 1);
  t.regex(again.stderr, /not empty/);
  t.true(existsSync(join(out, 'manifest.json')));
});

test('no file of the export holds a raw value that masking hid', async (t) => {
  const { out } = await exportTo(t);
  for (const name of readdirSync(out)) t.false(readFileSync(join(out, name), 'utf8').includes(RAW_EMAIL), name);
  const pii = readJsonl(join(out, 'events.jsonl')).filter((e) => e.sessionId === fx.byKind('pii-read').sessionId);
  const done = pii.find((e) => e.type === 'execution.result');
  t.deepEqual(done.data.rows, [['Ada', '***@example.com'], ['Grace', '***@example.com']]);
  t.regex(done.data.rawHmacSha256, /^[0-9a-f]{64}$/);
});
