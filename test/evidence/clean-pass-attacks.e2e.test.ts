// Attacks on verify's clean pass (shared/evidence/clean-pass/): exports built to make it disagree
// with the full pass. The property under attack: for ANY folder, verify answers exactly the same
// with and without the clean pass (problems, counts, digests, outcomes, votes), with and without
// worker threads; and wherever the clean pass says "clean" — at any chunk size — the full pass
// finds nothing wrong with the events and leaves, and the clean pass derives exactly what the
// events yield (counts, policy versions, derived-file digests, the report's sessions).
//
// The export is real (gateway, PostgreSQL, the session log), with sessions appended straight to
// the log whose ids, data keys, rule names and approval links are what an attacker would pick;
// the cases then edit it: other spellings of the same JSON, duplicate keys, escapes, BOMs, NUL,
// invalid UTF-8, odd indices, odd leaves, odd manifests, and events re-hashed with the whole log
// re-rooted (the export covers the whole log, so its root can be recomputed) so the deeper checks run.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { hashEvent } from '../../shared/audit/chain.ts';
import type { EventDraft } from '../../shared/audit/events.ts';
import type { LogLeafReader } from '../../shared/ports.ts';
import { batchedHash } from '../../shared/evidence/batched-hash.ts';
import { cleanPass, type CleanWalk } from '../../shared/evidence/clean-pass/index.ts';
import { Deriver } from '../../shared/evidence/derive.ts';
import { exportEvidence, type ExportSource } from '../../shared/evidence/export.ts';
import { checkManifest, DERIVED_FILES, FILES, type Manifest } from '../../shared/evidence/manifest.ts';
import { merkleLeaf, merkleRoot } from '../../shared/evidence/merkle.ts';
import { populationHeader } from '../../shared/evidence/population.ts';
import { mulberry32, seedState } from '../../shared/evidence/prng.ts';
import { DEFAULT_REPORT_LIMITS, ReportCollector } from '../../shared/evidence/report/collector.ts';
import { inThread, workerPool, type TaskRunner } from '../../shared/evidence/verify-pool.ts';
import { verifyEvidence, type VerifyResult } from '../../shared/evidence/verify.ts';
import { checkSessionBlock, MAX_GAPS } from '../../shared/evidence/verify-session.ts';
import { checkpointOnce } from '../../shared/transparency/checkpointer.ts';
import { localCheckpointing } from '../../shared/transparency/local.ts';
import { leafHash, treeHash } from '../../shared/transparency/merkle-tree.ts';
import { DESK_PUBLIC_KEY, startEvidenceFixture, type EvidenceFixture } from './fixture.ts';
import { copyOf, tempDir } from './helpers.ts';

// Session ids an attacker picks: JSON escapes, unicode, names Object.prototype answers to.
const QUOTED_ID = 'q"uote\\back\tslash-é-🙂';
const PROTO_ID = '__proto__';
const CTOR_ID = 'constructor';
const SEPARATOR_ID = 'line\u2028sep\u00a0nbsp';
const APPROVAL = 'appr-linked';

let fx: EvidenceFixture;
let root: string;
/** The whole log, the fixture's sessions and the attacker's: its run starts at 0 with an empty proof. */
let base: string;
/** The same and one more session whose id is written with JSON escapes (a quote, a backslash, a tab). */
let quoted: string;
/** The same and one more session whose id holds a line end. */
let withNewline: string;
let pool: TaskRunner;

