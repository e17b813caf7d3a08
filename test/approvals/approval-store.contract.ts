// What every ApprovalStore adapter must do (shared/ports.ts), as ava tests an adapter's test file
// registers with its own fixture. The tests share one store per adapter and run concurrently, so
// each uses approval ids of its own and, for listing, an expiry window of its own.
import { randomUUID } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { castVote, redeem } from '../../shared/approvals/state.ts';
import type { Approval } from '../../shared/approvals/types.ts';
import { GatehouseError } from '../../shared/errors.ts';
import type { ApprovalStore } from '../../shared/ports.ts';
import type { Principal } from '../../shared/identity/principal.ts';
import { alice, approveDecision, bot, held } from './fixtures.ts';

export interface ApprovalStoreFixture {
  readonly store: ApprovalStore;
  /** Cuts the store off from its database. Optional: tests skip without it. */
  cutOff?(): Promise<void>;
  /** Whether a second connection can read while a transaction is open (false for PGlite: one session). */
  readonly isolated: boolean;
  /**
   * The record text as stored, read and written behind the store's back — what the query path's
   * UPDATE right on the approval store allows (issue 14 hardening: malformed rows).
   */
  rawRecord(id: string): Promise<string | undefined>;
  writeRawRecord(id: string, record: string): Promise<void>;
  cleanup(): Promise<void>;
}

export type MakeApprovalStore = () => Promise<ApprovalStoreFixture>;

/** An approval with its own id and, when given, its own creation time and lifetime. */
export function approval(over: Partial<Approval> = {}, createdAt?: Date, ttlMs = 30 * 60_000): Approval {
  const base = held({ quorum: over.quorum ?? 1 });
  const created = createdAt ?? new Date();
  return {
    ...base,
    id: randomUUID(),
    sessionId: randomUUID(),
    createdAt: created.toISOString(),
    expiresAt: new Date(created.getTime() + ttlMs).toISOString(),
    notification: { state: 'pending', attempts: 0, nextAttemptAt: created.toISOString() },
    ...over,
  };
}

const person = (n: number): Principal => ({ issuer: 'http://127.0.0.1:8080/dev', subject: `dba-${n}@acme.com`, email: `dba-${n}@acme.com`, groups: ['dba'] });

