// What every SessionLog adapter must do (shared/ports.ts), as ava tests any adapter's test file
// registers with its own fixture: PostgreSQL and PGlite now, Firestore later. The tests share one
// store per adapter and run concurrently, so each uses session ids, subjects and (for listing)
// a time window of its own.
import { randomInt, randomUUID } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { verifyChain } from '../../shared/audit/chain.ts';
import type { AppendStats } from '../../shared/audit/append-path.ts';
import type { EventDraft, SessionEvent } from '../../shared/audit/events.ts';
import type { TransparentSessionLog } from '../../shared/ports.ts';

export interface SessionLogFixture {
  readonly log: TransparentSessionLog & { readonly appendStats?: () => AppendStats };
  /** Another log on the same store, not through anything cutOff() cuts: to look behind the first. */
  direct(): Promise<TransparentSessionLog>;
  /** Rewrites one stored event's data in place, as someone with direct access to the store could. */
  tamper(sessionId: string, seq: number, newData: object): Promise<void>;
  /** Cuts the log off from its store (server gone, network down). Optional: tests skip without it. */
  cutOff?(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface SessionLogFixtureOptions {
  readonly clock?: () => Date;
}

export type MakeSessionLog = (options?: SessionLogFixtureOptions) => Promise<SessionLogFixture>;

export function sessionLogContract(name: string, make: MakeSessionLog): void {
  const fixture = async (t: ExecutionContext, options?: SessionLogFixtureOptions) => {
    const f = await make(options);
    t.teardown(() => f.cleanup());
    return f;
  };

  test(`${name}: appends land in order and read back exactly as they were returned`, async (t) => {
    const clock = steppingClock(Date.UTC(2024, 4, 1, 12, 0, 0, 123));
    const { log } = await fixture(t, { clock });
    const sid = newId();
    const first = await log.append(sid, [request('alice'), { type: 'analysis', data: { kind: 'select' } }]);
    const second = await log.append(sid, [{ type: 'decision', data: { action: 'allow', rule: 'bots-read' } }]);
    t.deepEqual(first.map((e) => e.seq), [0, 1]);
    t.deepEqual(second.map((e) => e.seq), [2]);
    t.is(first[0]!.prevHash, null);
    t.is(second[0]!.prevHash, first[1]!.hash);
    t.is(first[0]!.at, '2024-05-01T12:00:00.123Z');
    t.is(second[0]!.at, '2024-05-01T12:00:01.123Z');
    const stored = await log.read(sid);
    t.deepEqual(stored, [...first, ...second]);
    t.deepEqual(verifyChain(sid, stored), []);
  });

  test(`${name}: an unknown session reads as empty, and an empty append writes nothing`, async (t) => {
    const { log } = await fixture(t);
    const sid = newId();
    t.deepEqual(await log.read(sid), []);
    t.deepEqual(await log.append(sid, []), []);
    t.deepEqual(await log.read(sid), []);
    t.deepEqual(await log.list({ after: sid }), [], 'a cursor naming no session matches nothing');
  });

  test(`${name}: an append is all or nothing; data that cannot be hashed is the caller's error`, async (t) => {
    const { log } = await fixture(t);
    const sid = newId();
    // JSON has no BigInt; RFC 8785 (I-JSON) refuses lone surrogates, which a JSON body can carry.
    for (const bad of [{ n: 10n }, { sql: 'SELECT 1 -- \ud800' }]) {
      await t.throwsAsync(log.append(sid, [request('alice'), { type: 'analysis', data: bad }]), { instanceOf: TypeError });
    }
    t.deepEqual(await log.read(sid), []);
  });

  test(`${name}: values come back exactly, so hashes still verify`, async (t) => {
    const { log } = await fixture(t);
    const sid = newId();
    // What jsonb or a careless encoder would change: NUL, escapes, astral characters, number
    // spellings, key order, keys that look special.
    const awkward = JSON.parse(
      '{"z":1,"a":{"y":[3,2,1],"b":null},"__proto__":{"x":1},"":"empty key","nul":"a\\u0000b",' +
        '"pair":"\\ud83d\\ude00","big":1e21,"tiny":5e-324,"max":1.7976931348623157e308,' +
        '"int":9007199254740993,"neg":-0.0,"frac":0.1,"esc":"\\"\\\\\\/\\b\\f\\n\\r\\t","rtl":"\u202e"}',
    ) as Record<string, unknown>;
    const written = await log.append(sid, [
      { type: 'request', data: { principal: { subject: 'a\u0000b', email: 'x@example.com' }, sql: "SELECT '\u0000'" } },
      { type: 'analysis', data: awkward },
    ]);
    const stored = await log.read(sid);
    t.deepEqual(stored, written);
    t.is((stored[1]!.data as Record<string, unknown>).nul, 'a\u0000b');
    t.deepEqual(verifyChain(sid, stored), []);
  });

  test(`${name}: a stored event changed behind the log's back fails verification`, async (t) => {
    const f = await fixture(t);
    const sid = newId();
    await f.log.append(sid, [request('mallory'), { type: 'decision', data: { action: 'deny', rule: 'nothing-else' } }]);
    t.deepEqual(verifyChain(sid, await f.log.read(sid)), []);
    await f.tamper(sid, 1, { action: 'allow', rule: 'nothing-else' });
    const stored = await f.log.read(sid);
    t.is((stored[1]!.data as Record<string, unknown>).action, 'allow', 'the store really was changed');
    t.deepEqual(verifyChain(sid, stored), [{ kind: 'hash_mismatch', seq: 1 }]);
  });

  test(`${name}: concurrent appends to one session get distinct seqs and one intact chain`, async (t) => {
    const { log } = await fixture(t);
    const sid = newId();
    const n = 20;
    // All start on an empty session, so they race for the first event as well as for the head.
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        log.append(sid, [
          { type: 'execution.started', data: { i, part: 'a' } },
          { type: 'execution.completed', data: { i, part: 'b' } },
        ]),
      ),
    );
    const stored = await log.read(sid);
    t.deepEqual(stored.map((e) => e.seq), Array.from({ length: 2 * n }, (_, i) => i));
    t.deepEqual(verifyChain(sid, stored), []);
    for (const events of results) {
      // Each append's events are adjacent and stored exactly as that append returned them.
      t.is(events[1]!.seq, events[0]!.seq + 1);
      t.deepEqual(stored.slice(events[0]!.seq, events[0]!.seq + 2), events);
    }
    t.deepEqual(new Set(results.map((r) => r[0]!.data.i)).size, n);
  });

