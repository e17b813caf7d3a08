// The tamper suite against the global Merkle log and its signed checkpoints, run on real
// PostgreSQL and on Google's Firestore emulator (log-tamper.*.e2e.test.ts). Each case is an attack
// by someone holding the writer's rights (INSERT, or create()) or the store owner's (triggers
// off: UPDATE, DELETE) — never the checkpoint key — and is named by the code verify must report.
import { createHash, generateKeyPairSync, randomInt, randomUUID, sign } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { chainEvents, hashEvent } from '../../shared/audit/chain.ts';
import type { EventDraft, SessionEvent } from '../../shared/audit/events.ts';
import { exportEvidence } from '../../shared/evidence/export.ts';
import type { ProblemKind } from '../../shared/evidence/problems.ts';
import { verifyEvidence, type VerifyResult } from '../../shared/evidence/verify.ts';
import type { TransparentSessionLog } from '../../shared/ports.ts';
import { CheckpointFailure, checkpointOnce } from '../../shared/transparency/checkpointer.ts';
import { localCheckpointing } from '../../shared/transparency/local.ts';
import { checkpointName } from '../../shared/transparency/checkpoint-store.ts';
import { CHECKPOINT_FORMAT, signedBytes, type Checkpoint } from '../../shared/transparency/checkpoint.ts';
import { sessionCoverage } from '../../shared/cli/checkpoint.ts';
import { reconcile, type ReconcileReport } from '../../shared/reconcile/reconcile.ts';
import { runCli } from './helpers.ts';

/** What an attacker can do to one backend's store, past the adapter. */
export interface TamperStore {
  readonly log: TransparentSessionLog;
  /**
   * Writer's rights: create rows/documents as the gateway's role could (no update, no delete).
   * `storedData` replaces what is stored as the event's data (any text; on Firestore any value).
   */
  insertRaw(events: readonly (SessionEvent & { index: number; storedData?: unknown })[], session?: ListingRow): Promise<void>;
  /**
   * Events with no place in the global log (no index, no leaf): with the writer's create() on
   * Firestore; on PostgreSQL the store refuses that INSERT (gatehouse_check_log_index), so only the
   * owner past the triggers can.
   */
  insertUnindexed(events: readonly SessionEvent[], session?: ListingRow): Promise<void>;
  /** Owner's rights, past the create-only triggers. */
  deleteEvent(sessionId: string, seq: number): Promise<void>;
  deleteSession(sessionId: string): Promise<void>;
  /**
   * The event is no longer read as its session's, while its leaf stays in the log: on Firestore its
   * event document deleted (the gateway's service account may delete: Firestore IAM has no
   * create-only role), on PostgreSQL its row moved to another session id by the owner.
   */
  hideEvent(sessionId: string, seq: number): Promise<void>;
  /** Overwrites the event (sessionId, seq) with `event`: its content, hash, prevHash and index. */
  replaceEvent(event: SessionEvent & { index: number }): Promise<void>;
  setStartedAt(sessionId: string, at: Date): Promise<void>;
  setSubject(sessionId: string, subject: string): Promise<void>;
  /** A session row (document) and no event: what the writer's INSERT (create) right alone can make. */
  insertSessionOnly(sessionId: string, session: ListingRow): Promise<void>;
  /** The listing copy of the request's SQL, as an owner rewriting a request would keep it consistent. */
  setSql(sessionId: string, sql: string): Promise<void>;
  close(): Promise<void>;
}

/** The listing copy an attacker writes beside a forged session: consistent with its first event. */
export interface ListingRow {
  readonly startedAt: Date;
  readonly subject: string;
  readonly email: string;
  readonly connection: string;
  readonly sql: string;
}

export type MakeTamperStore = (clock: () => Date) => Promise<TamperStore>;

const MIN = 60_000;

interface Scenario {
  readonly store: TamperStore;
  readonly T: number;
  readonly from: Date;
  readonly to: Date;
  readonly stateDir: string;
  readonly denied: SessionEvent[];
  readonly read: SessionEvent[];
  setNow(ms: number): void;
  /** Signs a checkpoint at this time; resolves to the failure's code when the signer refuses. */
  checkpoint(at: number): Promise<string>;
  exportTo(name: string, opts?: { withCheckpoints?: boolean }): Promise<{ dir: string; logProblems: readonly { kind: string }[]; sessions: readonly string[] }>;
  /** One reconciliation pass over the range, as `gatehouse sessions reconcile` runs it. */
  reconcile(): Promise<ReconcileReport>;
  verify(dir: string, more?: { expectRoot?: string; publicKey?: string; checkpoints?: string }): Promise<VerifyResult>;
}