export function approvalStoreContract(name: string, make: MakeApprovalStore): void {
  const fixture = async (t: ExecutionContext) => {
    const f = await make();
    t.teardown(() => f.cleanup());
    return f;
  };

  test(`${name}: create then get gives back exactly what was stored; unknown ids read as undefined`, async (t) => {
    const { store } = await fixture(t);
    const a = approval({ sql: "SELECT 'nul \u0000 inside'" });
    await store.create(a);
    t.deepEqual(await store.get(a.id), a);
    t.is(await store.get(randomUUID()), undefined);
    t.is(await store.get('bad\u0000id'), undefined);
  });

  test(`${name}: create runs beforeCommit before anyone can see the approval, and stores nothing if it throws`, async (t) => {
    const f = await fixture(t);
    const a = approval();
    let seenInside = 'not checked' as Approval | undefined | 'not checked';
    await f.store.create(a, async (stored) => {
      t.deepEqual(stored, a);
      if (f.isolated) seenInside = await f.store.get(a.id);
    });
    if (f.isolated) t.is(seenInside, undefined, 'not visible before commit');
    t.deepEqual(await f.store.get(a.id), a);

    const b = approval();
    const boom = new GatehouseError('audit_unavailable', 'log down');
    const thrown = await t.throwsAsync(f.store.create(b, async () => Promise.reject(boom)));
    t.is(thrown, boom, 'the callback error comes out unchanged');
    t.is(await f.store.get(b.id), undefined);
  });

  test(`${name}: update applies the change, writes nothing when it returns the record unchanged, and undefined for no approval`, async (t) => {
    const { store } = await fixture(t);
    const a = approval();
    await store.create(a);
    const approved = await store.update(a.id, (x) => castVote(x, { by: alice, verdict: 'approve', comment: 'ok', now: new Date() }));
    t.is(approved?.state, 'approved');
    t.deepEqual(await store.get(a.id), approved);
    const same = await store.update(a.id, (x) => x);
    t.deepEqual(same, approved);
    let called = false;
    t.is(await store.update(randomUUID(), (x) => ((called = true), x)), undefined);
    t.false(called);
  });

  test(`${name}: a refusing change or a failing beforeCommit leaves the approval as it was, with the error unchanged`, async (t) => {
    const { store } = await fixture(t);
    const a = approval();
    await store.create(a);
    const refused = await t.throwsAsync(store.update(a.id, (x) => redeem(x, { principal: bot, connection: 'main', sql: x.sql, params: x.params, decision: approveDecision(), sessionId: 's', now: new Date(), digest: x.digest })));
    t.is((refused as GatehouseError).code, 'approval_pending');
    const boom = new Error('log down');
    const failed = await t.throwsAsync(
      store.update(a.id, (x) => castVote(x, { by: alice, verdict: 'approve', comment: 'ok', now: new Date() }), async () => Promise.reject(boom)),
    );
    t.is(failed, boom);
    t.deepEqual(await store.get(a.id), a, 'unchanged');
  });

  test(`${name}: of 20 concurrent redemptions of one approval exactly one succeeds`, async (t) => {
    const { store } = await fixture(t);
    const a = approval();
    await store.create(a);
    await store.update(a.id, (x) => castVote(x, { by: alice, verdict: 'approve', comment: 'ok', now: new Date() }));
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        store.update(
          a.id,
          (x) => redeem(x, { principal: bot, connection: 'main', sql: x.sql, params: x.params, decision: approveDecision(), sessionId: `s-${i}`, now: new Date(), digest: x.digest }),
          // Hold the lock a moment, as the gateway does while it records the decision.
          () => new Promise((r) => setTimeout(r, 5)),
        ),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    t.is(ok.length, 1);
    const codes = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as GatehouseError).code] : []));
    t.deepEqual([...new Set(codes)], ['approval_used']);
    const stored = await store.get(a.id);
    t.is(stored?.state, 'used');
    t.is(stored?.redemption?.sessionId, (ok[0] as PromiseFulfilledResult<Approval>).value.redemption?.sessionId);
  });

  test(`${name}: 20 concurrent votes by different people are all kept (no lost update)`, async (t) => {
    const { store } = await fixture(t);
    const a = approval({ quorum: 25 });
    await store.create(a);
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.update(a.id, (x) => castVote(x, { by: person(i), verdict: 'approve', comment: `ok ${i}`, now: new Date() }))));
    const stored = await store.get(a.id);
    t.is(stored?.votes.length, 20);
    t.is(new Set(stored?.votes.map((v) => v.by.subject)).size, 20);
    t.is(stored?.state, 'pending');
  });

  test(`${name}: list filters by state, expiry and due notification, oldest first, with a limit`, async (t) => {
    const { store } = await fixture(t);
    // A window of its own, far from every other test's approvals.
    const base = new Date(Date.UTC(2090, 0, 1) + Math.floor(Math.random() * 1e6) * 3_600_000);
    const h = 3_600_000;
    const mk = (minutesAfterBase: number, over: Partial<Approval> = {}) => approval(over, new Date(base.getTime() + minutesAfterBase * 60_000), h);
    const p1 = mk(0);
    const p2 = mk(1);
    const published = mk(2, { notification: { state: 'published', attempts: 1, messageId: '9' } });
    const rejected = mk(3, { state: 'rejected' });
    for (const a of [p2, rejected, p1, published]) await store.create(a);
    const inWindow = { expiresAfter: new Date(base.getTime() + h - 1), expiredBy: new Date(base.getTime() + h + 10 * 60_000) };
    const ids = (xs: Approval[]) => xs.map((x) => x.id);
    t.deepEqual(ids(await store.list({ ...inWindow })), [p1.id, p2.id, published.id, rejected.id]);
    t.deepEqual(ids(await store.list({ ...inWindow, states: ['pending'] })), [p1.id, p2.id, published.id]);
    t.deepEqual(ids(await store.list({ ...inWindow, states: ['rejected', 'used'] })), [rejected.id]);
    t.deepEqual(ids(await store.list({ ...inWindow, limit: 2 })), [p1.id, p2.id]);
    t.deepEqual(ids(await store.list({ ...inWindow, notificationDueBy: new Date(base.getTime() + 60_000) })), [p1.id, p2.id]);
    t.deepEqual(ids(await store.list({ ...inWindow, notificationDueBy: new Date(base.getTime()) })), [p1.id]);
    t.deepEqual(ids(await store.list({ expiresAfter: new Date(base.getTime() + h + 2 * 60_000), expiredBy: inWindow.expiredBy })), [rejected.id]);
    // Publishing clears the due time.
    await store.update(p1.id, (x) => ({ ...x, notification: { state: 'published', attempts: 1, messageId: '1' } }));
    t.deepEqual(ids(await store.list({ ...inWindow, notificationDueBy: new Date(base.getTime() + 60_000) })), [p2.id]);
  });

  test(`${name}: a malformed row makes get and update throw approval_mismatch row_malformed; update calls back nothing and writes nothing`, async (t) => {
    const f = await fixture(t);
    for (const shape of MALFORMED) {
      const a = approval({ params: [SECRET, 1] });
      await f.store.create(a);
      const bad = shape.record(a);
      await f.writeRawRecord(a.id, bad);
      const expected = { approvalId: a.id, reason: 'row_malformed', field: shape.field };
      const got = await t.throwsAsync(f.store.get(a.id), undefined, `get, ${shape.name}`);
      t.is((got as GatehouseError).code, 'approval_mismatch', shape.name);
      t.like((got as GatehouseError).details, expected, shape.name);
      t.false(`${got!.message} ${JSON.stringify((got as GatehouseError).details)}`.includes(SECRET), `no value of the row in the error (${shape.name})`);
      for (const withBeforeCommit of [false, true]) {
        const called: string[] = [];
        const up = await t.throwsAsync(
          f.store.update(
            a.id,
            (x) => (called.push('change'), { ...x, state: 'approved' }),
            withBeforeCommit ? async () => void called.push('beforeCommit') : undefined,
          ),
          undefined,
          `update, ${shape.name}`,
        );
        t.is((up as GatehouseError).code, 'approval_mismatch', shape.name);
        t.like((up as GatehouseError).details, expected, shape.name);
        t.deepEqual(called, [], `no callback runs (${shape.name})`);
        t.is(await f.rawRecord(a.id), bad, `the row is left as it was (${shape.name})`);
      }
    }
  });

  test(`${name}: list leaves malformed rows out and lists the rest, the limit counting only the approvals listed`, async (t) => {
    const f = await fixture(t);
    const base = new Date(Date.UTC(2095, 0, 1) + Math.floor(Math.random() * 1e6) * 3_600_000);
    const h = 3_600_000;
    const made = MALFORMED.flatMap((_, i) => [approval({}, new Date(base.getTime() + (2 * i) * 60_000), h), approval({}, new Date(base.getTime() + (2 * i + 1) * 60_000), h)]);
    for (const a of made) await f.store.create(a);
    // Every other one, oldest first, is made malformed: each shape once.
    const bad = made.filter((_, i) => i % 2 === 1);
    for (const [i, a] of bad.entries()) await f.writeRawRecord(a.id, MALFORMED[i]!.record(a));
    const good = made.filter((_, i) => i % 2 === 0).map((a) => a.id);
    const window = { expiresAfter: new Date(base.getTime() + h - 1), expiredBy: new Date(base.getTime() + h + 10 * h) };
    const ids = (xs: Approval[]) => xs.map((x) => x.id);
    t.deepEqual(ids(await f.store.list(window)), good);
    t.deepEqual(ids(await f.store.list({ ...window, states: ['pending'] })), good);
    t.deepEqual(ids(await f.store.list({ ...window, limit: 3 })), good.slice(0, 3), 'a malformed row takes no place of the limit');
    t.deepEqual(ids(await f.store.list({ ...window, notificationDueBy: new Date(base.getTime() + 100 * h) })), good);
  });

  test(`${name}: a store cut off from its database refuses with approvals_unavailable`, async (t) => {
    const f = await fixture(t);
    if (!f.cutOff) return t.pass('this fixture cannot cut its store off');
    const a = approval();
    await f.store.create(a);
    await f.cutOff();
    for (const p of [f.store.get(a.id), f.store.create(approval()), f.store.update(a.id, (x) => x), f.store.list({})]) {
      const e = await t.throwsAsync(p);
      t.is((e as GatehouseError).code, 'approvals_unavailable');
      t.notRegex(e!.message, /127\.0\.0\.1|postgres/, 'driver details stay on cause');
    }
  });
}

