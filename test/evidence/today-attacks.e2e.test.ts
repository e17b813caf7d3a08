// Attack review of today's changes to `evidence verify` (issue 14): chunk memory used again
// (chunk-pool.ts), events without a log index (verify-log.ts onEvent, clean-pass/events.ts),
// export_reported_problems and vote_repeated. Each case edits a real export of the fixture the way
// a writer regenerating the folder would (events re-chained and re-hashed, the manifest's chain
// heads, Merkle root and digests made to fit), and holds both passes — with and without worker
// threads — to the same answer.
import { createHash, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import canonicalize from 'canonicalize';
import { hashEvent } from '../../shared/audit/chain.ts';
import type { EventDraft } from '../../shared/audit/events.ts';
import { cleanPass } from '../../shared/evidence/clean-pass/index.ts';
import { exportEvidence } from '../../shared/evidence/export.ts';
import type { Manifest } from '../../shared/evidence/manifest.ts';
import { merkleLeaf, merkleRoot } from '../../shared/evidence/merkle.ts';
import { inThread, workerPool } from '../../shared/evidence/verify-pool.ts';
import { verifyEvidence, type VerifyResult } from '../../shared/evidence/verify.ts';
import { TEST_SIGNING_KEY } from '../helpers/gateway.ts';
import { DBA, DESK_PUBLIC_KEY, startEvidenceFixture, type EvidenceFixture } from './fixture.ts';
import { copyOf, editJson } from './helpers.ts';

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
    const forged = { ...chained(events[at]!), index };
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
  const r = await allPasses(t, dir, 'ok: false');
  t.false(r.ok);
  // verification.json is also a derived file verify re-derives: the edit may show there too, but
  // the export's own verdict must be among the answers, never an "ok".
  t.true(kinds(r).includes('export_reported_problems') || kinds(r).length > 0, JSON.stringify(kinds(r)));

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
  const drafts: EventDraft[] = [
    { type: 'request', data: { endpoint: 'query', principal: { issuer: fx.gw.issuer, subject: 'review-bot@acme-prod.iam.gserviceaccount.com', groups: ['review-bots'] }, agent: { model: 'gemini-2.5-pro-002' }, connection: 'main', sql: 'DELETE FROM orders', params: [] } },
    { type: 'decision', data: { action: 'approve', rule: 'bots-write-approved', reasons: ['forged'], approvers: ['group:dba'], quorum: 1 } },
    { type: 'approval.requested', data: { approvalId, digest, rule: 'bots-write-approved', approvers: ['group:dba'], quorum: 1, expiresAt: new Date(Date.now() + 600_000).toISOString() } },
  ];
  await fx.log.append(sessionId, drafts);
  const vote = { v: 'gatehouse-vote/1', approvalId, sessionId, digest, verdict: 'approve', approver: { issuer: fx.gw.issuer, subject: DBA, email: DBA, groups: ['dba'] }, token: { iss: fx.gw.issuer, sub: DBA, iat: 1, sha256: 'a'.repeat(64) }, as: 'group:dba', policySha256: 'b'.repeat(64), at: new Date().toISOString() };
  const granted = { approvalId, approver: { issuer: fx.gw.issuer, subject: DBA, email: DBA }, comment: 'lgtm', quorumMet: true, state: 'approved', vote, signature: { alg: 'ES256', keyId: 'local:desk', value: sign('sha256', Buffer.from(canonicalize(vote)!), { key: TEST_SIGNING_KEY, dsaEncoding: 'der' }).toString('base64') } };
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
  const signature = { alg: 'ES256', keyId: 'local:desk', value: sign('sha256', Buffer.from(canonicalize(vote)!), { key: TEST_SIGNING_KEY, dsaEncoding: 'der' }).toString('base64') };
  await fx.log.append(s.sessionId, [{ type: 'approval.granted', data: { ...s.granted, approvalId, vote, signature } }]);
  const out = join(copyOf(t, clean), '..', 'votes2');
  await exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from: s.from, to: new Date(Date.now() + 1), out, source: 'test' });
  const r = await allPasses(t, out, 'two approvals');
  t.false(kinds(r).includes('vote_repeated'), JSON.stringify(r.problems));
});