test.before(async () => {
  fx = await startEvidenceFixture();
  const principal = { issuer: 'https://issuer.example', subject: 'bot', email: 'bot@example.com', groups: ['review-bots'] };
  const write = (sessionId: string, opts: { rule?: string; cls?: string; policy?: string; approvalId?: string; redeem?: string; params?: unknown[]; sql?: string; action?: string }): EventDraft[] => [
    { type: 'request', data: { endpoint: 'query', principal, agent: { model: 'gemini-x', runId: sessionId }, connection: 'main', sql: opts.sql ?? 'UPDATE t SET a = 1', params: opts.params ?? [], ...(opts.approvalId ? { approvalId: opts.approvalId } : {}) } },
    { type: 'analysis', data: { pgType: 'UpdateStmt', kind: 'UPDATE', class: opts.cls ?? 'write', reasons: ['UPDATE writes t'], tables: { read: [], written: ['t'] }, columns: [], functions: [], fingerprint: 'ff' } },
    {
      type: 'decision',
      data: {
        action: opts.action ?? 'allow',
        rule: opts.rule ?? 'dba-everything',
        reasons: ['why not'],
        policySha256: opts.policy ?? 'p'.repeat(64),
        ...(opts.redeem ? { approval: { id: opts.redeem, sessionId: 'asker', grantedBy: [{ issuer: 'https://issuer.example', subject: 'dba', email: 'dba@example.com' }] } } : {}),
      },
    },
    { type: 'execution.started', data: { connection: 'main', readOnly: false, maxRows: 10, statementTimeoutMs: 1000 } },
    { type: 'execution.result', data: { command: 'UPDATE', rowCount: 1, truncated: false, durationMs: 1, columns: [], rows: [] } },
    { type: 'execution.committed', data: {} },
  ];
  // A redemption before the session that asked (the approval index cannot know it yet), the asker,
  // and a redemption after it; prototype names as rule, risk class and policy; keys that sort
  // differently as strings and as integers; a `toJSON` and a `__proto__` key inside data.
  const sessions: [string, EventDraft[]][] = [
    ['redeem-before', write('redeem-before', { approvalId: APPROVAL, redeem: APPROVAL })],
    ['asker', [...write('asker', { rule: 'bots-write-approved', action: 'approve' }).slice(0, 3), { type: 'approval.requested', data: { approvalId: APPROVAL, approvers: ['group:dba'], quorum: 1, expiresAt: '2999-01-01T00:00:00.000Z', digest: 'd' } }]],
    ['redeem-after', write('redeem-after', { approvalId: APPROVAL, redeem: APPROVAL })],
    [PROTO_ID, write(PROTO_ID, { rule: 'toString', params: [JSON.parse('{"__proto__":{"x":1},"toJSON":"no","10":1,"9":2,"b":[{"2":0,"10":1}]}')] })],
    [CTOR_ID, write(CTOR_ID, { rule: '10', cls: '9', sql: `SELECT '${'x'.repeat(3000)}'` })],
    [SEPARATOR_ID, write(SEPARATOR_ID, { rule: '9', params: ['\u2028', 'é', '🙂', '\u0000'] })],
  ];
  const append = async (id: string, drafts: EventDraft[]) => {
    // Two appends per session: a session's events are not all one write, as in the gateway.
    await fx.log.append(id, drafts.slice(0, 2));
    await fx.log.append(id, drafts.slice(2));
  };
  for (const [id, drafts] of sessions) await append(id, drafts);
  root = mkdtempSync(join(tmpdir(), 'gatehouse-clean-pass-attacks-'));
  // Each export is made before the next session is appended: it holds the whole log then (run
  // from 0, empty proof), so forge() can recompute its root.
  base = join(root, 'base');
  await exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from: fx.from, to: new Date(Date.now() + 60_000), out: base, source: 'test' });
  // An id the chunker cannot read off a line (it is written with escapes): it cuts after every
  // line of that session, so only large chunks prove such an export clean.
  await append(QUOTED_ID, write(QUOTED_ID, { rule: '__proto__', cls: 'constructor', policy: '__proto__' }));
  quoted = join(root, 'quoted');
  await exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from: fx.from, to: new Date(Date.now() + 60_000), out: quoted, source: 'test' });
  await fx.log.append('new\nline', write('new\nline', {}));
  withNewline = join(root, 'newline');
  await exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from: fx.from, to: new Date(Date.now() + 60_000), out: withNewline, source: 'test' });
  pool = workerPool(2);
});
test.after.always(async () => {
  await pool?.close();
  await fx?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Reading and writing the export.

const eventsPath = (d: string) => join(d, FILES.events);
const leavesPath = (d: string) => join(d, 'leaves.jsonl');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests edit the manifest as plain JSON
const readManifest = (d: string) => JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as Record<string, any>;
const writeManifest = (d: string, m: unknown) => writeFileSync(join(d, 'manifest.json'), JSON.stringify(m, null, 1));
const lines = (path: string) => readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
const writeLines = (path: string, ls: readonly string[]) => writeFileSync(path, ls.map((l) => `${l}\n`).join(''));
const editEventLines = (d: string, edit: (ls: string[]) => string[]) => writeLines(eventsPath(d), edit(lines(eventsPath(d))));
const editLeafLines = (d: string, edit: (ls: string[]) => string[]) => writeLines(leavesPath(d), edit(lines(leavesPath(d))));

/** The manifest's digest of `file` set to what the file now holds: only the deeper checks can tell. */
function fixDigest(d: string, file: string): void {
  const m = readManifest(d);
  const bytes = readFileSync(join(d, file));
  m.files[file] = { ...m.files[file]!, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
  writeManifest(d, m);
}

type Ev = Record<string, any>;

/**
 * Events edited as parsed values, then made whole again the way only a forger with the store's
 * write rights could: each session re-chained and re-hashed, leaves.jsonl given the new hashes,
 * the log's root (the run is the whole log, its proof empty) and the manifest's chain heads and
 * Merkle root recomputed, the files' digests fixed. Derived files and counts are left as they
 * were: both passes must then name the same mismatches, with the same derived digests.
 */
function forge(d: string, edit: (events: Ev[]) => Ev[], serialise: (e: Ev, i: number) => string = (e) => JSON.stringify(e)): void {
  const events = edit(lines(eventsPath(d)).map((l) => JSON.parse(l) as Ev));
  const prev = new Map<string, string>();
  for (const e of events) {
    e.prevHash = prev.get(e.sessionId) ?? null;
    const { hash: _h, index: _i, ...rest } = e;
    e.hash = hashEvent(rest as never);
    prev.set(e.sessionId, e.hash);
  }
  writeFileSync(eventsPath(d), events.map((e, i) => `${serialise(e, i)}\n`).join(''));
  const m = readManifest(d);
  const byIndex = new Map(events.filter((e) => typeof e.index === 'number').map((e) => [e.index as number, e]));
  const leaves = lines(leavesPath(d)).map((l) => JSON.parse(l) as Ev);
  for (const leaf of leaves) {
    const e = byIndex.get(leaf.index);
    if (e) Object.assign(leaf, { sessionId: e.sessionId, seq: e.seq, hash: e.hash });
  }
  writeLines(leavesPath(d), leaves.map((l) => JSON.stringify(l)));
  const ordered = [...leaves].sort((a, b) => a.index - b.index);
  m.log.rootHash = treeHash(ordered.map((l) => leafHash(l.hash))).toString('hex');
  const heads = new Map<string, { startedAt: string; events: number; head: string }>();
  for (const e of events) {
    const h = heads.get(e.sessionId) ?? { startedAt: e.at, events: 0, head: '' };
    h.events++;
    h.head = e.hash;
    heads.set(e.sessionId, h);
  }
  m.chainHeads = [...heads].map(([sessionId, h]) => ({ sessionId, ...h }));
  m.merkle = { ...m.merkle, leaves: m.chainHeads.length, root: merkleRoot(m.chainHeads.map((h: Ev) => merkleLeaf(h.sessionId, h.head))) };
  writeManifest(d, m);
  fixDigest(d, FILES.events);
  fixDigest(d, 'leaves.jsonl');
}

/** The first event of `sessionId`'s `type` (or any type). */
const find = (events: Ev[], sessionId: string, type?: string) => events.find((e) => e.sessionId === sessionId && (type === undefined || e.type === type))!;

// ---------------------------------------------------------------------------------------------
// What must hold for every case.

const answer = (r: VerifyResult) => ({ ...r, durationMs: 0, eventsPerSecond: 0, pass: undefined });

async function settle(p: Promise<VerifyResult>): Promise<{ result?: VerifyResult; error?: string }> {
  try {
    return { result: await p };
  } catch (e) {
    return { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

/**
 * What walkEvents derives from a folder whose events all hold (the reference the clean pass must
 * match): sessions in file order through the Deriver, the report's sessions from the lines as read.
 */
function reference(d: string, m: Manifest) {
  const texts = readFileSync(eventsPath(d), 'utf8').split('\n');
  if (texts.at(-1) === '') texts.pop();
  const deriver = new Deriver();
  const digests = Object.fromEntries(DERIVED_FILES.map((f) => [f, batchedHash()]));
  digests[FILES.population]!.update(populationHeader());
  const report = new ReportCollector({ ...DEFAULT_REPORT_LIMITS, ...m.report?.limits });
  const ids = new Set<string>();
  let block: { text: string; event: Ev }[] = [];
  const close = () => {
    if (!block.length) return;
    const d0 = deriver.add(block.map((b) => b.event) as never, []);
    report.addSession({ eventLines: block.map((b) => `${b.text}\n`).join(''), approvals: d0.approvals, problems: [] });
    digests[FILES.sessions]!.update(d0.sessionLine);
    for (const l of d0.approvalLines) digests[FILES.approvals]!.update(l);
    digests[FILES.population]!.update(d0.populationLine);
    ids.add(block[0]!.event.sessionId);
    block = [];
  };
  for (const text of texts) {
    const event = JSON.parse(text) as Ev;
    if (block.length && block[0]!.event.sessionId !== event.sessionId) close();
    block.push({ text, event });
  }
  close();
  return summary({
    sessions: ids.size,
    events: texts.length,
    votes: -1,
    derived: { counts: deriver.counts, policyVersions: deriver.policyVersions(), files: Object.fromEntries(Object.entries(digests).map(([k, h]) => [k, h.digest()])), reportSessions: report },
  });
}

const summary = (w: CleanWalk) => ({
  sessions: w.sessions,
  events: w.events,
  counts: JSON.stringify(w.derived.counts),
  policyVersions: JSON.stringify(w.derived.policyVersions),
  files: w.derived.files,
  reportTotal: w.derived.reportSessions.total,
  report: w.derived.reportSessions.entries(),
});

/** Problems only the events and leaves (not the files' digests or the manifest's own fields) can raise. */
const eventProblems = (r: VerifyResult) =>
  r.problems.filter((p) => !['file_changed', 'file_missing'].includes(p.kind) && (p.file === FILES.events || p.file === 'leaves.jsonl' || p.field?.startsWith('chainHeads')));

interface Expect {
  /** verify's verdict (both passes). */
  readonly ok?: boolean;
  /** Which pass the default verify takes. */
  readonly pass?: 'clean' | 'full';
  /** Problem kinds that must be among the answer's. */
  readonly kinds?: readonly string[];
  /** The clean pass must prove it clean at some small chunk size too (the comparison is not vacuous). */
  readonly chunked?: boolean;
}

async function holdsAlike(t: ExecutionContext, dir: string, expect: Expect = {}): Promise<void> {
  let fullAnswer: VerifyResult | undefined;
  for (const workers of [0, 2]) {
    const fast = await settle(verifyEvidence(dir, { workers }));
    const full = await settle(verifyEvidence(dir, { workers, fullPass: true }));
    // Never a crash, whichever pass reads the folder.
    t.is(fast.error, undefined, `workers ${workers}: the default verify threw`);
    t.is(full.error, undefined, `workers ${workers}: the full pass threw`);
    if (!fast.result || !full.result) continue;
    t.deepEqual(answer(fast.result), answer(full.result), `workers ${workers}`);
    t.is(full.result.pass ?? 'full', 'full');
    if (expect.pass) t.is(fast.result.pass, expect.pass, `workers ${workers}: pass taken`);
    if (expect.ok !== undefined) t.is(fast.result.ok, expect.ok, `workers ${workers}: ${JSON.stringify(fast.result.problems.slice(0, 3))}`);
    for (const k of expect.kinds ?? []) t.true(fast.result.problems.some((p) => p.kind === k), `workers ${workers}: ${k} expected in ${JSON.stringify(fast.result.problems.map((p) => p.kind))}`);
    fullAnswer = full.result;
  }
  // Any chunk size: where the clean pass says clean, the full pass finds nothing in the events,
  // and what the clean pass derived is what the events yield.
  const checked = checkManifest(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
  if (!('manifest' in checked) || !fullAnswer) return;
  const m = checked.manifest;
  let ref: ReturnType<typeof reference> | undefined;
  let provedSmall = 0;
  for (const [threads, runner] of [[0, inThread()], [2, pool]] as const) {
    for (const chunkBytes of [1, 150, 700, undefined]) {
      const r = await cleanPass({ dir, manifest: m, runner, section: m.log ?? undefined, checkpoints: [], votePublicKeyPem: DESK_PUBLIC_KEY, chunkBytes }).catch((e: unknown) => {
        t.fail(`cleanPass threw: ${String(e)}`);
        return undefined;
      });
      if (!r) continue;
      const label = `threads ${threads}, chunks of ${chunkBytes ?? 'default'}`;
      t.deepEqual(eventProblems(fullAnswer), [], `${label}: proved clean, but the full pass finds problems`);
      ref ??= reference(dir, m);
      t.deepEqual(summary(r), ref, label);
      if (chunkBytes !== undefined) provedSmall++;
    }
  }
  if (expect.chunked) t.true(provedSmall > 0, 'never proved clean in small chunks');
}

function attack(name: string, edit: (dir: string) => void, expect: Expect = {}, from: () => string = () => base): void {
  // Serial: each case runs verify four times and the clean pass eight; together they starve each other.
  test.serial(`both passes answer alike: ${name}`, async (t) => {
    const dir = copyOf(t, from());
    edit(dir);
    // Wherever the clean pass is taken, it must also be taken in small chunks — unless ids are written with escapes.
    await holdsAlike(t, dir, { chunked: expect.pass === 'clean' && from() !== quoted && !/escape|duplicate sessionId|NEXT session/.test(name), ...expect });
  });
}

// ---------------------------------------------------------------------------------------------
// The untouched exports.

attack('the export, with escaped, unicode and prototype-named ids, rules, classes and policies', () => {}, { ok: true, pass: 'clean' });
attack('an export holding a session whose id is written with escapes', () => {}, { ok: true, pass: 'clean' }, () => quoted);
attack('an export holding a session whose id has a line end', () => {}, { ok: true, pass: 'full' }, () => withNewline);
attack('a quoted-id export: every session id written with \\u escapes', (d) => {
  editEventLines(d, (ls) => ls.map((l) => l.replace(/^\{"sessionId":"(.)/, (_, c: string) => `{"sessionId":"\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)));
  fixDigest(d, FILES.events);
}, { ok: true, pass: 'clean' }, () => quoted);
attack('a quoted-id export: forged, the quoted session moved first', (d) => forge(d, (es) => [...es.filter((e) => e.sessionId === QUOTED_ID), ...es.filter((e) => e.sessionId !== QUOTED_ID)]), { ok: false, pass: 'clean' }, () => quoted);

test('the attacker sessions are in the export as intended', (t) => {
  const ids = readManifest(base).chainHeads.map((h: { sessionId: string }) => h.sessionId);
  for (const id of [PROTO_ID, CTOR_ID, SEPARATOR_ID, 'asker', 'redeem-before', 'redeem-after']) t.true(ids.includes(id), id);
  t.true(readManifest(quoted).chainHeads.some((h: { sessionId: string }) => h.sessionId === QUOTED_ID));
  const m = readManifest(quoted);
  t.is(m.log.start, 0);
  t.deepEqual(m.log.proof, []);
  t.true(Object.hasOwn(m.counts.byRule, '__proto__') && Object.hasOwn(m.counts.byRiskClass, 'constructor'));
  t.true(m.policyVersions.some((p: { sha256: string }) => p.sha256 === '__proto__'));
});

// ---------------------------------------------------------------------------------------------
// The same JSON in other spellings (events.jsonl's digest fixed): every event still holds, and
// report.html embeds the events parsed, not as written: the export verifies, in both passes.

const respell = (from: RegExp, to: string, every = 3) => (d: string) => {
  editEventLines(d, (ls) => ls.map((l, i) => (every === 1 || i % every === 1 ? l.replace(from, to) : l)));
  fixDigest(d, FILES.events);
};
attack('seq written 1.0, 1e0, 10E-1', (d) => {
  editEventLines(d, (ls) => ls.map((l, i) => l.replace(/"seq":(\d+)/, (_, n) => `"seq":${[`${n}.0`, `${n}e0`, n === '0' ? '0E-1' : `${n}0E-1`][i % 3]}`)));
  fixDigest(d, FILES.events);
}, { ok: true, pass: 'clean' });
attack('seq 0 written -0', respell(/"seq":0,/, '"seq":-0,', 1), { ok: true, pass: 'clean' });
attack('index written 5.0 and 5e0', (d) => {
  editEventLines(d, (ls) => ls.map((l, i) => l.replace(/"index":(\d+)/, (_, n) => `"index":${i % 2 ? `${n}.0` : `${n}e0`}`)));
  fixDigest(d, FILES.events);
}, { ok: true, pass: 'clean' });
attack('spaces after every colon and comma', (d) => {
  editEventLines(d, (ls) => ls.map((l) => JSON.stringify(JSON.parse(l), null, 0).replace(/","/g, '", "').replace(/":"/g, '": "')));
  fixDigest(d, FILES.events);
}, { ok: true, pass: 'clean', chunked: false /* another layout: the chunker reads no id, cuts after every line */ });
attack('lines indented with spaces and tabs, trailing blanks', (d) => {
  editEventLines(d, (ls) => ls.map((l, i) => (i % 2 ? ` \t${l}` : `${l} \t`)));
  fixDigest(d, FILES.events);
}, { ok: true, pass: 'clean', chunked: false /* another layout: the chunker reads no id, cuts after every line */ });
attack('every session id written with \\u escapes', (d) => {
  editEventLines(d, (ls) => ls.map((l) => l.replace(/^\{"sessionId":"(.)/, (_, c: string) => `{"sessionId":"\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)));
  fixDigest(d, FILES.events);
}, { ok: true, pass: 'clean' });
attack('one line in the middle of each session written with an escaped id', (d) => {
  editEventLines(d, (ls) => ls.map((l) => (JSON.parse(l).seq === 2 ? l.replace(/^\{"sessionId":"(.)/, (_, c: string) => `{"sessionId":"\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : l)));
  fixDigest(d, FILES.events);
}, { ok: true });
attack('the last line without its line end', (d) => {
  writeFileSync(eventsPath(d), readFileSync(eventsPath(d), 'utf8').replace(/\n$/, ''));
  fixDigest(d, FILES.events);
}, { ok: true, pass: 'clean' });
attack('an empty line at the end', (d) => {
  writeFileSync(eventsPath(d), `${readFileSync(eventsPath(d), 'utf8')}\n`);
  fixDigest(d, FILES.events);
}, { ok: false, pass: 'full', kinds: ['event_unreadable'] });
attack('a line of spaces at the end', (d) => {
  writeFileSync(eventsPath(d), `${readFileSync(eventsPath(d), 'utf8')}   \n`);
  fixDigest(d, FILES.events);
}, { ok: false, pass: 'full' });

// ---------------------------------------------------------------------------------------------
// Duplicate keys: JSON.parse keeps the last; the chunker reads the first id of a line.

attack('each line led by another session\'s id, overridden by its own (duplicate sessionId)', (d) => {
  editEventLines(d, (ls) => {
    const ids = ls.map((l) => JSON.parse(l).sessionId as string);
    return ls.map((l, i) => `{"sessionId":${JSON.stringify(ids[(i + 7) % ids.length])},${l.slice(1)}`);
  });
  fixDigest(d, FILES.events);
}, { ok: true, pass: 'clean' });
attack('the middle line of each session led by the NEXT session\'s id (chunker cuts inside a session)', (d) => {
  editEventLines(d, (ls) => {
    const ids = ls.map((l) => JSON.parse(l).sessionId as string);
    return ls.map((l, i) => {
      const next = ids.slice(i).find((x) => x !== ids[i]);
      return next && JSON.parse(l).seq === 2 ? `{"sessionId":${JSON.stringify(next)},${l.slice(1)}` : l;
    });
  });
  fixDigest(d, FILES.events);
}, { ok: true });
attack('a line whose LAST sessionId names another session (duplicate key, parsed one wins)', (d) => {
  editEventLines(d, (ls) => {
    const ids = [...new Set(ls.map((l) => JSON.parse(l).sessionId as string))];
    return ls.map((l, i) => (i === 9 ? `${l.slice(0, -1)},"sessionId":${JSON.stringify(ids.find((x) => x !== JSON.parse(l).sessionId))}}` : l));
  });
  fixDigest(d, FILES.events);
}, { ok: false, pass: 'full' });
attack('duplicate seq keys {"seq":99,"seq":N}', respell(/"seq":(\d+)/, '"seq":99,"seq":$1'), { ok: true, pass: 'clean' });
attack('duplicate seq keys {"seq":N,"seq":99}', respell(/"seq":(\d+)/, '"seq":$1,"seq":99'), { ok: false, pass: 'full' });
attack('duplicate hash keys, the wrong one last', (d) => {
  editEventLines(d, (ls) => ls.map((l, i) => (i === 4 ? `${l.slice(0, -1)},"hash":"${'0'.repeat(64)}"}` : l)));
  fixDigest(d, FILES.events);
}, { ok: false, pass: 'full' });
attack('duplicate data keys (the last one is the hashed one)', (d) => {
  editEventLines(d, (ls) => ls.map((l) => l.replace('"data":{', '"data":{"connection":"forged","zz":1},"data":{')));
  fixDigest(d, FILES.events);
}, { ok: true, pass: 'clean' });
attack('duplicate keys inside data (an earlier copy shadowed)', (d) => {
  editEventLines(d, (ls) => ls.map((l) => l.replace('"data":{"action":', '"data":{"action":"deny","action":')));
  fixDigest(d, FILES.events);
}, { ok: true, pass: 'clean' });
// Not hashed: members no hash covers are not the log's event (event_modified), wherever the
// session is — the report showed them only for the sessions it holds (unhashed-members.postgres.e2e.test.ts).
attack('a top-level __proto__ and toJSON member on each event (not hashed)', (d) => {
  editEventLines(d, (ls) => ls.map((l) => `${l.slice(0, -1)},"__proto__":{"seq":7,"hash":"x"},"toJSON":"x"}`));
  fixDigest(d, FILES.events);
}, { ok: false, pass: 'full', kinds: ['event_modified'] });

// ---------------------------------------------------------------------------------------------
// Bytes that are not what JSON or the line reader expect.

const bytesEdit = (edit: (b: Buffer) => Buffer, file = FILES.events) => (d: string) => {
  writeFileSync(join(d, file), edit(readFileSync(join(d, file))));
  fixDigest(d, file);
};
const atLine = (b: Buffer, n: number) => {
  let at = 0;
  for (let i = 0; i < n; i++) at = b.indexOf(10, at) + 1;
  return at;
};
const insertAt = (b: Buffer, at: number, bytes: number[]) => Buffer.concat([b.subarray(0, at), Buffer.from(bytes), b.subarray(at)]);
attack('a BOM before the first line', bytesEdit((b) => insertAt(b, 0, [0xef, 0xbb, 0xbf])), { ok: false, pass: 'full' });
attack('a BOM before a line in the middle', bytesEdit((b) => insertAt(b, atLine(b, 11), [0xef, 0xbb, 0xbf])), { ok: false, pass: 'full' });
attack('a NUL byte after a line', bytesEdit((b) => insertAt(b, atLine(b, 11) - 1, [0])), { ok: false, pass: 'full' });
attack('invalid UTF-8 inside a JSON string', bytesEdit((b) => {
  const at = b.indexOf('"sql":"') + 8;
  return insertAt(b, at, [0xff, 0xc3]);
}), { ok: false, pass: 'full' });
attack('a truncated UTF-8 sequence at the end of a line', bytesEdit((b) => insertAt(b, atLine(b, 5) - 1, [0xe2, 0x82])), { ok: false, pass: 'full' });
attack('a lone CR at the end of the file', bytesEdit((b) => Buffer.concat([b, Buffer.from('\r')])), { ok: false, pass: 'full' });
attack('a form feed and a vertical tab between lines', bytesEdit((b) => insertAt(b, atLine(b, 3), [0x0c, 0x0b, 0x0a])), { ok: false, pass: 'full' });
attack('U+2028 and U+2029 raw between members of a line', (d) => {
  editEventLines(d, (ls) => ls.map((l, i) => (i === 6 ? l.replace('","', '",\u2028"') : l)));
  fixDigest(d, FILES.events);
}, { ok: false, pass: 'full' });
attack('events.jsonl empty', (d) => {
  writeFileSync(eventsPath(d), '');
  fixDigest(d, FILES.events);
}, { ok: false, pass: 'full', kinds: ['session_missing'] });
attack('events.jsonl a single line end', (d) => {
  writeFileSync(eventsPath(d), '\n');
  fixDigest(d, FILES.events);
}, { ok: false, pass: 'full' });

// ---------------------------------------------------------------------------------------------
// Indices: where each event sits in the signed log.

const setIndex = (value: string, line = 3) => (d: string) => {
  editEventLines(d, (ls) => ls.map((l, i) => (i === line ? l.replace(/"index":\d+/, `"index":${value}`) : l)));
  fixDigest(d, FILES.events);
};
for (const v of ['"3"', '3.5', '-1', '-0', '1e300', '9007199254740993', 'null', 'true', '[3]', '{"n":3}']) {
  attack(`an event's index written ${v}`, setIndex(v), { ok: false, pass: v === '-0' ? undefined : 'full' });
}
attack('an index removed from one event (it claims no place in the log)', (d) => {
  editEventLines(d, (ls) => ls.map((l, i) => (i === 3 ? l.replace(/,"index":\d+/, '') : l)));
  fixDigest(d, FILES.events);
}, { ok: false, pass: 'full', kinds: ['leaf_missing'] });
attack('every index removed, the manifest saying so', (d) => {
  editEventLines(d, (ls) => ls.map((l) => l.replace(/,"index":\d+/, '')));
  fixDigest(d, FILES.events);
  const m = readManifest(d);
  m.log.eventsWithoutIndex = lines(eventsPath(d)).length;
  writeManifest(d, m);
}, { ok: false, pass: 'full' });
attack('the manifest says one event has no index', (d) => {
  const m = readManifest(d);
  m.log.eventsWithoutIndex = 1;
  writeManifest(d, m);
}, { ok: false, pass: 'full' });

// ---------------------------------------------------------------------------------------------
// leaves.jsonl: the run of the signed log (digest fixed where the deeper checks should run).

const leafEdit = (edit: (ls: string[]) => string[]) => (d: string) => {
  editLeafLines(d, edit);
  fixDigest(d, 'leaves.jsonl');
};
attack('leaves with index 1.0-style spellings and keys in another order', leafEdit((ls) => ls.map((l) => {
  const v = JSON.parse(l);
  return `{"hash":"${v.hash}","seq":${v.seq}e0,"sessionId":${JSON.stringify(v.sessionId)},"index":${v.index}.0}`;
})), { ok: true, pass: 'clean' });
attack('leaves with escaped ids and duplicate keys (the last one right)', leafEdit((ls) => ls.map((l) => {
  const v = JSON.parse(l);
  return `{"index":999999,"index":${v.index},"sessionId":"\\u0000x","sessionId":${JSON.stringify(v.sessionId).replace(/^"(.)/, (_, c: string) => `"\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)},"seq":${v.seq},"hash":"${v.hash}"}`;
})), { ok: true, pass: 'clean' });
attack('a leaf of an exported session carrying an event that is not its own', leafEdit((ls) => ls.map((l, i) => (i === 2 ? `${l.slice(0, -1)},"event":{"forged":true}}` : l))), { ok: true, pass: 'clean' });
attack('a leaf whose hash is upper case', leafEdit((ls) => ls.map((l, i) => (i === 2 ? l.replace(/"hash":"([0-9a-f]{64})"/, (_, h: string) => `"hash":"${h.toUpperCase()}"`) : l))), { ok: false, pass: 'full' });
attack('a leaf line that is null', leafEdit((ls) => [...ls.slice(0, 3), 'null', ...ls.slice(3)]), { ok: false, pass: 'full' });
attack('leaf lines that are [], 1, "x", true and {}', leafEdit((ls) => [...ls.slice(0, 3), '[]', '1', '"x"', 'true', '{}', ...ls.slice(3)]), { ok: false, pass: 'full' });
attack('a leaf line with a BOM', leafEdit((ls) => ls.map((l, i) => (i === 0 ? `\ufeff${l}` : l))), { ok: false, pass: 'full' });
attack('a leaf duplicated', leafEdit((ls) => [...ls, ls[4]!]), { ok: false, pass: 'full' });
attack('a leaf outside the run', leafEdit((ls) => [...ls, JSON.stringify({ ...JSON.parse(ls[0]!), index: ls.length })]), { ok: false, pass: 'full' });
// A leaf of a session the export does not hold must carry its event (its labels are not hashed).
attack('a leaf re-labelled to a session that is not exported', leafEdit((ls) => ls.map((l, i) => (i === 2 ? JSON.stringify({ ...JSON.parse(l), sessionId: 'elsewhere' }) : l))), { ok: false, pass: 'full', kinds: ['session_missing'] });
attack('a leaf re-labelled to a session that is not exported, as its first event', leafEdit((ls) => ls.map((l, i) => (i === 2 ? JSON.stringify({ ...JSON.parse(l), sessionId: 'elsewhere', seq: 0 }) : l))), { ok: false, pass: 'full' });
attack('leaves.jsonl with CRLF line ends', (d) => {
  writeFileSync(leavesPath(d), readFileSync(leavesPath(d), 'utf8').replace(/\n/g, '\r\n'));
  fixDigest(d, 'leaves.jsonl');
}, { ok: true, pass: 'full' });
attack('leaves.jsonl empty', (d) => {
  writeFileSync(leavesPath(d), '');
  fixDigest(d, 'leaves.jsonl');
}, { ok: false, pass: 'full' });
attack('leaves.jsonl missing', (d) => unlinkSync(leavesPath(d)), { ok: false, pass: 'full' });

// ---------------------------------------------------------------------------------------------
// The manifest: chain heads, the log section, the report's window.

const manifestEdit = (edit: (m: Record<string, any>) => void) => (d: string) => {
  const m = readManifest(d);
  edit(m);
  writeManifest(d, m);
};
attack('a chain head listed twice (same entry)', manifestEdit((m) => m.chainHeads.push({ ...m.chainHeads[3] })), { ok: false, pass: 'clean' });
attack('a chain head listed twice, the second entry wrong', manifestEdit((m) => m.chainHeads.push({ ...m.chainHeads[3], events: 99 })), { ok: false, pass: 'full' });
attack('a chain head listed twice, the FIRST entry wrong', manifestEdit((m) => m.chainHeads.splice(3, 0, { ...m.chainHeads[3], head: 'f'.repeat(64) })), { ok: false, pass: 'clean' });
attack('chain heads in another order', manifestEdit((m) => m.chainHeads.reverse()), { ok: false, pass: 'clean', kinds: ['merkle_root_mismatch'] });
attack('a chain head whose startedAt is another spelling of the same time', manifestEdit((m) => (m.chainHeads[2].startedAt = m.chainHeads[2].startedAt.replace('Z', '+00:00'))), { ok: false, pass: 'full' });
attack('a chain head whose events is not a whole number', manifestEdit((m) => (m.chainHeads[2].events += 0.5)), { ok: false, kinds: ['manifest_invalid'] });
attack('a chain head whose events is 0', manifestEdit((m) => (m.chainHeads[2].events = 0)), { ok: false, kinds: ['manifest_invalid'] });
// Found here: with events = n − ½ the chain has no last event, so no event was held to the head —
// a session cut short verified with its head (and so the Merkle root over the heads) unchanged.
attack('a session cut short, its count of events made n − ½, its last leaf re-labelled to another session', (d) => {
  const m = readManifest(d);
  const h = m.chainHeads.find((x: { sessionId: string }) => x.sessionId === 'redeem-after');
  const dropped = lines(eventsPath(d)).map((l) => JSON.parse(l) as Ev).find((e) => e.sessionId === 'redeem-after' && e.seq === h.events - 1)!;
  editEventLines(d, (ls) => ls.filter((l) => JSON.parse(l).hash !== dropped.hash));
  editLeafLines(d, (ls) => ls.map((l) => (JSON.parse(l).index === dropped.index ? JSON.stringify({ ...JSON.parse(l), sessionId: 'elsewhere', seq: 1 }) : l)));
  h.events -= 0.5;
  m.counts.events -= 1;
  writeManifest(d, m);
  fixDigest(d, FILES.events);
  fixDigest(d, 'leaves.jsonl');
}, { ok: false, kinds: ['manifest_invalid'] });
// Found here: the full pass listed every missing seq one by one, so a claim of 2^50 ran verify out of memory.
attack('a chain head claiming 2^50 events', manifestEdit((m) => (m.chainHeads[2].events = 2 ** 50)), { ok: false, pass: 'full', kinds: ['event_missing'] });
test('checkSessionBlock: a session claiming 2^50 events gets MAX_GAPS missing seqs listed, then one range', (t) => {
  const first = lines(eventsPath(base)).map((l) => JSON.parse(l) as Ev);
  const found = first.filter((e) => e.sessionId === first[0]!.sessionId).map((event, i) => ({ event: event as never, line: i + 1 }));
  const check = checkSessionBlock(first[0]!.sessionId, found, { events: 2 ** 50, head: 'f'.repeat(64) });
  t.is(check.gaps.length, MAX_GAPS + 1);
  t.deepEqual(check.gaps.at(-1), { seq: found.length + MAX_GAPS, through: 2 ** 50 - 1 });
  t.deepEqual(check.gaps[0], { seq: found.length, expectedHash: undefined });
});
attack('a chain head for a session id with a line end', manifestEdit((m) => m.chainHeads.push({ ...m.chainHeads[0], sessionId: 'x\ny' })), { ok: false, pass: 'full' });
attack('a chain head for the empty session id', manifestEdit((m) => m.chainHeads.push({ ...m.chainHeads[0], sessionId: '' })), { ok: false, pass: 'full' });
attack('the range moved so every session is outside it', manifestEdit((m) => (m.range = { ...m.range, from: '2000-01-01T00:00:00.000Z', to: '2000-01-02T00:00:00.000Z' })), { ok: false, pass: 'clean' });
attack('the report window cut to the last session', manifestEdit((m) => (m.report.limits = { ...m.report.limits, maxSessions: 1 })), { ok: false, pass: 'clean' });
attack('the report window cut to none', manifestEdit((m) => (m.report.limits = { ...m.report.limits, maxSessions: 0 })), { ok: false, pass: 'clean' });
attack('the report window cut by bytes and per-session size', manifestEdit((m) => (m.report.limits = { maxSessions: 3, maxBytes: 10, maxSessionBytes: 100 })), { ok: false, pass: 'clean' });
attack('the log section without a run (start = end)', manifestEdit((m) => (m.log.end = m.log.start)), { ok: false, pass: 'full' });
attack('the log section one leaf shorter', manifestEdit((m) => (m.log.end -= 1)), { ok: false, pass: 'full' });
attack('the log proof with an extra hash', manifestEdit((m) => m.log.proof.push('0'.repeat(64))), { ok: false, pass: 'full' });
attack('the log proof with a hash that is not hex', manifestEdit((m) => { m.log.treeSize += 1; m.log.proof.push('zz'); }), { ok: false, pass: 'full' });
// Found here: each of these made verify throw (TypeError, RangeError), whichever pass ran.
for (const [what, edit] of Object.entries<(m: Record<string, any>) => void>({
  'the report section removed': (m) => delete m.report,
  'the range removed': (m) => delete m.range,
  'range.from a number': (m) => (m.range.from = 5),
  'a log proof hash that is a number': (m) => (m.log.proof = [5]),
  'the log proof null': (m) => (m.log.proof = null),
  'log.start a string': (m) => (m.log.start = 'x'),
  'log.end past the tree': (m) => (m.log.end = 1e15),
  'the log section a string': (m) => (m.log = 'x'),
})) {
  attack(`${what} (manifest_invalid, not a crash)`, manifestEdit(edit), { ok: false, kinds: ['manifest_invalid'] });
}
attack('the log section removed (null)', manifestEdit((m) => (m.log = null)), { ok: true, pass: 'clean' });
attack('the vote key removed from the manifest', manifestEdit((m) => (m.votes = null)), { ok: false, pass: 'clean', kinds: ['vote_public_key_missing'] });

// ---------------------------------------------------------------------------------------------
// Forged events: re-chained and re-hashed, leaves and the log's root made to match, so every
// check of the events holds and only the derived files, counts and report can tell.

attack('forged: data keys left unsorted (hashes hold the long way)', (d) => forge(d, (es) => es, (e) => JSON.stringify({ ...e, data: Object.fromEntries(Object.entries(e.data).reverse()) })), { ok: false, pass: 'clean' });
attack('forged: integer-like keys in data ("10" before "9" canonically)', (d) => forge(d, (es) => {
  find(es, 'asker', 'analysis').data.tables = JSON.parse('{"10":["a"],"9":["b"],"read":[],"written":["t"]}');
  return es;
}), { ok: false, pass: 'clean' });
attack('forged: __proto__ and toJSON keys inside data', (d) => forge(d, (es) => {
  find(es, CTOR_ID, 'decision').data = JSON.parse('{"__proto__":{"rule":"x"},"action":"allow","reasons":["r"],"rule":"__proto__","toJSON":"x"}');
  return es;
}), { ok: false, pass: 'clean' });
// Sorted keys take event-hash.ts's JSON.stringify path: it must write what canonicalize writes.
attack('forged: an own __proto__ key first in sorted data (the JSON.stringify path)', (d) => forge(d, (es) => {
  find(es, CTOR_ID, 'decision').data = JSON.parse('{"__proto__":{"rule":"x"},"action":"allow","reasons":["r"],"rule":"__proto__"}');
  return es;
}), { ok: false, pass: 'clean', chunked: true });
attack('forged: keys beyond the BMP and above the surrogates, in UTF-16 order and not', (d) => forge(d, (es) => {
  find(es, 'asker', 'request').data.params = [JSON.parse('{"\ud83d\ude00":1,"\ue000":2}'), JSON.parse('{"\ue000":2,"\ud83d\ude00":1}'), JSON.parse('{"é":1,"z":2,"Z":3,"10":4,"9":5}')];
  return es;
}), { ok: false, pass: 'clean', chunked: true });
attack('forged: a lone surrogate in data (no hash can hold)', (d) => forge(d, (es) => es, (e, i) => (i === 4 ? JSON.stringify(e).replace('"data":{', '"data":{"x":"\\ud800",') : JSON.stringify(e))), { ok: false, pass: 'full' });
attack('forged: a surrogate pair written as escapes in data', (d) => forge(d, (es) => {
  find(es, SEPARATOR_ID, 'request').data.sql = 'SELECT \ud83d\ude42';
  return es;
}, (e) => JSON.stringify(e).replace(/\ud83d\ude42/g, '\\ud83d\\ude42')), { ok: false, pass: 'clean' });
attack('forged: huge integers and -0 in data', (d) => forge(d, (es) => {
  find(es, 'asker', 'request').data.params = [9007199254740993, -0, 1e21, 1e-7, 0.1];
  return es;
}, (e) => JSON.stringify(e).replace('[9007199254740992', '[9007199254740993')), { ok: false, pass: 'clean' });
attack('forged: rowCount 1.0 and durationMs 1e0 where counts read them', (d) => forge(d, (es) => es, (e) => JSON.stringify(e).replace('"rowCount":1,', '"rowCount":1.0,').replace('"durationMs":1,', '"durationMs":1e0,')), { ok: true, pass: 'clean' });
attack('forged: a session renamed to a quote-and-newline id', (d) => forge(d, (es) => es.map((e) => (e.sessionId === 'asker' ? { ...e, sessionId: 'ask"er\n' } : e))), { ok: false, pass: 'full' });
attack('forged: a session renamed to "hasOwnProperty"', (d) => forge(d, (es) => es.map((e) => (e.sessionId === 'asker' ? { ...e, sessionId: 'hasOwnProperty' } : e))), { ok: false, pass: 'clean' });
attack('forged: the asking session moved after both redemptions', (d) => forge(d, (es) => [...es.filter((e) => e.sessionId !== 'asker'), ...es.filter((e) => e.sessionId === 'asker')]), { ok: false, pass: 'clean' });
attack('forged: the redemption names an approval of another session, granted there', (d) => forge(d, (es) => {
  const held = es.find((e) => e.type === 'approval.granted');
  find(es, 'redeem-after', 'request').data.approvalId = held?.data.approvalId;
  find(es, 'redeem-after', 'decision').data.approval.id = held?.data.approvalId;
  return es;
}), { ok: false, pass: 'clean' });
attack('forged: an approval id of "__proto__" asked and redeemed', (d) => forge(d, (es) => {
  for (const e of es) {
    if (e.data.approvalId === APPROVAL) e.data.approvalId = '__proto__';
    if (e.data.approval?.id === APPROVAL) e.data.approval.id = '__proto__';
  }
  return es;
}), { ok: false, pass: 'clean' });
attack('forged: a status and rule of "__proto__" everywhere', (d) => forge(d, (es) => {
  for (const e of es) if (e.type === 'decision') e.data.rule = '__proto__';
  return es;
}), { ok: false, pass: 'clean' });
attack('forged: an unsigned vote added to the asking session', (d) => forge(d, (es) => {
  const at = es.findIndex((e) => e.sessionId === 'asker' && e.type === 'approval.requested');
  const vote: Ev = { ...es[at]!, seq: es[at]!.seq + 1, type: 'approval.granted', data: { approvalId: APPROVAL, approver: { issuer: 'i', subject: 's' } } };
  delete vote.index;
  return [...es.slice(0, at + 1), vote, ...es.slice(at + 1)];
}), { ok: false, pass: 'full', kinds: ['vote_unsigned'] });

attack('forged: the desk\'s signed vote copied into another session', (d) => forge(d, (es) => {
  const vote = es.find((e) => e.type === 'approval.granted')!;
  const at = es.findIndex((e) => e.sessionId === 'asker' && e.type === 'approval.requested');
  const copy: Ev = { ...structuredClone(vote), sessionId: 'asker', seq: es[at]!.seq + 1 };
  delete copy.index;
  const m = readManifest(d);
  m.log.eventsWithoutIndex += 1;
  writeManifest(d, m);
  return [...es.slice(0, at + 1), copy, ...es.slice(at + 1)];
}), { ok: false, pass: 'full', kinds: ['vote_signature_invalid'] });
attack('forged: the signed vote moved one session later (its own session no longer holds it)', (d) => forge(d, (es) => {
  const at = es.findIndex((e) => e.type === 'approval.granted');
  const vote = es[at]!;
  const rest = es.filter((_, i) => i !== at);
  // Re-numbered after the session it leaves; appended to the next session.
  let seq = 0;
  for (const e of rest) if (e.sessionId === vote.sessionId) e.seq = seq++;
  const next = rest.findIndex((e, i) => i >= at && e.sessionId !== vote.sessionId);
  const target = rest[next]!.sessionId;
  const end = rest.findLastIndex((e) => e.sessionId === target);
  return [...rest.slice(0, end + 1), { ...vote, sessionId: target, seq: rest[end]!.seq + 1 }, ...rest.slice(end + 1)];
}), { ok: false, pass: 'full', kinds: ['vote_signature_invalid'] });

// ---------------------------------------------------------------------------------------------
// Files that are not regular files: verify must answer, not read forever or crash.

attack('events.jsonl a directory', (d) => {
  unlinkSync(eventsPath(d));
  mkdirSync(eventsPath(d));
}, { ok: false, pass: 'full' });
attack('leaves.jsonl a directory', (d) => {
  unlinkSync(leavesPath(d));
  mkdirSync(leavesPath(d));
}, { ok: false, pass: 'full' });
// Before the fix these were read to the end — which never comes: memory ran out.
for (const file of [FILES.events, 'leaves.jsonl', FILES.verification, FILES.sessions, FILES.report]) {
  attack(`${file} a link to /dev/zero`, (d) => {
    unlinkSync(join(d, file));
    symlinkSync('/dev/zero', join(d, file));
  }, { ok: false, kinds: ['file_missing'] });
}
test.serial('manifest.json a link to /dev/zero: unreadable, in both passes', async (t) => {
  const dir = copyOf(t, base);
  unlinkSync(join(dir, 'manifest.json'));
  symlinkSync('/dev/zero', join(dir, 'manifest.json'));
  const fast = await verifyEvidence(dir, { workers: 0 });
  t.deepEqual(answer(fast), answer(await verifyEvidence(dir, { workers: 0, fullPass: true })));
  t.deepEqual(fast.problems.map((p) => p.kind), ['manifest_unreadable']);
});
attack('events.jsonl a link to /dev/null', (d) => {
  unlinkSync(eventsPath(d));
  symlinkSync('/dev/null', eventsPath(d));
}, { ok: false, pass: 'full' });

// ---------------------------------------------------------------------------------------------
// Signed checkpoints: an append dressed up as history (leaf_backdated), through both passes.

test.serial('both passes answer alike against signed checkpoints: a clean export, and one with backdated leaves', async (t) => {
  const state = tempDir(t, 'gatehouse-clean-pass-checkpoints-');
  const local = localCheckpointing(state, { createKey: true });
  const sign = async (at: number) => t.is((await checkpointOnce({ log: fx.log as never, signer: local.signer, store: local.store, clock: () => new Date(at) })).kind, 'signed');
  // A checkpoint "signed" an hour from now, then sessions appended now: their leaves come after
  // that checkpoint, yet they say they happened an hour before it — backdated.
  const now = Date.now();
  await sign(now + 60 * 60_000);
  const later = `backdated-${now}`;
  await fx.log.append(later, [{ type: 'request', data: { endpoint: 'query', connection: 'main', sql: 'SELECT 1' } }, { type: 'decision', data: { action: 'deny', rule: 'nothing-else', reasons: [] } }]);
  await sign(now + 2 * 60 * 60_000);
  const checkpoints = (await local.store.list()).checkpoints;
  const out = join(tempDir(t), 'export');
  await exportEvidence(fx.log, { votePublicKeyPem: DESK_PUBLIC_KEY, from: fx.from, to: new Date(now + 90 * 60_000), out, source: 'test', checkpoints, clock: () => new Date(now + 3 * 60 * 60_000) });
  for (const workers of [0, 2]) {
    const fast = await verifyEvidence(out, { workers, checkpoints: state });
    const full = await verifyEvidence(out, { workers, checkpoints: state, fullPass: true });
    t.deepEqual(answer(fast), answer(full), `workers ${workers}`);
    t.is(fast.pass, 'full');
    t.true(fast.problems.some((p) => p.kind === 'leaf_backdated' && p.sessionId === later), JSON.stringify(fast.problems.map((p) => p.kind)));
    t.truthy(fast.logRoot?.checkpoint, 'proved against a signed checkpoint');
  }
  // Without the backdated session's events the run still holds its leaves: the same verdict, both ways.
  const dir = copyOf(t, out);
  editEventLines(dir, (ls) => ls.filter((l) => JSON.parse(l).sessionId !== later));
  fixDigest(dir, FILES.events);
  const fast = await verifyEvidence(dir, { checkpoints: state });
  const full = await verifyEvidence(dir, { checkpoints: state, fullPass: true });
  t.deepEqual(answer(fast), answer(full));
});

// ---------------------------------------------------------------------------------------------
// Random damage, seeded (the seed is in the title: a failure replays): a few edits per case of
// the kinds above, at random places, in events.jsonl and leaves.jsonl, digests fixed.

type Damage = (ls: string[], random: () => number) => string[];
const CHARS = '0a}{",:\\ é\u0000';
const pick = (n: number, random: () => number) => Math.floor(random() * n);
const DAMAGE: Record<string, Damage> = {
  'a byte changed': (ls, r) => {
    const i = pick(ls.length, r);
    const at = pick(ls[i]!.length, r);
    return ls.map((l, k) => (k === i ? `${l.slice(0, at)}${CHARS[pick(CHARS.length, r)]}${l.slice(at + 1)}` : l));
  },
  'a line deleted': (ls, r) => ls.filter((_, k) => k !== pick(ls.length, r)),
  'a line duplicated': (ls, r) => {
    const i = pick(ls.length, r);
    return [...ls.slice(0, i), ls[i]!, ...ls.slice(i)];
  },
  'two neighbours swapped': (ls, r) => {
    const i = pick(ls.length - 1, r);
    return [...ls.slice(0, i), ls[i + 1]!, ls[i]!, ...ls.slice(i + 2)];
  },
  'a line moved': (ls, r) => {
    const i = pick(ls.length, r);
    const rest = ls.filter((_, k) => k !== i);
    const j = pick(rest.length + 1, r);
    return [...rest.slice(0, j), ls[i]!, ...rest.slice(j)];
  },
  'a number changed': (ls, r) => {
    const i = pick(ls.length, r);
    return ls.map((l, k) => (k === i ? l.replace(/":(\d+)/, (_, n: string) => `":${[Number(n) + 1, Math.max(0, Number(n) - 1), `${n}.0`, `-${n}`][pick(4, r)]}`) : l));
  },
};
for (let round = 0; round < 24; round++) {
  const seed = `clean-pass-attacks/${round}`;
  test.serial(`both passes answer alike: random damage, seed ${JSON.stringify(seed)}`, async (t) => {
    const random = mulberry32(seedState(seed));
    const dir = copyOf(t, round % 3 === 2 ? quoted : base);
    const done: string[] = [];
    for (let k = 0; k < 1 + pick(3, random); k++) {
      const file = random() < 0.7 ? FILES.events : 'leaves.jsonl';
      const [name, damage] = Object.entries(DAMAGE)[pick(Object.keys(DAMAGE).length, random)]!;
      writeLines(join(dir, file), damage(lines(join(dir, file)), random));
      done.push(`${name} in ${file}`);
    }
    fixDigest(dir, FILES.events);
    fixDigest(dir, 'leaves.jsonl');
    t.log(done.join('; '));
    await holdsAlike(t, dir, {});
  });
}

// ---------------------------------------------------------------------------------------------
// Beyond the clean pass: what the log coverage itself does not catch (found while attacking it).

// leaves.jsonl's sessionId and seq are not in the tree — only the event hash is — so an exporter
// could re-label a session's leaves (seq ≥ 1: "not a first event", once no event was needed) and
// leave the session out entirely: the root still held, no leaf was missing. Closed: every leaf of
// a session the export does not hold now carries its event (log-coverage.ts, verify-log.ts).
test.serial('an exporter that leaves a session out and re-labels its leaves as another session\'s later events is caught', async (t) => {
  const log = fx.log as unknown as ExportSource & LogLeafReader;
  const HIDE = 'redeem-before';
  const lying: ExportSource & LogLeafReader = {
    list: async (q) => (await log.list(q)).filter((s) => s.sessionId !== HIDE),
    read: (id) => log.read(id),
    readMany: (ids) => log.readMany!(ids),
    treeSize: () => log.treeSize(),
    leaves: async (a, b) => (await log.leaves(a, b)).map((l) => (l.sessionId === HIDE ? { ...l, sessionId: 'elsewhere', seq: l.seq + 1 } : l)),
  };
  const out = join(tempDir(t), 'export');
  await exportEvidence(lying, { votePublicKeyPem: DESK_PUBLIC_KEY, from: fx.from, to: new Date(Date.now() + 60_000), out, source: 'test' });
  t.false(readManifest(out).chainHeads.some((h: { sessionId: string }) => h.sessionId === HIDE));
  const r = await verifyEvidence(out, { fullPass: true });
  t.log(JSON.stringify({ ok: r.ok, problems: r.problems.slice(0, 5), sessions: r.checked.sessions }));
  t.false(r.ok, 'a session that started in the range was left out of the export');
  t.true(r.problems.some((p) => p.kind === 'session_missing'));
  const fast = await verifyEvidence(out);
  t.deepEqual({ ...fast, durationMs: 0, eventsPerSecond: 0, pass: undefined }, { ...r, durationMs: 0, eventsPerSecond: 0, pass: undefined });
});