/** A parameter value that must never appear in an error about its row. */
const SECRET = 'sk-live-0123456789-param';

/** Rows edited behind the gateway's back, each with the field the error must name. */
export const MALFORMED: readonly { name: string; field: string; record: (a: Approval) => string }[] = [
  { name: 'only an id', field: 'sessionId', record: (a) => JSON.stringify({ id: a.id }) },
  { name: 'an array', field: 'record', record: () => '[]' },
  { name: 'a string', field: 'record', record: () => '"x"' },
  { name: 'null', field: 'record', record: () => 'null' },
  { name: 'not JSON', field: 'record', record: (a) => `${JSON.stringify(a)}}` },
  { name: 'votes not an array', field: 'votes', record: (a) => JSON.stringify({ ...a, votes: { 0: 'approve' } }) },
  { name: 'analysis missing', field: 'analysis', record: (a) => JSON.stringify({ ...a, analysis: undefined }) },
  { name: 'requester a string', field: 'requester', record: (a) => JSON.stringify({ ...a, requester: 'review-bot@acme.iam' }) },
  { name: 'quorum a string', field: 'quorum', record: (a) => JSON.stringify({ ...a, quorum: '1' }) },
  { name: 'sql a number', field: 'sql', record: (a) => JSON.stringify({ ...a, sql: 42 }) },
  { name: 'a state that is none', field: 'state', record: (a) => JSON.stringify({ ...a, state: 'granted' }) },
  { name: 'expiry no timestamp', field: 'expiresAt', record: (a) => JSON.stringify({ ...a, expiresAt: 'tomorrow' }) },
  {
    name: "one vote's by.subject a number",
    field: 'votes.0.by.subject',
    record: (a) => JSON.stringify({ ...a, votes: [{ verdict: 'approve', by: { issuer: a.requester.issuer, subject: 7 }, comment: 'ok', at: a.createdAt }] }),
  },
  { name: 'a param an object', field: 'params.0', record: (a) => JSON.stringify({ ...a, params: [{ toString: SECRET }] }) },
  { name: 'the id of another approval', field: 'id', record: (a) => JSON.stringify({ ...a, id: `${a.id}-other` }) },
];
