// evidence verify against every kind of tampering: each is caught and NAMED (the `kind` in the
// JSON), on a copy of one clean export of real sessions.
import { join } from 'node:path';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import pg from 'pg';
import { hashEvent } from '../../shared/audit/chain.ts';
import { exportEvidence } from '../../shared/evidence/export.ts';
import type { ProblemKind } from '../../shared/evidence/problems.ts';
import { verifyEvidence, type VerifyResult } from '../../shared/evidence/verify.ts';
import { startEvidenceFixture, type EvidenceFixture, DESK_PUBLIC_KEY } from './fixture.ts';
import { copyOf, editJson, readJsonl, runCli, writeJsonl } from './helpers.ts';

let fx: EvidenceFixture;
let root: string;
let clean: string;
test.before(async () => {
  fx = await startEvidenceFixture();
  root = mkdtempSync(join(tmpdir(), 'gatehouse-evidence-'));
  clean = join(root, 'export');
  await exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from: fx.from, to: fx.to, out: clean, source: 'test' });
});
test.after.always(async () => {
  await fx?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

const kinds = (r: VerifyResult) => [...new Set(r.problems.map((p) => p.kind))].sort();
function has(t: ExecutionContext, r: VerifyResult, kind: ProblemKind, where: { sessionId?: string; seq?: number; file?: string } = {}) {
  t.false(r.ok);
  const hit = r.problems.find((p) => p.kind === kind && Object.entries(where).every(([k, v]) => (p as any)[k] === v));
  t.truthy(hit, `expected ${kind} ${JSON.stringify(where)}, got ${JSON.stringify(r.problems, null, 1)}`);
  return hit!;
}
/** The events file of a copy, edited as a list of parsed lines. */
async function tamperEvents(t: ExecutionContext, edit: (events: any[]) => any[]): Promise<VerifyResult> {
  const dir = copyOf(t, clean);
  const path = join(dir, 'events.jsonl');
  writeJsonl(path, edit(readJsonl(path)));
  return verifyEvidence(dir);
}
const session = (kind: string) => fx.byKind(kind).sessionId;
const rehash = (e: any) => ({ ...e, hash: hashEvent({ sessionId: e.sessionId, seq: e.seq, type: e.type, at: e.at, data: e.data, prevHash: e.prevHash }) });

test('the clean export verifies with no problems', async (t) => {
  const r = await verifyEvidence(clean);
  t.true(r.ok, JSON.stringify(r.problems));
  t.deepEqual(r.problems, []);
  t.true(r.eventsPerSecond > 0);
});

test('modified: an event’s data changed, hash kept → event_modified at that seq', async (t) => {
  const sid = session('read');
  const r = await tamperEvents(t, (evs) => evs.map((e) => (e.sessionId === sid && e.seq === 4 ? { ...e, data: { ...e.data, rowCount: 0, rows: [] } } : e)));
  const p = has(t, r, 'event_modified', { sessionId: sid, seq: 4 });
  t.regex(p.message, /no longer matches its hash/);
  has(t, r, 'file_changed', { file: 'events.jsonl' });
});

test('modified and re-hashed: the next link no longer points at it → event_modified (replaced)', async (t) => {
  const sid = session('denied');
  const r = await tamperEvents(t, (evs) => evs.map((e) => (e.sessionId === sid && e.seq === 2 ? e : e.sessionId === sid && e.seq === 1 ? rehash({ ...e, data: { ...e.data, class: 'read' } }) : e)));
  const p = has(t, r, 'event_modified', { sessionId: sid, seq: 1 });
  t.regex(p.message, /replaced/);
});

test('the last event re-hashed: it no longer is the manifest’s chain head → head_mismatch', async (t) => {
  const sid = session('denied');
  const r = await tamperEvents(t, (evs) => evs.map((e) => (e.sessionId === sid && e.seq === 2 ? rehash({ ...e, data: { ...e.data, action: 'allow' } }) : e)));
  has(t, r, 'head_mismatch', { sessionId: sid, seq: 2 });
});

test('missing: an event deleted from the middle or the end → event_missing at that seq', async (t) => {
  const sid = session('read');
  const middle = await tamperEvents(t, (evs) => evs.filter((e) => !(e.sessionId === sid && e.seq === 2)));
  has(t, middle, 'event_missing', { sessionId: sid, seq: 2 });
  t.false(kinds(middle).includes('event_reordered'));
  const last = await tamperEvents(t, (evs) => evs.filter((e) => !(e.sessionId === sid && e.seq === 4)));
  has(t, last, 'event_missing', { sessionId: sid, seq: 4 });
});

test('missing: every event of a session deleted → session_missing', async (t) => {
  const sid = session('hostile');
  const r = await tamperEvents(t, (evs) => evs.filter((e) => e.sessionId !== sid));
  has(t, r, 'session_missing', { sessionId: sid });
});

test('reordered: two events of a session swapped → event_reordered, nothing missing or inserted', async (t) => {
  const sid = session('read');
  const r = await tamperEvents(t, (evs) => {
    const i = evs.findIndex((e) => e.sessionId === sid && e.seq === 1);
    [evs[i], evs[i + 1]] = [evs[i + 1], evs[i]];
    return evs;
  });
  has(t, r, 'event_reordered', { sessionId: sid, seq: 2 });
  t.deepEqual(kinds(r), ['event_reordered', 'file_changed']);
});

test('reordered: an event moved into another session’s block → event_reordered (outside its block)', async (t) => {
  const sid = session('read');
  const r = await tamperEvents(t, (evs) => {
    const i = evs.findIndex((e) => e.sessionId === sid && e.seq === 3);
    const [moved] = evs.splice(i, 1);
    evs.push(moved);
    return evs;
  });
  const p = has(t, r, 'event_reordered', { sessionId: sid, seq: 3 });
  t.regex(p.message, /outside its session's block/);
  t.false(kinds(r).includes('event_missing'));
});

test('inserted: a forged event with a taken seq, correctly hashed and linked → event_inserted', async (t) => {
  const sid = session('held');
  const r = await tamperEvents(t, (evs) => {
    const i = evs.findIndex((e) => e.sessionId === sid && e.seq === 4);
    const before = evs[i - 1];
    // A fake approval by someone else, chained onto event 3 exactly as the log would have.
    const forged = rehash({ ...evs[i], prevHash: before.hash, data: { ...evs[i].data, approver: { issuer: 'x', subject: 'mallory@acme.com', email: 'mallory@acme.com' }, comment: 'lgtm' } });
    evs.splice(i, 0, forged);
    return evs;
  });
  const p = has(t, r, 'event_inserted', { sessionId: sid, seq: 4 });
  t.regex(p.message, /second event 4/);
  t.false(kinds(r).includes('event_modified'), 'the genuine event 4 is recognised by the link to it');
});

test('inserted: a forged event after the head → event_inserted (beyond the exported head)', async (t) => {
  const sid = session('denied');
  const r = await tamperEvents(t, (evs) => {
    const i = evs.findIndex((e) => e.sessionId === sid && e.seq === 2);
    const head = evs[i];
    evs.splice(i + 1, 0, rehash({ sessionId: sid, seq: 3, type: 'execution.started', at: head.at, data: {}, prevHash: head.hash }));
    return evs;
  });
  const p = has(t, r, 'event_inserted', { sessionId: sid, seq: 3 });
  t.regex(p.message, /beyond its exported head/);
});

test('inserted: a whole session the manifest does not list → session_inserted', async (t) => {
  const r = await tamperEvents(t, (evs) => [...evs, rehash({ sessionId: 'ghost', seq: 0, type: 'request', at: evs[0].at, data: {}, prevHash: null })]);
  has(t, r, 'session_inserted', { sessionId: 'ghost' });
});

test('a line that is not an event → event_unreadable', async (t) => {
  const dir = copyOf(t, clean);
  writeFileSync(join(dir, 'events.jsonl'), `${readFileSync(join(dir, 'events.jsonl'), 'utf8')}{"not": "an event"}\n`);
  has(t, await verifyEvidence(dir), 'event_unreadable');
});

test('a file changed (population.csv) → file_changed; with the manifest digest updated too → derived_file_mismatch', async (t) => {
  const dir = copyOf(t, clean);
  const path = join(dir, 'population.csv');
  const edited = readFileSync(path, 'utf8').replace(',deny,', ',allow,');
  writeFileSync(path, edited);
  has(t, await verifyEvidence(dir), 'file_changed', { file: 'population.csv' });
  editJson(join(dir, 'manifest.json'), (m) => {
    m.files['population.csv'].sha256 = createHash('sha256').update(edited).digest('hex');
    m.files['population.csv'].bytes = Buffer.byteLength(edited);
  });
  const r = await verifyEvidence(dir);
  has(t, r, 'derived_file_mismatch', { file: 'population.csv' });
  t.false(kinds(r).includes('file_changed'));
});

test('a file deleted → file_missing', async (t) => {
  const dir = copyOf(t, clean);
  rmSync(join(dir, 'report.html'));
  has(t, await verifyEvidence(dir), 'file_missing', { file: 'report.html' });
});

test('manifest edited: a count → manifest_mismatch naming the field; the root → merkle_root_mismatch; a head → both', async (t) => {
  const counts = copyOf(t, clean);
  editJson(join(counts, 'manifest.json'), (m) => {
    m.counts.byDecision.deny -= 1;
    m.counts.byDecision.allow += 1;
  });
  const r1 = await verifyEvidence(counts);
  has(t, r1, 'manifest_mismatch');
  t.deepEqual(r1.problems.map((p) => p.field).sort(), ['counts.byDecision.allow', 'counts.byDecision.deny']);

  const root = copyOf(t, clean);
  editJson(join(root, 'manifest.json'), (m) => {
    m.merkle.root = '0'.repeat(64);
  });
  has(t, await verifyEvidence(root), 'merkle_root_mismatch');

  const head = copyOf(t, clean);
  const sid = session('read');
  editJson(join(head, 'manifest.json'), (m) => {
    m.chainHeads.find((h: any) => h.sessionId === sid).head = 'f'.repeat(64);
  });
  const r3 = await verifyEvidence(head);
  has(t, r3, 'merkle_root_mismatch');
  has(t, r3, 'head_mismatch', { sessionId: sid });
});

test('manifest that is not JSON, or not a manifest → manifest_unreadable / manifest_invalid', async (t) => {
  const a = copyOf(t, clean);
  writeFileSync(join(a, 'manifest.json'), '{"format": ');
  has(t, await verifyEvidence(a), 'manifest_unreadable');
  const b = copyOf(t, clean);
  editJson(join(b, 'manifest.json'), (m) => {
    m.files['../../etc/passwd'] = { sha256: '0'.repeat(64), bytes: 1 };
  });
  has(t, await verifyEvidence(b), 'manifest_invalid');
});

test('the CLI names what failed and exits non-zero; --json carries the kinds', async (t) => {
  const sid = session('read');
  const dir = copyOf(t, clean);
  const path = join(dir, 'events.jsonl');
  writeJsonl(path, readJsonl(path).filter((e) => !(e.sessionId === sid && e.seq === 2)));
  const text = await runCli(['evidence', 'verify', dir]);
  t.is(text.code, 1);
  t.regex(text.stderr, /^FAILED: /);
  t.regex(text.stderr, new RegExp(`\\[event_missing\\] events\\.jsonl  event 2 of session ${sid} is missing`));
  const json = await runCli(['evidence', 'verify', dir, '--json']);
  t.is(json.code, 1);
  const r = JSON.parse(json.stderr);
  t.false(r.ok);
  t.true(r.problems.some((p: any) => p.kind === 'event_missing' && p.sessionId === sid && p.seq === 2));
});

test('a store edited behind the log’s back: export reports the broken chain, and verify names the event', async (t) => {
  // A session of its own, after everything the clean export holds, so no other test sees it.
  const sid = `edited-${Date.now()}`;
  const [first] = await fx.log.append(sid, [{ type: 'request', data: { endpoint: 'query', principal: { issuer: 'x', subject: 'bot', groups: [] }, sql: 'SELECT 1' } }]);
  await fx.log.append(sid, [{ type: 'decision', data: { action: 'deny', rule: 'nothing-else', reasons: [], policySha256: 'p' } }]);
  const c = new pg.Client({ connectionString: fx.gw.audit.url });
  await c.connect();
  try {
    await c.query('BEGIN');
    // Superuser only: the create-only triggers do not fire in replica mode.
    await c.query('SET LOCAL session_replication_role = replica');
    await c.query(`UPDATE gatehouse_session_events SET data = '{"action":"allow","rule":"nothing-else","reasons":[],"policySha256":"p"}' WHERE session_id = $1 AND seq = 1`, [sid]);
    await c.query('COMMIT');
  } finally {
    await c.end();
  }
  const out = join(root, 'edited');
  const from = new Date(first!.at);
  const s = await exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from, to: new Date(from.getTime() + 1000), out, source: 'test' });
  t.is(s.sessions, 1);
  t.is(s.chainsBroken, 1);
  const verification = JSON.parse(readFileSync(join(out, 'verification.json'), 'utf8'));
  t.false(verification.ok);
  t.deepEqual(verification.broken[0], { sessionId: sid, problems: [{ kind: 'hash_mismatch', seq: 1 }] });
  const r = await verifyEvidence(out);
  has(t, r, 'event_modified', { sessionId: sid, seq: 1 });
});