  test(`${name}: every event gets a global index; 32 concurrent writers leave no gap and no duplicate`, async (t) => {
    const { log } = await fixture(t);
    const before = await log.treeSize();
    const n = 32;
    // Writers on sessions of their own and on one shared session, all at once.
    const shared = newId();
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        log.append(i % 2 ? shared : newId(), [request(`w${i}`), { type: 'analysis', data: { i } }]),
      ),
    );
    const mine = results.flat();
    const indices = mine.map((e) => e.index!);
    t.true(indices.every((i) => Number.isSafeInteger(i) && i >= before), 'each event has an index from this append on');
    t.is(new Set(indices).size, 2 * n, 'no two events share an index');
    for (const events of results) t.is(events[1]!.index, events[0]!.index! + 1, "one append's events are adjacent");
    const size = await log.treeSize();
    t.true(size >= before + 2 * n);
    // Other tests append to this store at the same time: the whole log must still be gap-free.
    const leaves = await log.leaves(0, size);
    t.deepEqual(leaves.map((l) => l.index), Array.from({ length: size }, (_, i) => i), 'indices 0 … size-1, each once');
    const byIndex = new Map(leaves.map((l) => [l.index, l]));
    for (const e of mine) t.deepEqual(byIndex.get(e.index!), { index: e.index, sessionId: e.sessionId, seq: e.seq, hash: e.hash });
    // And read() gives each event back with its index.
    const stored = await log.read(shared);
    t.deepEqual(stored.map((e) => e.index).sort((a, b) => a! - b!), mine.filter((e) => e.sessionId === shared).map((e) => e.index).sort((a, b) => a! - b!));
    t.deepEqual(await log.leaves(size + 1e9, size + 1e9 + 10), [], 'nothing beyond the tree');
    await t.throwsAsync(async () => log.leaves(-1, 2), { instanceOf: TypeError });
  });

  test(`${name}: list pages through a time range in (startedAt, sessionId) order, each session once`, async (t) => {
    const base = windowStart();
    const at = (s: number) => new Date(base + s * 1000);
    let now = at(0);
    const { log } = await fixture(t, { clock: () => now });
    const tag = randomUUID().slice(0, 8);
    const subjects = [`alice-${tag}`, `bob-${tag}`];
    // Start times in seconds from the window's start; several share a second, so the id decides.
    const starts = [-1, 0, 0, 0, 1, 2, 2, 3, 5, 8, 9, 10];
    const sessions: { id: string; start: number; subject: string }[] = [];
    for (const [i, start] of starts.entries()) {
      const id = `${tag}-${String.fromCharCode(109 - i)}`; // ids descend while times ascend
      const subject = subjects[i % 2]!;
      now = at(start);
      await log.append(id, [request(subject, { connection: 'demo', sql: `SELECT ${i}` })]);
      now = at(start + 0.5);
      await log.append(id, [{ type: 'analysis', data: {} }]);
      sessions.push({ id, start, subject });
    }
    const byOrder = (a: { id: string; start: number }, b: { id: string; start: number }) =>
      a.start - b.start || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    const from = at(0);
    const to = at(10); // exclusive: the session starting at 10 s is out, as is the one at -1 s
    const expected = sessions.filter((s) => s.start >= 0 && s.start < 10).sort(byOrder);

    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 20; page++) {
      const got = await log.list({ from, to, limit: 3, ...(after ? { after } : {}) });
      t.true(got.length <= 3);
      if (got.length === 0) break;
      seen.push(...got.map((s) => s.sessionId));
      after = got[got.length - 1]!.sessionId;
    }
    t.deepEqual(seen, expected.map((s) => s.id));

    const [firstOne] = await log.list({ from, to, limit: 1 });
    const s0 = expected[0]!;
    t.deepEqual(firstOne, {
      sessionId: s0.id,
      startedAt: at(s0.start).toISOString(),
      lastAt: at(s0.start + 0.5).toISOString(),
      events: 2,
      status: 'analyzed',
      subject: s0.subject,
      email: `${s0.subject}@example.com`,
      connection: 'demo',
      sql: `SELECT ${sessions.indexOf(s0)}`,
    });

    const bobs = await log.list({ from, to, subject: subjects[1] });
    t.deepEqual(bobs.map((s) => s.sessionId), expected.filter((s) => s.subject === subjects[1]).map((s) => s.id));
    t.deepEqual(await log.list({ from, to, limit: 0 }), []);
  });

  test(`${name}: list derives each session's status from its last event`, async (t) => {
    const base = windowStart();
    const { log } = await fixture(t, { clock: () => new Date(base) });
    const cases: [string, EventDraft[]][] = [
      ['received', [request('s')]],
      ['rejected_request', [request('s', { rejected: { code: 'model_required', message: 'no model' } })]],
      ['rejected_request', [request('s'), { type: 'analysis', data: { error: { code: 'sql_unparsable' } } }]],
      ['analyzed', [request('s'), { type: 'analysis', data: { kind: 'select' } }]],
      ['decided', [request('s'), { type: 'decision', data: { action: 'allow' } }]],
      ['denied', [request('s'), { type: 'decision', data: { action: 'deny' } }]],
      ['pending_approval', [request('s'), { type: 'decision', data: { action: 'approve' } }]],
      ['pending_approval', [request('s'), { type: 'approval.requested', data: {} }]],
      ['approved', [request('s'), { type: 'approval.granted', data: { approvalId: 'a-1' } }]],
      ['rejected', [request('s'), { type: 'approval.rejected', data: {} }]],
      ['running', [request('s'), { type: 'execution.started', data: {} }]],
      ['result', [request('s'), { type: 'execution.result', data: { rows: [[1]], txid: '7' } }]],
      ['committed', [request('s'), { type: 'execution.result', data: {} }, { type: 'execution.committed', data: {} }]],
      ['rolled_back', [request('s'), { type: 'execution.rolled_back', data: { reason: { code: 'audit_unavailable' } } }]],
      // The abandoned event's outcome decides; anything but a proven one reads unknown.
      ['unknown', [request('s'), { type: 'execution.abandoned', data: { outcome: 'unknown' } }]],
      ['committed', [request('s'), { type: 'execution.abandoned', data: { outcome: 'committed' } }]],
      ['rolled_back', [request('s'), { type: 'execution.abandoned', data: { outcome: 'rolled_back' } }]],
      ['unknown', [request('s'), { type: 'execution.abandoned', data: { outcome: 'COMMITTED' } }]],
      ['unknown', [request('s'), { type: 'execution.abandoned', data: {} }]],
      // Logs written before the outcome protocol still read as they did.
      ['executed', [request('s'), { type: 'execution.completed', data: { rows: [[1]] } }]],
      ['failed', [request('s'), { type: 'execution.failed', data: { error: { code: 'execution_failed' } } }]],
    ];
    const tag = randomUUID().slice(0, 8);
    const ids = cases.map((_, i) => `${tag}-${String(i).padStart(2, '0')}`);
    await Promise.all(cases.map(([, drafts], i) => log.append(ids[i]!, drafts)));
    const listed = await log.list({ from: new Date(base), to: new Date(base + 1) });
    t.deepEqual(
      listed.map((s) => [s.sessionId, s.status]),
      cases.map(([status], i) => [ids[i], status]),
    );
  });

  test(`${name}: a log cut off from its store refuses to write, fail closed`, async (t) => {
    const f = await fixture(t);
    if (!f.cutOff) {
      t.pass('this fixture cannot cut its store off');
      return;
    }
    const sid = newId();
    await f.log.append(sid, [request('alice')]);
    await f.cutOff();
    await t.throwsAsync(f.log.append(sid, [{ type: 'analysis', data: {} }]), { code: 'audit_unavailable' });
    await t.throwsAsync(f.log.append(newId(), [request('alice')]), { code: 'audit_unavailable' });
    await t.throwsAsync(f.log.read(sid), { code: 'audit_unavailable' });
    await t.throwsAsync(f.log.list({}), { code: 'audit_unavailable' });
  });

  // --- group commit (issue 17 item 3): one append path, concurrent appends in one durable write ---

  test(`${name}: 32 concurrent writers × many appends: nothing lost, duplicated or reordered; chains valid, global index gap-free`, async (t) => {
    const f = await fixture(t);
    const { log } = f;
    const writers = 32;
    const rounds = 8;
    const shared = [newId(), newId()];
    const before = log.appendStats?.();
    // Each writer appends one after another (as one request does) to its own session, and to
    // two sessions all writers share; all writers at once.
    const own = Array.from({ length: writers }, () => newId());
    const returned: SessionEvent[][] = [];
    await Promise.all(
      own.map(async (sid, w) => {
        for (let k = 0; k < rounds; k++) {
          const drafts: EventDraft[] = k === 0 ? [request(`w${w}`)] : Array.from({ length: 1 + (k % 3) }, (_, j) => ({ type: 'analysis', data: { w, k, j } }) as EventDraft);
          const mine = await log.append(sid, drafts);
          returned.push(mine);
          // Resolved means durable: the events are there for anyone to read, now.
          t.deepEqual((await log.read(sid)).slice(-mine.length), mine);
          returned.push(await log.append(shared[k % 2]!, [{ type: 'execution.started', data: { w, k } }]));
        }
      }),
    );
    const all = returned.flat();
    // Own sessions: each writer's events in the order it appended them, seq dense from 0.
    for (const [w, sid] of own.entries()) {
      const stored = await log.read(sid);
      t.deepEqual(verifyChain(sid, stored), [], `writer ${w}`);
      t.deepEqual(stored.map((e) => e.seq), stored.map((_, i) => i));
      const ks = stored.slice(1).map((e) => (e.data as { k: number }).k);
      t.deepEqual(ks, [...ks].sort((a, b) => a - b), 'appended in order, stored in order');
      t.deepEqual(stored, all.filter((e) => e.sessionId === sid).sort((a, b) => a.seq - b.seq), 'exactly what the appends returned');
    }
    // Shared sessions: every writer's event once, one intact chain, and each writer's own in order.
    for (const sid of shared) {
      const stored = await log.read(sid);
      t.deepEqual(verifyChain(sid, stored), []);
      t.is(stored.length, (writers * rounds) / 2);
      const seen = stored.map((e) => `${(e.data as { w: number }).w}/${(e.data as { k: number }).k}`);
      t.is(new Set(seen).size, seen.length, 'no event twice');
      for (let w = 0; w < writers; w++) {
        const ks = stored.filter((e) => (e.data as { w: number }).w === w).map((e) => (e.data as { k: number }).k);
        t.deepEqual(ks, [...ks].sort((a, b) => a - b));
      }
    }
    // Global index: unique, and the whole log 0 … size-1 with each leaf the event at it.
    const indices = all.map((e) => e.index!);
    t.is(new Set(indices).size, all.length, 'no two events share an index');
    const size = await log.treeSize();
    const leaves = await log.leaves(0, size);
    t.deepEqual(leaves.map((l) => l.index), Array.from({ length: size }, (_, i) => i));
    const byIndex = new Map(leaves.map((l) => [l.index, l]));
    for (const e of all) t.deepEqual(byIndex.get(e.index!), { index: e.index, sessionId: e.sessionId, seq: e.seq, hash: e.hash });
    // And they really were grouped: fewer durable writes than appends.
    const after = log.appendStats?.();
    if (before && after) {
      const appends = writers * rounds * 2;
      t.true(after.writes - before.writes < appends, `${after.writes - before.writes} writes for ${appends} appends`);
      t.true(after.largestBatch > 1);
      t.true(after.largestBatch <= 64);
    }
  });

  test(`${name}: a batch that cannot be written rejects every one of its callers, and nothing of theirs is stored`, async (t) => {
    const f = await fixture(t);
    if (!f.cutOff) {
      t.pass('this fixture cannot cut its store off');
      return;
    }
    const warm = newId();
    await f.log.append(warm, [request('warm')]);
    await f.cutOff();
    const sids = Array.from({ length: 32 }, () => newId());
    const outcomes = await Promise.allSettled(sids.map((sid, i) => f.log.append(i === 0 ? warm : sid, i === 0 ? [{ type: 'analysis', data: {} }] : [request(`b${i}`), { type: 'analysis', data: { i } }])));
    for (const o of outcomes) {
      t.is(o.status, 'rejected');
      if (o.status === 'rejected') t.is((o.reason as { code?: string }).code, 'audit_unavailable');
    }
    const direct = await f.direct();
    t.teardown(() => direct.close());
    for (const sid of sids.slice(1)) t.deepEqual(await direct.read(sid), [], 'a rejected caller left nothing behind');
    t.is((await direct.read(warm)).length, 1);
  });

  test(`${name}: a member that lost a race is retried on its own; the others of its batch still land`, async (t) => {
    const a = await fixture(t);
    const b = await fixture(t);
    // b writes first; a has never seen the session, assumes it is new, and its batch collides.
    const contested = newId();
    await b.log.append(contested, [request('b')]);
    const others = Array.from({ length: 15 }, () => newId());
    const before = a.log.appendStats?.();
    const [mine, ...rest] = await Promise.all([
      a.log.append(contested, [{ type: 'analysis', data: { by: 'a' } }]),
      ...others.map((sid, i) => a.log.append(sid, [request(`o${i}`)])),
    ]);
    t.is(mine![0]!.seq, 1, 'chained on what b wrote');
    const stored = await a.log.read(contested);
    t.deepEqual(verifyChain(contested, stored), []);
    t.is(stored.length, 2);
    for (const [i, sid] of others.entries()) t.deepEqual(await a.log.read(sid), rest[i]);
    const after = a.log.appendStats?.();
    if (before && after) t.true(after.lostRaces > before.lostRaces, 'the first batch was refused as a whole and retried');
  });

  test(`${name}: compare-and-append: an append placed after a head lands only there; once the session moved it is refused, never re-chained`, async (t) => {
    const a = await fixture(t);
    const b = await fixture(t);
    const sid = newId();
    const [started] = await a.log.append(sid, [request('a')]);
    const at = { seq: started!.seq, hash: started!.hash };
    // b (another instance) appends first; a has not seen it and still holds the old head.
    await b.log.append(sid, [{ type: 'analysis', data: { by: 'b' } }]);
    const others = Array.from({ length: 7 }, () => newId());
    const [refused, ...rest] = await Promise.allSettled([
      a.log.append(sid, [{ type: 'analysis', data: { by: 'a' } }], { after: at }),
      ...others.map((o, i) => a.log.append(o, [request(`c${i}`)])),
    ]);
    t.is(refused!.status, 'rejected');
    const reason = (refused as PromiseRejectedResult).reason as { code?: string; details?: Record<string, unknown> };
    t.is(reason.code, 'audit_unavailable');
    t.is(reason.details?.reason, 'session_moved');
    t.is(reason.details?.recorded, 'no');
    const stored = await a.log.read(sid);
    t.deepEqual(stored.map((e) => e.data.by ?? null), [null, 'b'], 'nothing of the refused append is stored');
    t.deepEqual(verifyChain(sid, stored), []);
    for (const r of rest) t.is(r.status, 'fulfilled', 'the members batched with it land');
    // Placed right after the head it names, it lands.
    const last = stored.at(-1)!;
    const [placed] = await a.log.append(sid, [{ type: 'analysis', data: { by: 'a2' } }], { after: { seq: last.seq, hash: last.hash } });
    t.is(placed!.seq, last.seq + 1);
    t.deepEqual(verifyChain(sid, await a.log.read(sid)), []);
  });

  test(`${name}: compare-and-append is not refused when the race it lost was another instance's append to another session (the global log's next index)`, async (t) => {
    const a = await fixture(t);
    const b = await fixture(t);
    const sid = newId();
    const [started] = await a.log.append(sid, [request('a')]);
    // Another instance appends elsewhere: where a thinks the global log's next index is, is taken.
    await b.log.append(newId(), [request('b')]);
    const [placed] = await a.log.append(sid, [{ type: 'analysis', data: { by: 'a' } }], { after: { seq: started!.seq, hash: started!.hash } });
    t.is(placed!.seq, started!.seq + 1);
    t.deepEqual(verifyChain(sid, await a.log.read(sid)), []);
  });

  test(`${name}: a member the log cannot hash is refused alone; the appends batched with it land`, async (t) => {
    const { log } = await fixture(t);
    const sids = Array.from({ length: 8 }, () => newId());
    const outcomes = await Promise.allSettled(sids.map((sid, i) => log.append(sid, [request(`m${i}`), { type: 'analysis', data: i === 3 ? { n: 10n } : { i } }])));
    outcomes.forEach((o, i) => t.is(o.status, i === 3 ? 'rejected' : 'fulfilled', `member ${i}`));
    t.true((outcomes[3] as PromiseRejectedResult).reason instanceof TypeError, "the caller's own error, not an outage");
    t.deepEqual(await log.read(sids[3]!), []);
    for (const [i, sid] of sids.entries()) if (i !== 3) t.deepEqual(verifyChain(sid, await log.read(sid)), []);
  });

  test(`${name}: close is idempotent`, async (t) => {
    const { log } = await fixture(t);
    await log.close();
    await t.notThrowsAsync(log.close());
  });
}

function request(subject: string, more: Record<string, unknown> = {}): EventDraft {
  return {
    type: 'request',
    data: {
      endpoint: 'query',
      principal: { issuer: 'https://issuer.test', subject, email: `${subject}@example.com`, groups: [] },
      agent: { model: 'test-model-1' },
      ...more,
    },
  };
}

function newId(): string {
  return randomUUID();
}

/** One clock tick per call, one second apart: events of one test get distinct, known times. */
function steppingClock(startMs: number): () => Date {
  let n = 0;
  return () => new Date(startMs + 1000 * n++);
}

/** A stretch of time no other test writes into (they use the real clock, or a window of their own). */
function windowStart(): number {
  return Date.UTC(2100, 0, 1) + randomInt(0, 2 ** 34) * 1000;
}