const request = (subject: string, sql: string): EventDraft => ({
  type: 'request',
  data: { endpoint: 'query', principal: { issuer: 'https://issuer.test', subject, email: subject, groups: [] }, agent: { model: 'test-model' }, connection: 'main', sql },
});

export function logTamperContract(name: string, make: MakeTamperStore): void {
  async function scenario(t: ExecutionContext): Promise<Scenario> {
    const T = Date.UTC(2100, 0, 1) + randomInt(0, 2 ** 30) * 1000;
    let now = T - 30 * MIN;
    const store = await make(() => new Date(now));
    const stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-log-tamper-'));
    t.teardown(async () => {
      await store.close();
      rmSync(stateDir, { recursive: true, force: true });
    });
    const local = localCheckpointing(stateDir, { createKey: true });
    const checkpoint = async (at: number) => {
      now = at;
      try {
        const r = await checkpointOnce({ log: store.log, signer: local.signer, store: local.store, clock: () => new Date(at) });
        return r.kind;
      } catch (e) {
        if (e instanceof CheckpointFailure) return e.code;
        throw e;
      }
    };
    t.is(await checkpoint(T - 30 * MIN), 'signed', 'a checkpoint before the range');
    now = T;
    const denied = await store.log.append(randomUUID(), [
      request('mallory@acme.com', 'DROP TABLE customers'),
      { type: 'analysis', data: { riskClass: 'destructive' } },
      { type: 'decision', data: { action: 'deny', rule: 'nothing-else', reasons: ['no rule'] } },
    ]);
    now = T + 1000;
    const readId = randomUUID();
    const read = [
      ...(await store.log.append(readId, [request('bot@acme.com', 'SELECT 1'), { type: 'decision', data: { action: 'allow', rule: 'bots-read' } }])),
      ...(await store.log.append(readId, [{ type: 'execution.started', data: {} }, { type: 'execution.completed', data: { command: 'SELECT', rowCount: 1, rows: [[1]] } }])),
    ];
    t.is(await checkpoint(T + 20 * MIN), 'signed', 'a checkpoint after the sessions');
    const from = new Date(T - 10 * MIN);
    const to = new Date(T + 25 * MIN);
    let n = 0;
    return {
      store,
      T,
      from,
      to,
      stateDir,
      denied,
      read,
      setNow: (ms) => (now = ms),
      checkpoint,
      async exportTo(label, opts = {}) {
        const dir = join(stateDir, `export-${label}-${n++}`);
        const checkpoints = opts.withCheckpoints === false ? undefined : (await local.store.list()).checkpoints;
        const s = await exportEvidence(store.log, { from, to, out: dir, source: 'test', checkpoints, clock: () => new Date(T + 60 * MIN) });
        const sessions = readFileSync(join(dir, 'sessions.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { sessionId: string }).sessionId);
        return { dir, logProblems: s.logProblems, sessions };
      },
      reconcile() {
        // No session here is open, so the target is never asked; a listing that throws would fail the pass.
        const target = { transactionStatus: () => Promise.reject(new Error('the target is not asked about closed sessions')) };
        return reconcile({ sessions: store.log, target, reconciledBy: 'test', clock: () => new Date(T + 60 * MIN) }, { since: from });
      },
      verify(dir, more = {}) {
        return verifyEvidence(dir, { checkpoints: more.checkpoints ?? stateDir, publicKey: more.publicKey, expectRoot: more.expectRoot });
      },
    };
  }

  const kinds = (r: VerifyResult) => [...new Set(r.problems.map((p) => p.kind))].sort();
  const has = (t: ExecutionContext, r: VerifyResult, kind: ProblemKind, where: { sessionId?: string } = {}) => {
    t.false(r.ok, 'verify must not say ok');
    const hit = r.problems.find((p) => p.kind === kind && (where.sessionId === undefined || p.sessionId === where.sessionId));
    t.truthy(hit, `expected ${kind} ${JSON.stringify(where)}, got ${JSON.stringify(kinds(r))}: ${JSON.stringify(r.problems.slice(0, 5), null, 1)}`);
  };

  test(`${name}: a clean log exports and verifies against its signed checkpoints`, async (t) => {
    const s = await scenario(t);
    t.is(await s.checkpoint(s.T + 40 * MIN), 'signed');
    const { dir, logProblems } = await s.exportTo('clean');
    t.deepEqual(logProblems, []);
    const r = await s.verify(dir);
    t.deepEqual(r.problems, []);
    t.true(r.ok);
    t.truthy(r.logRoot?.checkpoint, 'proved against a signed checkpoint');
    t.is(r.checkpointsChecked, 3);
  });

  test(`${name}: leaf_backdated — a correctly chained approval.granted appended to a denied session with the writer's rights`, async (t) => {
    const s = await scenario(t);
    const head = s.denied.at(-1)!;
    const size = await s.store.log.treeSize();
    // Exactly what the gateway would have written, dated back to just after the denial.
    const [forged] = chainEvents(head.sessionId, { seq: head.seq, hash: head.hash }, [{ type: 'approval.granted', data: { by: 'alice@acme.com', quorumMet: true } }], new Date(s.T + 2000));
    await s.store.insertRaw([{ ...forged!, index: size }]);
    t.is(await s.checkpoint(s.T + 40 * MIN), 'signed', 'the signer cannot tell an append from a forgery: it is in the log for good');
    const r = await s.verify((await s.exportTo('backdated')).dir);
    has(t, r, 'leaf_backdated', { sessionId: head.sessionId });
  });

  test(`${name}: an execution.started appended to a denied session (writer's rights, correctly chained): the reconciler leaves it, named — never its execution.abandoned on it`, async (t) => {
    const s = await scenario(t);
    const head = s.denied.at(-1)!;
    const size = await s.store.log.treeSize();
    const [forged] = chainEvents(head.sessionId, { seq: head.seq, hash: head.hash }, [{ type: 'execution.started', data: { connection: 'main', readOnly: false, maxRows: 10, statementTimeoutMs: 50 } }], new Date(s.T + 2000));
    await s.store.insertRaw([{ ...forged!, index: size }]);
    const before = await s.store.log.read(head.sessionId);
    const r = await s.reconcile();
    t.deepEqual(r.closedSessions, []);
    t.is(r.skipped.sessionTampered, 1);
    t.deepEqual(r.tamperedSessions, [{ sessionId: head.sessionId, code: 'event_out_of_protocol' }]);
    t.deepEqual(await s.store.log.read(head.sessionId), before, 'nothing appended to it');
  });

  test(`${name}: listing_tampered — a session row with no event (writer's rights): named on its row, in export, left alone by the reconciler`, async (t) => {
    const s = await scenario(t);
    const sid = randomUUID();
    await s.store.insertSessionOnly(sid, { startedAt: new Date(s.T + 3000), subject: 'alice@acme.com', email: 'alice@acme.com', connection: 'main', sql: 'DROP TABLE customers' });
    const listed = await s.store.log.list({ from: s.from, to: s.to });
    t.like(listed.find((r) => r.sessionId === sid), { listingTampered: 'first event', status: 'unknown', events: 0 });
    t.true(listed.some((r) => r.sessionId === s.denied[0]!.sessionId && r.listingTampered === undefined), 'the rest is listed as it was');
    const e = await s.exportTo('session-only');
    t.true(e.logProblems.some((p) => p.kind === 'listing_tampered' && (p as { sessionId?: string }).sessionId === sid), JSON.stringify(e.logProblems));
    t.false(e.sessions.includes(sid));
    const r = await s.reconcile();
    t.is(r.skipped.listingTampered, 1);
    t.is(r.errors, 0);
  });

  test(`${name}: leaf_backdated — a whole forged session inserted with the writer's rights`, async (t) => {
    const s = await scenario(t);
    const sid = randomUUID();
    const size = await s.store.log.treeSize();
    const at = new Date(s.T + 3000);
    const events = chainEvents(sid, null, [request('alice@acme.com', 'DROP TABLE customers'), { type: 'decision', data: { action: 'allow', rule: 'dba-everything' } }, { type: 'execution.completed', data: { command: 'DROP TABLE' } }], at);
    await s.store.insertRaw(events.map((e, i) => ({ ...e, index: size + i })), { startedAt: at, subject: 'alice@acme.com', email: 'alice@acme.com', connection: 'main', sql: 'DROP TABLE customers' });
    t.is(await s.checkpoint(s.T + 40 * MIN), 'signed');
    const r = await s.verify((await s.exportTo('forged-session')).dir);
    has(t, r, 'leaf_backdated', { sessionId: sid });
  });

  test(`${name}: leaf_inserted — events outside the global log (no index): a forged session, and an execution appended to a denied one`, async (t) => {
    const s = await scenario(t);
    const sid = randomUUID();
    const at = new Date(s.T + 3000);
    const forged = chainEvents(sid, null, [request('alice@acme.com', 'DROP TABLE customers'), { type: 'decision', data: { action: 'allow', rule: 'dba-everything' } }, { type: 'execution.completed', data: { command: 'DROP TABLE' } }], at);
    await s.store.insertUnindexed(forged, { startedAt: at, subject: 'alice@acme.com', email: 'alice@acme.com', connection: 'main', sql: 'DROP TABLE customers' });
    t.is(await s.checkpoint(s.T + 40 * MIN), 'signed', 'nothing in the log changed');
    const whole = await s.exportTo('unindexed-session');
    t.true(whole.logProblems.some((p) => p.kind === 'leaf_inserted' && (p as { sessionId?: string }).sessionId === sid), `export names it: ${JSON.stringify(whole.logProblems)}`);

    const s2 = await scenario(t);
    const head = s2.denied.at(-1)!;
    const [ran] = chainEvents(head.sessionId, { seq: head.seq, hash: head.hash }, [{ type: 'execution.completed', data: { command: 'DROP TABLE' } }], new Date(s2.T + 2000));
    await s2.store.insertUnindexed([ran!]);
    t.is(await s2.checkpoint(s2.T + 40 * MIN), 'signed');
    const appended = await s2.exportTo('unindexed-append');
    t.true(appended.logProblems.some((p) => p.kind === 'leaf_inserted' && (p as { sessionId?: string }).sessionId === head.sessionId), `export names it: ${JSON.stringify(appended.logProblems)}`);

    // Verify finds them itself, from the events, in both passes — not from the export's word (its
    // verification.json), which a folder regenerated by the writer would not carry.
    for (const [dir, sessionId, stateDir] of [[whole.dir, sid, s.stateDir], [appended.dir, head.sessionId, s2.stateDir]] as const) {
      const fast = await verifyEvidence(dir, { checkpoints: stateDir });
      const full = await verifyEvidence(dir, { checkpoints: stateDir, fullPass: true });
      has(t, fast, 'leaf_inserted', { sessionId });
      t.deepEqual(full.problems, fast.problems, 'both passes name the same problems');
      t.is(fast.pass, 'full', 'the clean pass does not prove it clean');
    }
    // Without the checkpoints, nothing dates the forged session: verify has only the export's own
    // verdict to go on (verification.json says the log did not hold), and does not say ok.
    const alone = await verifyEvidence(whole.dir);
    t.deepEqual(kinds(alone), ['export_reported_problems']);
    t.false(alone.ok);
  });

  test(`${name}: a global index chosen by the writer (a gap, far ahead): refused by the store, or the signer refuses and export names the gap — never signed, never a crash`, async (t) => {
    for (const ahead of [3, 1e12]) {
      const s = await scenario(t);
      const size = await s.store.log.treeSize();
      const sid = randomUUID();
      const [e] = chainEvents(sid, null, [request('alice@acme.com', 'DROP TABLE customers')], new Date(s.T + 3000));
      const refused = await s.store.insertRaw([{ ...e!, index: size + ahead }], { startedAt: new Date(e!.at), subject: 'alice@acme.com', email: 'alice@acme.com', connection: 'main', sql: 'DROP TABLE customers' }).then(
        () => false,
        () => true,
      );
      // The gateway's own appends carry on either way.
      const [next] = await s.store.log.append(randomUUID(), [request('bot@acme.com', 'SELECT 2')]);
      t.true(Number.isSafeInteger(next!.index));
      const outcome = await s.checkpoint(s.T + 40 * MIN);
      if (refused) {
        t.is(await s.store.log.treeSize(), size + 1, 'the store took no leaf at a chosen index');
        t.is(outcome, 'signed');
        continue;
      }
      t.is(outcome, 'log_inconsistent', 'a log with a gap is never signed');
      if (ahead > 1e6) {
        // A log claiming 10^12 leaves cannot be exported: a clear error with its code, not a crash.
        await t.throwsAsync(s.exportTo('far-ahead'), { code: 'audit_tampered' } as never);
        continue;
      }
      const ex = await s.exportTo(`gap-${ahead}`);
      t.true(ex.logProblems.some((p) => p.kind === 'leaf_missing'), `export names the gap: ${JSON.stringify(ex.logProblems)}`);
    }
  });

  // One planted event whose stored data cannot be read made every reader of its session throw:
  // the listing, the session's read, and so every export (shared/audit/stored-data.ts).
  for (const [spelling, storedData] of [
    ['cut short', '{"committed":'],
    ['JSON followed by more text', '{"committed":true} {"rolled_back":true}'],
  ] as const) test(`${name}: an event stored with data that is not JSON (${spelling}; writer's rights): read as unreadable, listed, exported, named by verify — never a crash`, async (t) => {
    const s = await scenario(t);
    const head = s.read.at(-1)!;
    const [planted] = chainEvents(head.sessionId, { seq: head.seq, hash: head.hash }, [{ type: 'execution.committed', data: {} }], new Date(s.T + 3000));
    await s.store.insertRaw([{ ...planted!, index: await s.store.log.treeSize(), storedData }]);
    const events = await s.store.log.read(head.sessionId);
    t.is(events.at(-1)!.type, 'unreadable' as never);
    t.like(events.at(-1)!.data, { storedType: 'execution.committed' });
    // The listing answers (its status is the last event's type alone, by design: views that claim
    // more read the session whole, as the PostgreSQL views test checks).
    t.truthy((await s.store.log.list({ from: s.from, to: s.to, limit: 100 })).find((x) => x.sessionId === head.sessionId));
    t.is(await s.checkpoint(s.T + 40 * MIN), 'signed');
    const { dir } = await s.exportTo('unreadable');
    const r = await s.verify(dir);
    has(t, r, 'event_modified', { sessionId: head.sessionId });
    t.false(r.problems.some((p) => p.sessionId === s.denied[0]!.sessionId), 'the other session verifies');
  });

  test(`${name}: leaf_missing — the last event of a session deleted by the owner`, async (t) => {
    const s = await scenario(t);
    const last = s.read.at(-1)!;
    await s.store.deleteEvent(last.sessionId, last.seq);
    t.is(await s.checkpoint(s.T + 40 * MIN), 'log_inconsistent', 'the signer refuses to sign a shrunk log');
    const e = await s.exportTo('truncated');
    t.true(e.logProblems.some((p) => p.kind === 'leaf_missing'), 'export itself says so');
    has(t, await s.verify(e.dir), 'leaf_missing');
  });

  test(`${name}: leaf_missing — the last event of a session hidden from its read, its leaf kept: sessions show is NOT covered`, async (t) => {
    const s = await scenario(t);
    const sid = s.read[0]!.sessionId;
    t.true((await sessionCoverage(s.store.log, await s.store.log.read(sid), s.stateDir)).covered, 'the genuine session is covered');
    const last = s.read.at(-1)!;
    await s.store.hideEvent(sid, last.seq);
    t.is((await s.store.log.read(sid)).length, s.read.length - 1, 'the store no longer shows it');
    const c = await sessionCoverage(s.store.log, await s.store.log.read(sid), s.stateDir);
    t.false(c.covered, `the signed log holds an event of the session that is not shown: ${c.reason}`);
    t.regex(c.reason, /leaf_missing/);
    const e = await s.exportTo('hidden');
    t.true(e.logProblems.some((p) => p.kind === 'leaf_missing'), `export says so: ${JSON.stringify(e.logProblems)}`);
    // Verify: the leaf's event missing from the export (Firestore), or the event carried with the
    // leaf not the one signed there (PostgreSQL: the moved row, under another session id).
    const v = await s.verify(e.dir);
    t.false(v.ok);
    t.true(v.problems.some((p) => p.kind === 'leaf_missing' || p.kind === 'leaf_inserted'), JSON.stringify(v.problems.map((p) => p.kind)));
  });

  test(`${name}: leaf_missing — a whole session deleted by the owner`, async (t) => {
    const s = await scenario(t);
    await s.store.deleteSession(s.denied[0]!.sessionId);
    t.is(await s.checkpoint(s.T + 40 * MIN), 'log_inconsistent');
    has(t, await s.verify((await s.exportTo('deleted')).dir), 'leaf_missing');
  });

  test(`${name}: root_mismatch — two events' places in the log swapped by the owner`, async (t) => {
    const s = await scenario(t);
    const [a, b] = [s.read[0]!, s.read[1]!];
    await s.store.replaceEvent({ ...a, index: b.index! });
    await s.store.replaceEvent({ ...b, index: a.index! });
    t.is(await s.checkpoint(s.T + 40 * MIN), 'log_inconsistent');
    const e = await s.exportTo('reordered');
    t.true(e.logProblems.some((p) => p.kind === 'root_mismatch'));
    has(t, await s.verify(e.dir), 'root_mismatch');
  });

  test(`${name}: root_mismatch — a request's SQL rewritten and its whole chain re-hashed by the owner`, async (t) => {
    const s = await scenario(t);
    const rewritten = rehash(s.denied, (e) => (e.seq === 0 ? { ...e, data: { ...e.data, sql: 'SELECT 1' } } : e));
    for (const e of rewritten) await s.store.replaceEvent(e);
    await s.store.setSql(s.denied[0]!.sessionId, 'SELECT 1');
    t.is(await s.checkpoint(s.T + 40 * MIN), 'log_inconsistent');
    const e = await s.exportTo('rehashed');
    const r = await s.verify(e.dir);
    has(t, r, 'root_mismatch');
    t.false(r.problems.some((p) => p.kind === 'event_modified'), 'the chain itself holds: only the signed root catches it');
  });

  test(`${name}: session_missing — started_at moved to 1990, the session still cannot leave the export`, async (t) => {
    const s = await scenario(t);
    const sid = s.denied[0]!.sessionId;
    await s.store.setStartedAt(sid, new Date('1990-01-01T00:00:00Z'));
    t.is(await s.checkpoint(s.T + 40 * MIN), 'signed', 'the column is not in the tree: nothing signed changed');
    const e = await s.exportTo('moved');
    t.true(e.logProblems.some((p) => p.kind === 'session_missing'), 'export itself says so');
    has(t, await s.verify(e.dir), 'session_missing', { sessionId: sid });
  });

  // Before, one such row made every time-range listing, every export and the reconciler throw
  // audit_tampered, for everyone: the writer could deny all evidence with one INSERT.
  test(`${name}: listing_tampered — the subject column changed: that row is named, the rest of the listing, the export and the reconciler go on`, async (t) => {
    const s = await scenario(t);
    const sid = s.denied[0]!.sessionId;
    await s.store.setSubject(sid, 'someone-else@acme.com');
    t.is(await s.checkpoint(s.T + 40 * MIN), 'signed');
    const listed = await s.store.log.list({ from: s.from, to: s.to });
    const row = listed.find((r) => r.sessionId === sid);
    t.like(row, { listingTampered: 'subject', status: 'unknown' });
    t.is(row?.subject, undefined, 'the edited copy is not shown as who');
    t.is(row?.sql, undefined);
    t.like(listed.find((r) => r.sessionId === s.read[0]!.sessionId), { subject: 'bot@acme.com', sql: 'SELECT 1' });
    t.is(listed.find((r) => r.sessionId === s.read[0]!.sessionId)?.listingTampered, undefined);
    const bySubject = await s.store.log.list({ subject: 'someone-else@acme.com' });
    t.deepEqual(bySubject.map((r) => [r.sessionId, r.listingTampered]), [[sid, 'subject']]);
    const e = await s.exportTo('subject');
    t.true(e.logProblems.some((p) => p.kind === 'listing_tampered' && (p as { sessionId?: string }).sessionId === sid), JSON.stringify(e.logProblems));
    t.true(e.sessions.includes(sid), 'its events say it started in the range: still exported');
    t.false((await s.verify(e.dir)).ok, 'evidence from a store found edited is never ok');
    const r = await s.reconcile();
    t.is(r.skipped.listingTampered, 1);
    t.is(r.errors, 0);
  });

  test(`${name}: listing_tampered — the SQL copy of a denied DROP rewritten to SELECT 1: named, never shown as SELECT 1`, async (t) => {
    const s = await scenario(t);
    const sid = s.denied[0]!.sessionId;
    await s.store.setSql(sid, 'SELECT 1');
    const listed = await s.store.log.list({ from: s.from, to: s.to });
    const row = listed.find((r) => r.sessionId === sid);
    t.like(row, { listingTampered: 'sql', status: 'unknown' });
    t.is(row?.sql, undefined, 'the rewritten copy is not shown');
    const e = await s.exportTo('sql-copy');
    t.true(e.logProblems.some((p) => p.kind === 'listing_tampered' && (p as { sessionId?: string }).sessionId === sid));
    t.true(e.sessions.includes(sid));
    const events = readFileSync(join(e.dir, 'events.jsonl'), 'utf8');
    t.true(events.includes('DROP TABLE customers'), 'export holds what the log holds');
  });

  test(`${name}: listing_tampered — started_at of a later session moved into the range: named, and not exported as the range's`, async (t) => {
    const s = await scenario(t);
    s.setNow(s.T + 30 * MIN);
    const later = await s.store.log.append(randomUUID(), [request('bot@acme.com', 'SELECT 2'), { type: 'decision', data: { action: 'allow', rule: 'bots-read' } }]);
    const sid = later[0]!.sessionId;
    await s.store.setStartedAt(sid, new Date(s.T + 2000));
    t.is(await s.checkpoint(s.T + 40 * MIN), 'signed');
    const listed = await s.store.log.list({ from: s.from, to: s.to });
    t.like(listed.find((r) => r.sessionId === sid), { listingTampered: 'started_at', status: 'unknown' });
    const e = await s.exportTo('moved-in');
    t.true(e.logProblems.some((p) => p.kind === 'listing_tampered' && (p as { sessionId?: string }).sessionId === sid), JSON.stringify(e.logProblems));
    t.false(e.sessions.includes(sid), 'its own first event dates it after the range');
    t.deepEqual([...e.sessions].sort(), [s.denied[0]!.sessionId, s.read[0]!.sessionId].sort());
    t.false((await s.verify(e.dir)).ok);
  });

  test(`${name}: listing_tampered — a forged session (writer's rights) whose first event does not hash: named on its row, never refusing the listing or the export`, async (t) => {
    const s = await scenario(t);
    const sid = randomUUID();
    const size = await s.store.log.treeSize();
    const at = new Date(s.T + 3000);
    const events = chainEvents(sid, null, [request('alice@acme.com', 'DROP TABLE customers'), { type: 'decision', data: { action: 'allow', rule: 'dba-everything' } }], at);
    const wrong = events.map((e, i) => ({ ...e, index: size + i, ...(i === 0 ? { hash: 'f'.repeat(64) } : {}) }));
    await s.store.insertRaw(wrong, { startedAt: at, subject: 'alice@acme.com', email: 'alice@acme.com', connection: 'main', sql: 'DROP TABLE customers' });
    const listed = await s.store.log.list({ from: s.from, to: s.to });
    t.deepEqual(
      listed.map((r) => [r.sessionId, r.listingTampered ?? null]).sort(),
      [[sid, 'first event'], [s.denied[0]!.sessionId, null], [s.read[0]!.sessionId, null]].sort(),
    );
    t.is(listed.find((r) => r.sessionId === sid)?.status, 'unknown', 'not "executed" on its own word');
    const e = await s.exportTo('forged-first');
    t.true(e.logProblems.some((p) => p.kind === 'listing_tampered' && (p as { sessionId?: string }).sessionId === sid), JSON.stringify(e.logProblems));
    t.true(e.sessions.includes(s.read[0]!.sessionId));
    t.false((await s.verify(e.dir)).ok);
    t.is((await s.reconcile()).skipped.listingTampered, 1);
  });

  test(`${name}: root_mismatch / not_covered — an export regenerated consistently from a rewritten store`, async (t) => {
    const s = await scenario(t);
    const genuine = await s.exportTo('genuine');
    const genuineRoot = (await s.verify(genuine.dir)).logRoot!.rootHash;
    for (const e of rehash(s.denied, (e) => (e.seq === 0 ? { ...e, data: { ...e.data, sql: 'SELECT 1' } } : e))) await s.store.replaceEvent(e);
    await s.store.setSql(s.denied[0]!.sessionId, 'SELECT 1');
    // The attacker exports without the checkpoints: a folder consistent with itself.
    const forged = await s.exportTo('regenerated', { withCheckpoints: false });
    const alone = await verifyEvidence(forged.dir);
    t.true(alone.ok, 'on its own the folder is consistent');
    has(t, await s.verify(forged.dir), 'not_covered');
    has(t, await verifyEvidence(forged.dir, { expectRoot: genuineRoot }), 'root_mismatch');
  });

  test(`${name}: checkpoint and file attacks — another key, a fork, no key, no source, edited report and population — each named, never ok`, async (t) => {
    const s = await scenario(t);
    t.is(await s.checkpoint(s.T + 40 * MIN), 'signed');
    const { dir } = await s.exportTo('base');
    t.true((await s.verify(dir)).ok);
    const folder = join(s.stateDir, 'checkpoints');
    const copyCheckpoints = () => {
      const d = mkdtempSync(join(tmpdir(), 'gatehouse-cps-'));
      t.teardown(() => rmSync(d, { recursive: true, force: true }));
      cpSync(folder, d, { recursive: true });
      return d;
    };
    const publicKey = join(s.stateDir, 'checkpoint-public-key.pem');
    const latest = (await localCheckpointing(s.stateDir).store.list()).checkpoints.at(-1)!;

    // checkpoint_signature_invalid: a checkpoint of a bigger, made-up tree signed with another key.
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const otherPem = other.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const forgedBody = { format: CHECKPOINT_FORMAT, logId: latest.logId, treeSize: latest.treeSize + 5, rootHash: 'ab'.repeat(32), time: new Date(s.T + 50 * MIN).toISOString() } as const;
    const forged: Checkpoint = { ...forgedBody, signature: sign('sha256', signedBytes(forgedBody), other.privateKey).toString('base64'), consistency: null };
    const withForged = copyCheckpoints();
    writeFileSync(join(withForged, checkpointName(forged)), JSON.stringify(forged));
    has(t, await s.verify(dir, { checkpoints: withForged, publicKey }), 'checkpoint_signature_invalid');
    // The whole source checked with another key (someone swapped the published key): nothing verifies.
    const otherKeyFile = join(withForged, '..', `other-${randomUUID()}.pem`);
    writeFileSync(otherKeyFile, otherPem);
    t.teardown(() => rmSync(otherKeyFile, { force: true }));
    has(t, await s.verify(dir, { checkpoints: folder, publicKey: otherKeyFile }), 'checkpoint_signature_invalid');

    // checkpoint_inconsistent: the key holder signs a second history of the same size (a fork).
    const forkDir = copyCheckpoints();
    const local = localCheckpointing(s.stateDir);
    const forkBody = { format: CHECKPOINT_FORMAT, logId: latest.logId, treeSize: latest.treeSize, rootHash: createHash('sha256').update('another history').digest('hex'), time: new Date(s.T + 45 * MIN).toISOString() } as const;
    const fork: Checkpoint = { ...forkBody, signature: (await local.signer.sign(signedBytes(forkBody))).toString('base64'), consistency: null };
    writeFileSync(join(forkDir, checkpointName(fork)), JSON.stringify(fork));
    has(t, await s.verify(dir, { checkpoints: forkDir, publicKey }), 'checkpoint_inconsistent');

    // public_key_missing and checkpoint_source_unreadable: never "ok".
    has(t, await s.verify(dir, { checkpoints: copyCheckpoints() }), 'public_key_missing');
    has(t, await s.verify(dir, { checkpoints: join(s.stateDir, 'no-such-folder'), publicKey }), 'checkpoint_source_unreadable');
    has(t, await s.verify(dir, { checkpoints: folder, publicKey: join(s.stateDir, 'no-such-key.pem') }), 'public_key_missing');

    // derived_file_mismatch: report.html and population.csv edited, their digests fixed in the manifest.
    for (const [file, edit] of [
      ['report.html', (text: string) => text.replace('DROP TABLE customers', 'SELECT 1 /* harmless */')],
      ['population.csv', (text: string) => text.replace('mallory@acme.com', 'bot@acme.com')],
    ] as const) {
      const copy = mkdtempSync(join(tmpdir(), 'gatehouse-edit-'));
      t.teardown(() => rmSync(copy, { recursive: true, force: true }));
      cpSync(dir, copy, { recursive: true });
      const before = readFileSync(join(copy, file), 'utf8');
      const after = edit(before);
      t.not(after, before, `the edit changes ${file}`);
      writeFileSync(join(copy, file), after);
      const manifest = JSON.parse(readFileSync(join(copy, 'manifest.json'), 'utf8'));
      manifest.files[file] = { ...manifest.files[file], sha256: createHash('sha256').update(after).digest('hex'), bytes: Buffer.byteLength(after) };
      writeFileSync(join(copy, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
      const r = await s.verify(copy);
      has(t, r, 'derived_file_mismatch');
      t.false(r.problems.some((p) => p.kind === 'file_changed'), 'the digests were fixed: only re-deriving catches it');
    }

    // The CLI: named codes in the text and in --json, exit 1.
    const cli = await runCli(['evidence', 'verify', dir, '--checkpoints', forkDir, '--public-key', publicKey, '--json']);
    t.is(cli.code, 1);
    t.true((JSON.parse(cli.stdout || cli.stderr).problems as { kind: string }[]).some((p) => p.kind === 'checkpoint_inconsistent'));
    const text = await runCli(['evidence', 'verify', dir, '--checkpoints', join(s.stateDir, 'nowhere'), '--public-key', publicKey]);
    t.is(text.code, 1);
    t.regex(text.stderr, /\[checkpoint_source_unreadable\]/);
    const good = await runCli(['evidence', 'verify', dir, '--checkpoints', s.stateDir, '--expect-root', latest.rootHash]);
    t.is(good.code, 0, good.stderr);
    const wrongRoot = await runCli(['evidence', 'verify', dir, '--checkpoints', s.stateDir, '--expect-root', 'cd'.repeat(32)]);
    t.is(wrongRoot.code, 1);
    t.regex(wrongRoot.stderr, /\[root_mismatch\]/);
  });
}

/** The session's events with `edit` applied and every hash and link recomputed, indices kept. */
function rehash(events: readonly SessionEvent[], edit: (e: SessionEvent) => SessionEvent): (SessionEvent & { index: number })[] {
  const out: (SessionEvent & { index: number })[] = [];
  let prev: string | null = null;
  for (const original of events) {
    const e = edit(original);
    const unhashed = { sessionId: e.sessionId, seq: e.seq, type: e.type, at: e.at, data: e.data, prevHash: prev };
    const hash = hashEvent(unhashed);
    out.push({ ...unhashed, hash, index: original.index! });
    prev = hash;
  }
  return out;
}
