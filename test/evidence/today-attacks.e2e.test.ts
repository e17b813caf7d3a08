// Attack review of today's changes to `evidence verify` (issue 14): chunk memory used again
// (chunk-pool.ts), events without a log index (verify-log.ts onEvent, clean-pass/events.ts),
// export_reported_problems and vote_repeated. Each case edits a real export of the fixture the way
// a writer regenerating the folder would (events re-chained and re-hashed, the manifest's chain
// heads, Merkle root and digests made to fit), and holds both passes — with and without worker
// threads — to the same answer.
import { createHash, randomInt, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import pg from 'pg';
import { createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import { chainEvents, hashEvent } from '../../shared/audit/chain.ts';
import type { EventDraft } from '../../shared/audit/events.ts';
import { cleanPass } from '../../shared/evidence/clean-pass/index.ts';
import { exportEvidence } from '../../shared/evidence/export.ts';
import type { Manifest } from '../../shared/evidence/manifest.ts';
import { MERKLE_DEFINITION, merkleLeaf, merkleRoot } from '../../shared/evidence/merkle.ts';
import { sessionsOutsideRange } from '../../shared/evidence/range-check.ts';
import { writeReport } from '../../shared/evidence/report/html.ts';
import { soc2Criteria } from '../../shared/evidence/report/soc2.ts';
import { checkpointOnce } from '../../shared/transparency/checkpointer.ts';
import { localCheckpointing } from '../../shared/transparency/local.ts';
import { createTestDatabase } from '../helpers/pg.ts';
import { inThread, workerPool } from '../../shared/evidence/verify-pool.ts';
import { verifyEvidence, type VerifyResult } from '../../shared/evidence/verify.ts';
import { DBA, DESK_PUBLIC_KEY, startEvidenceFixture, type EvidenceFixture } from './fixture.ts';
import { copyOf, editJson, tempDir } from './helpers.ts';
import { heldRequest, signedGrant, voteSignature } from './signed-votes.ts';

let fx: EvidenceFixture;
let root: string;
let clean: string;
test.before(async () => {
  fx = await startEvidenceFixture();
  root = mkdtempSync(join(tmpdir(), 'gatehouse-today-attacks-'));
  clean = join(root, 'export');
  await exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from: fx.from, to: fx.to, out: clean, source: 'test' });
});
test.after.always(async () => {
  await fx?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

type Ev = Record<string, any>;
const kinds = (r: VerifyResult) => r.problems.map((p) => p.kind);
const answer = (r: VerifyResult) => ({ ...r, durationMs: 0, eventsPerSecond: 0, pass: undefined });
const readManifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
const readEvents = (dir: string): Ev[] => readFileSync(join(dir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

function fixDigest(dir: string, file: string): void {
  editJson(join(dir, 'manifest.json'), (m) => {
    const bytes = readFileSync(join(dir, file));
    m.files[file] = { ...m.files[file], sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
  });
}

/**
 * events.jsonl rewritten as `lines`, and everything a writer regenerating the folder would make
 * fit from them: each session's chain head and count, the Merkle root (manifest and
 * verification.json), the digests. Derived files are left as they were.
 */
function regenerate(dir: string, lines: readonly Ev[]): void {
  writeFileSync(join(dir, 'events.jsonl'), lines.map((e) => `${JSON.stringify(e)}\n`).join(''));
  const last = new Map<string, Ev>();
  const count = new Map<string, number>();
  for (const e of lines) {
    if (!last.has(e.sessionId) || e.seq > last.get(e.sessionId)!.seq) last.set(e.sessionId, e);
    count.set(e.sessionId, (count.get(e.sessionId) ?? 0) + 1);
  }
  let rootHash = '';
  editJson(join(dir, 'manifest.json'), (m) => {
    const known = new Set(m.chainHeads.map((h: { sessionId: string }) => h.sessionId));
    for (const id of last.keys()) {
      if (!known.has(id)) m.chainHeads.push({ sessionId: id, startedAt: lines.find((e) => e.sessionId === id && e.seq === 0)!.at, events: 0, head: '' });
    }
    for (const h of m.chainHeads) {
      h.head = last.get(h.sessionId)!.hash;
      h.events = count.get(h.sessionId)!;
    }
    m.merkle.leaves = m.chainHeads.length;
    m.merkle.root = rootHash = merkleRoot(m.chainHeads.map((h: { sessionId: string; head: string }) => merkleLeaf(h.sessionId, h.head)));
  });
  editJson(join(dir, 'verification.json'), (v) => (v.merkleRoot = rootHash));
  fixDigest(dir, 'events.jsonl');
  fixDigest(dir, 'verification.json');
}

/**
 * report.html written again from the folder as it now is (what verify re-derives it from: the
 * events, verification.json and the manifest), its digest fixed — the last step of a writer who
 * regenerates the folder, so only the deeper checks can tell.
 */
async function rewriteReport(dir: string): Promise<void> {
  const manifest = readManifest(dir);
  const r = await cleanPass({ dir, manifest, runner: inThread(), section: manifest.log ?? undefined, checkpoints: [], votePublicKeyPem: manifest.votes?.publicKeyPem });
  if (!r) throw new Error('rewriteReport: the folder is not clean enough to derive a report from');
  const verification = JSON.parse(readFileSync(join(dir, 'verification.json'), 'utf8'));
  let html = '';
  await writeReport(
    { write: async (text: string) => void (html += text) },
    {
      generatedAt: manifest.generatedAt,
      source: manifest.source,
      range: manifest.range,
      merkleRoot: manifest.merkle.root,
      merkleDefinition: MERKLE_DEFINITION,
      counts: r.derived.counts,
      policyVersions: r.derived.policyVersions,
      verification,
      soc2: soc2Criteria(r.derived.counts, r.derived.policyVersions, verification.ok === true),
      report: { sessionsEmbedded: manifest.report.sessionsEmbedded, sessionsTotal: manifest.report.sessionsTotal, note: manifest.report.note },
    } as Parameters<typeof writeReport>[1],
    r.derived.reportSessions.entries(),
  );
  writeFileSync(join(dir, 'report.html'), html);
  fixDigest(dir, 'report.html');
}

/** An event chained after `prev` (same session), hashed; `index` as given (absent: none). */
function chained(prev: Ev, over: Ev = {}): Ev {
  const { hash: _h, index: _i, ...base } = prev;
  const e: Ev = { ...base, seq: prev.seq + 1, prevHash: prev.hash, ...over };
  const { hash: _h2, index: _i2, ...hashed } = e;
  return { ...e, hash: hashEvent(hashed as never) };
}

/** Every verify the brief names: clean and full pass, without and with worker threads — one answer. */
async function allPasses(t: ExecutionContext, dir: string, label: string): Promise<VerifyResult> {
  const runs: VerifyResult[] = [];
  for (const workers of [0, 2]) for (const fullPass of [false, true]) runs.push(await verifyEvidence(dir, { workers, fullPass }));
  for (const r of runs.slice(1)) t.deepEqual(answer(r), answer(runs[0]!), `${label}: every pass gives the same answer`);
  t.true(runs.filter((_, i) => i % 2 === 1).every((r) => r.pass === 'full'), `${label}: the full pass was asked for`);
  return runs[0]!;
}

const sessionsOf = (events: readonly Ev[]) => [...new Set(events.map((e) => e.sessionId))];

// ---- Events without an index ------------------------------------------------------------------

/** Each forgery: the events as the writer rewrote them, and the (sessionId, seq) verify must name. */
const UNINDEXED: Record<string, (events: Ev[]) => { lines: Ev[]; sessionId: string; seq: number }> = {
  // The plain case: appended at the end of an indexed session, in its block.
  'appended to an indexed session, in its block': (events) => {
    const id = sessionsOf(events)[1]!;
    const at = events.findLastIndex((e) => e.sessionId === id);
    const forged = chained(events[at]!);
    return { lines: [...events.slice(0, at + 1), forged, ...events.slice(at + 1)], sessionId: id, seq: forged.seq };
  },
  // The session split in two blocks: its forged event after another session's events.
  'appended, but placed after the next session (its session in two blocks)': (events) => {
    const [a, b] = sessionsOf(events);
    const lastB = events.findLastIndex((e) => e.sessionId === b);
    const forged = chained(events.findLast((e) => e.sessionId === a)!);
    return { lines: [...events.slice(0, lastB + 1), forged, ...events.slice(lastB + 1)], sessionId: a!, seq: forged.seq };
  },
  // At the very end of the file: the last session of the last chunk.
  'appended to the last session, at the end of the file': (events) => {
    const id = events.at(-1)!.sessionId;
    const forged = chained(events.at(-1)!);
    return { lines: [...events, forged], sessionId: id, seq: forged.seq };
  },
  // Dated as nothing Date.parse reads: an unreadable date must not pass for an old one.
  'appended, dated with a string that is no date': (events) => {
    const id = sessionsOf(events)[2]!;
    const at = events.findLastIndex((e) => e.sessionId === id);
    const forged = chained(events[at]!, { at: 'not a date' });
    return { lines: [...events.slice(0, at + 1), forged, ...events.slice(at + 1)], sessionId: id, seq: forged.seq };
  },
  // Dated long before the log: the date does not excuse an event after an indexed one.
  'appended, backdated to 1970': (events) => {
    const id = sessionsOf(events)[2]!;
    const at = events.findLastIndex((e) => e.sessionId === id);
    const forged = chained(events[at]!, { at: '1970-01-01T00:00:00.000Z' });
    return { lines: [...events.slice(0, at + 1), forged, ...events.slice(at + 1)], sessionId: id, seq: forged.seq };
  },
  // Two forged events in a row: both named (the second follows indexed events too).
  'two appended in a row': (events) => {
    const id = sessionsOf(events)[3]!;
    const at = events.findLastIndex((e) => e.sessionId === id);
    const one = chained(events[at]!);
    const two = chained(one);
    return { lines: [...events.slice(0, at + 1), one, two, ...events.slice(at + 1)], sessionId: id, seq: two.seq };
  },
};

for (const [name, forge] of Object.entries(UNINDEXED)) {
  test(`an event without a log index: ${name} — leaf_inserted, the same in every pass`, async (t) => {
    const dir = copyOf(t, clean);
    const { lines, sessionId, seq } = forge(readEvents(clean));
    regenerate(dir, lines);
    const r = await allPasses(t, dir, name);
    t.false(r.ok);
    t.true(
      r.problems.some((p) => p.kind === 'leaf_inserted' && p.sessionId === sessionId && p.seq === seq),
      `${name}: ${JSON.stringify(r.problems.map((p) => [p.kind, p.sessionId, p.seq]))}`,
    );
  });
}

test('an index that is null, a string or negative on a forged appended event: never read as "no index" in one pass and named in the other', async (t) => {
  for (const index of [null, '7', -1, 1.5]) {
    const dir = copyOf(t, clean);
    const events = readEvents(clean);
    const id = sessionsOf(events)[1]!;
    const at = events.findLastIndex((e) => e.sessionId === id);
    const forged: Ev = { ...chained(events[at]!), index };
    regenerate(dir, [...events.slice(0, at + 1), forged, ...events.slice(at + 1)]);
    const r = await allPasses(t, dir, `index ${JSON.stringify(index)}`);
    t.false(r.ok, `index ${JSON.stringify(index)}`);
    t.true(r.problems.some((p) => p.sessionId === id && p.seq === forged.seq), `index ${JSON.stringify(index)}: ${JSON.stringify(r.problems.map((p) => [p.kind, p.seq]))}`);
  }
});

test('the regenerate helper itself changes nothing on an untouched export (the cases above fail for their forgery alone)', async (t) => {
  const dir = copyOf(t, clean);
  regenerate(dir, readEvents(clean));
  const r = await allPasses(t, dir, 'regenerated untouched');
  t.deepEqual(r.problems, []);
  t.true(r.ok);
});

// ---- export_reported_problems ------------------------------------------------------------------

test('export_reported_problems: the export said ok: false, the folder is otherwise intact — named in every pass; never instead of a real problem', async (t) => {
  const dir = copyOf(t, clean);
  editJson(join(dir, 'verification.json'), (v) => {
    v.ok = false;
    v.chainsBroken = 1;
  });
  fixDigest(dir, 'verification.json');
  // report.html shows verification.json: it follows the edit, or the report alone would tell.
  await rewriteReport(dir);
  const r = await allPasses(t, dir, 'ok: false');
  t.false(r.ok);
  t.deepEqual(kinds(r), ['export_reported_problems'], JSON.stringify(r.problems));

  // With a real problem as well, the real one is named (the export's verdict adds nothing).
  const both = copyOf(t, dir);
  const events = readEvents(both);
  const id = sessionsOf(events)[1]!;
  const at = events.findLastIndex((e) => e.sessionId === id);
  regenerate(both, [...events.slice(0, at + 1), chained(events[at]!), ...events.slice(at + 1)]);
  editJson(join(both, 'verification.json'), (v) => (v.ok = false));
  fixDigest(both, 'verification.json');
  const r2 = await allPasses(t, both, 'ok: false and a forged event');
  t.false(r2.ok);
  t.true(kinds(r2).includes('leaf_inserted'));
  t.false(kinds(r2).includes('export_reported_problems'));
});

// ---- Chunk memory used again (chunk-pool.ts) ----------------------------------------------------

test('chunk memory used again, any report window the manifest may carry: the clean pass keeps exactly the sessions the report shows, never throws', async (t) => {
  const manifest = readManifest(clean);
  const n = manifest.chainHeads.length;
  const file = readFileSync(join(clean, 'events.jsonl'), 'utf8').trimEnd().split('\n');
  for (const [threads, runner] of [[0, inThread()], [2, workerPool(2)]] as const) {
    try {
      for (const maxSessions of [0, 1, 2.5, n - 1, n, n + 7]) {
        const windowed = { ...manifest, report: { ...manifest.report, limits: { ...manifest.report.limits, maxSessions } } } as Manifest;
        for (const chunkBytes of [200, 900]) {
          const label = `threads ${threads}, window ${maxSessions}, chunks of ${chunkBytes}`;
          const r = await cleanPass({ dir: clean, manifest: windowed, runner, section: manifest.log ?? undefined, checkpoints: [], votePublicKeyPem: DESK_PUBLIC_KEY, chunkBytes });
          if (!r) {
            t.fail(`${label}: not proved clean`);
            continue;
          }
          const entries = r.derived.reportSessions.entries().map((e) => JSON.parse(e) as { f: { sessionId: string }; events: unknown[] });
          // The collector keeps whole sessions: a window of 2.5 holds 2.
          const keep = Math.min(n, Math.max(0, Math.floor(maxSessions)));
          t.deepEqual(entries.map((e) => e.f.sessionId), keep === 0 ? [] : manifest.chainHeads.slice(-keep).map((h) => h.sessionId), label);
          for (const e of entries) {
            t.deepEqual(e.events, file.filter((l) => JSON.parse(l).sessionId === e.f.sessionId).map((l) => JSON.parse(l)), `${label}: ${e.f.sessionId}`);
          }
        }
      }
    } finally {
      await runner.close();
    }
  }
});

test('report window values the manifest does not validate (a string, null, true, an object, negative, fractional, huge): verify never reads a session text the clean pass dropped, and every pass agrees', async (t) => {
  for (const maxSessions of ['2', null, true, {}, -1, 2.5, 1e9, '1e400']) {
    const dir = copyOf(t, clean);
    editJson(join(dir, 'manifest.json'), (m) => (m.report.limits = { ...m.report.limits, maxSessions }));
    // The writer makes report.html fit the edited window (rewriteReport reads the texts the clean pass kept).
    await rewriteReport(dir);
    const r = await allPasses(t, dir, `maxSessions ${JSON.stringify(maxSessions)}`);
    t.deepEqual(r.problems, [], `maxSessions ${JSON.stringify(maxSessions)}`);
  }
});

test('chunk memory used again: a forgery in the last session, found after most chunks were handed out again, is not clean (no stale bytes make it so)', async (t) => {
  const dir = copyOf(t, clean);
  const events = readEvents(clean);
  // Edited in place (not re-hashed): only the last chunk can tell.
  const last = events.at(-1)!;
  const edited = [...events.slice(0, -1), { ...last, at: '2000-01-01T00:00:00.000Z' }];
  regenerate(dir, edited);
  const manifest = readManifest(dir);
  for (const [threads, runner] of [[0, inThread()], [2, workerPool(2)]] as const) {
    try {
      for (const chunkBytes of [200, 900]) {
        const r = await cleanPass({ dir, manifest, runner, section: manifest.log ?? undefined, checkpoints: [], votePublicKeyPem: DESK_PUBLIC_KEY, chunkBytes });
        t.is(r, undefined, `threads ${threads}, chunks of ${chunkBytes}`);
      }
    } finally {
      await runner.close();
    }
  }
  const r = await allPasses(t, dir, 'last event edited');
  t.true(r.problems.some((p) => p.kind === 'event_modified' && p.sessionId === last.sessionId));
});

// ---- vote_repeated -----------------------------------------------------------------------------

/** A session appended with the query path's rights, whose approval.granted carries a vote the desk's own key signed. */
async function sessionWithSignedVote(): Promise<{ sessionId: string; from: Date; granted: Record<string, unknown>; approvalId: string }> {
  const from = new Date();
  const sessionId = randomUUID();
  const approvalId = randomUUID();
  const digest = 'f'.repeat(64);
  await fx.log.append(sessionId, heldRequest(fx.gw.issuer, approvalId, digest));
  const granted = signedGrant({ approvalId, sessionId, digest }, { issuer: fx.gw.issuer, subject: DBA, email: DBA });
  await fx.log.append(sessionId, [{ type: 'approval.granted', data: granted }]);
  return { sessionId, from, granted, approvalId };
}

test.serial('vote_repeated: replayed twice, with another event between and with workers — each replay named, the first vote never', async (t) => {
  const s = await sessionWithSignedVote();
  await fx.log.append(s.sessionId, [{ type: 'approval.granted', data: { ...s.granted, comment: 'replay one' } }]);
  await fx.log.append(s.sessionId, [{ type: 'approval.granted', data: { ...s.granted, comment: 'replay two', quorumMet: false } }]);
  const out = join(copyOf(t, clean), '..', 'votes');
  await exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from: s.from, to: new Date(Date.now() + 1), out, source: 'test' });
  const r = await allPasses(t, out, 'two replays');
  t.deepEqual(kinds(r), ['vote_repeated', 'vote_repeated'], JSON.stringify(r.problems));
  t.deepEqual(r.problems.map((p) => p.seq), [4, 5]);
});

test.serial('vote_repeated is per approval: the same person’s signed vote for two approvals of one session is not a replay', async (t) => {
  const s = await sessionWithSignedVote();
  // A second approval in the session, voted by the same person with a vote of its own, desk-signed.
  const approvalId = randomUUID();
  const digest = 'e'.repeat(64);
  await fx.log.append(s.sessionId, [{ type: 'approval.requested', data: { approvalId, digest, rule: 'bots-write-approved', approvers: ['group:dba'], quorum: 1, expiresAt: new Date(Date.now() + 600_000).toISOString() } }]);
  const vote = { ...(s.granted.vote as object), approvalId, digest, at: new Date().toISOString() };
  const signature = voteSignature(vote);
  await fx.log.append(s.sessionId, [{ type: 'approval.granted', data: { ...s.granted, approvalId, vote, signature } }]);
  const out = join(copyOf(t, clean), '..', 'votes2');
  await exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from: s.from, to: new Date(Date.now() + 1), out, source: 'test' });
  const r = await allPasses(t, out, 'two approvals');
  t.false(kinds(r).includes('vote_repeated'), JSON.stringify(r.problems));
});

// ---- A session dated outside the export's range (range-check.ts) --------------------------------

const MIN = 60_000;

test('a forged session without a log index, backdated to before the log\'s first checkpoint, in the export of a range the log was already signing: named (a regenerated folder verified ok)', async (t) => {
  // The log tamper suite's setting: a store on real PostgreSQL, checkpoints signed with a local key.
  const T = Date.UTC(2100, 0, 1) + randomInt(0, 2 ** 30) * 1000;
  let now = T - 30 * MIN;
  const db = await createTestDatabase();
  const log = await createPostgresSessionLog({ connectionString: db.url, poolSize: 2, clock: () => new Date(now) });
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  t.teardown(async () => {
    await log.close();
    await admin.end();
    await db.drop();
  });
  const stateDir = tempDir(t);
  const local = localCheckpointing(stateDir, { createKey: true });
  const checkpoint = async (at: number) => {
    now = at;
    return (await checkpointOnce({ log, signer: local.signer, store: local.store, clock: () => new Date(at) })).kind;
  };
  const request = { type: 'request', data: { endpoint: 'query', principal: { issuer: 'https://issuer.test', subject: 'bot@acme.com', email: 'bot@acme.com', groups: [] }, agent: { model: 'test-model' }, connection: 'main', sql: 'SELECT 1' } } as EventDraft;
  t.is(await checkpoint(T - 30 * MIN), 'signed', "the log's first checkpoint");
  now = T;
  await log.append(randomUUID(), [request, { type: 'decision', data: { action: 'allow', rule: 'bots-read' } }]);
  t.is(await checkpoint(T + 20 * MIN), 'signed');

  // The owner, past the triggers, stores a session without log indices dated before the first
  // checkpoint — what a session from before the log looks like.
  const sid = randomUUID();
  const at = new Date(T - 40 * MIN);
  const forged = chainEvents(sid, null, [{ ...request, data: { ...request.data, sql: 'DROP TABLE customers' } } as EventDraft, { type: 'decision', data: { action: 'allow', rule: 'dba-everything' } }, { type: 'execution.completed', data: { command: 'DROP TABLE' } }], at);
  await admin.query('INSERT INTO gatehouse_sessions (session_id, started_at, subject, email, connection, sql) VALUES ($1, $2, $3, $4, $5, $6)', [sid, at, 'bot@acme.com', 'bot@acme.com', 'main', 'DROP TABLE customers']);
  await admin.query('BEGIN');
  await admin.query('SET LOCAL session_replication_role = replica');
  for (const e of forged) await admin.query('INSERT INTO gatehouse_session_events (session_id, seq, type, at, data, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)', [e.sessionId, e.seq, e.type, e.at, JSON.stringify(e.data), e.prevHash, e.hash]);
  await admin.query('COMMIT');
  t.is(await checkpoint(T + 40 * MIN), 'signed', 'nothing in the log changed');

  // Exported over a range that reaches back before the log: indistinguishable from a pre-log
  // session (docs/evidence.md says so), and the export is consistent — ok.
  const checkpoints = (await local.store.list()).checkpoints;
  const wide = join(tempDir(t), 'export');
  const s = await exportEvidence(log, { from: new Date(T - 50 * MIN), to: new Date(T + 25 * MIN), out: wide, source: 'test', checkpoints, clock: () => new Date(T + 60 * MIN) });
  t.deepEqual(s.logProblems, []);
  const honest = await verifyEvidence(wide, { checkpoints: stateDir });
  t.deepEqual(honest.problems, [], 'the documented limit: a range reaching back before the log');

  // The writer regenerates it as the export of [T − 10 min, T + 25 min): a range the log was
  // signing all along (its first checkpoint is at T − 30 min), holding the backdated session.
  const narrow = copyOf(t, wide);
  const from = new Date(T - 10 * MIN).toISOString();
  editJson(join(narrow, 'manifest.json'), (m) => (m.range.from = from));
  editJson(join(narrow, 'verification.json'), (v) => {
    if (v.range) v.range.from = from;
  });
  fixDigest(narrow, 'verification.json');
  await rewriteReport(narrow);
  t.is(readManifest(narrow).chainHeads.find((h) => h.sessionId === sid)?.startedAt, at.toISOString());
  for (const workers of [0, 2]) {
    for (const fullPass of [false, true]) {
      const r = await verifyEvidence(narrow, { checkpoints: stateDir, workers, fullPass });
      t.false(r.ok, `workers ${workers}, fullPass ${fullPass}`);
      t.deepEqual(
        r.problems.map((p) => [p.kind, p.sessionId]),
        [['manifest_mismatch', sid]],
        `workers ${workers}, fullPass ${fullPass}: ${JSON.stringify(r.problems)}`,
      );
    }
  }
});

test('sessionsOutsideRange: from is in, to is out (as export selects), an unreadable date is out, a flood is counted', (t) => {
  const range = { from: '2100-01-01T00:00:00.000Z', to: '2100-01-02T00:00:00.000Z', bounds: '' };
  const head = (sessionId: string, startedAt: string) => ({ sessionId, startedAt, events: 1, head: '0'.repeat(64) });
  const m = (chainHeads: ReturnType<typeof head>[], r = range) => ({ range: r, chainHeads }) as unknown as Manifest;
  t.deepEqual(sessionsOutsideRange(m([head('a', range.from), head('b', '2100-01-01T23:59:59.999Z'), head('c', '2100-01-01T12:00:00.000+05:00')])), []);
  const named = (r: ReturnType<typeof sessionsOutsideRange>) => r.map((p) => [p.kind, p.field, p.sessionId]);
  t.deepEqual(named(sessionsOutsideRange(m([head('a', range.to), head('b', '2099-12-31T23:59:59.999Z'), head('c', 'yesterday'), head('d', '2100-01-01T00:30:00.000+01:00')]))), [
    ['manifest_mismatch', 'range', 'a'],
    ['manifest_mismatch', 'range', 'b'],
    ['manifest_mismatch', 'range', 'c'],
    ['manifest_mismatch', 'range', 'd'],
  ]);
  // An unreadable range holds nothing.
  t.is(sessionsOutsideRange(m([head('a', range.from)], { ...range, from: 'soon' })).length, 1);
  const many = sessionsOutsideRange(m(Array.from({ length: 1000 }, (_, i) => head(`s${i}`, '1999-01-01T00:00:00.000Z'))));
  t.is(many.length, 21);
  t.regex(many.at(-1)!.message, /^980 more sessions/);
});
