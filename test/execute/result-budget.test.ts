// The process-wide budget of result bytes in flight (shared/postgres/result-budget.ts), on its own:
// what waits, in which order, what is refused with which code, and that every byte comes back.
import test from 'ava';
import { isGatehouseError } from '../../shared/errors.ts';
import { createResultBudget, resultBudgetFromEnv } from '../../shared/postgres/result-budget.ts';

const MiB = 1024 * 1024;
const tick = () => new Promise((r) => setImmediate(r));

test('reservations up to the budget are granted at once; the next waits until bytes come back', async (t) => {
  const budget = createResultBudget({ maxBytes: 8 * MiB, maxQueue: 4, timeoutMs: 5_000 });
  const a = await budget.reserve(4 * MiB);
  const b = await budget.reserve(4 * MiB);
  t.is(budget.reserved, 8 * MiB);
  let granted = false;
  const c = budget.reserve(1).then((r) => ((granted = true), r));
  await tick();
  t.false(granted, 'one byte over the budget waits');
  t.is(budget.waiting, 1);
  a();
  const release = await c;
  t.true(granted);
  t.is(budget.reserved, 4 * MiB + 1);
  b();
  release();
  t.is(budget.reserved, 0);
  t.is(budget.waiting, 0);
});

test('a release is idempotent: calling it twice gives the bytes back once', async (t) => {
  const budget = createResultBudget({ maxBytes: 10, maxQueue: 4, timeoutMs: 5_000 });
  const a = await budget.reserve(6);
  const b = await budget.reserve(4);
  a();
  a();
  a();
  t.is(budget.reserved, 4, 'a double release must not free bytes someone else holds');
  let granted = false;
  void budget.reserve(7).then(() => (granted = true));
  await tick();
  t.false(granted, '4 held + 7 > 10: still waits');
  b();
  await tick();
  t.true(granted);
});

test('first come, first served: a large waiter is not overtaken by small ones that would fit', async (t) => {
  const budget = createResultBudget({ maxBytes: 10, maxQueue: 8, timeoutMs: 5_000 });
  const held = await budget.reserve(6);
  const order: string[] = [];
  const big = budget.reserve(10).then((r) => (order.push('big'), r));
  const small = budget.reserve(1).then((r) => (order.push('small'), r));
  await tick();
  t.deepEqual(order, [], 'the small one fits (6 + 1 ≤ 10) but queues behind the big one');
  held();
  const releaseBig = await big;
  t.deepEqual(order, ['big']);
  releaseBig();
  (await small)();
  t.deepEqual(order, ['big', 'small']);
  t.is(budget.reserved, 0);
});

test('the queue is bounded: past maxQueue the request is refused at once with queue_full', async (t) => {
  const budget = createResultBudget({ maxBytes: 4, maxQueue: 1, timeoutMs: 5_000 });
  const held = await budget.reserve(4);
  const waiting = budget.reserve(4);
  const e = await t.throwsAsync(budget.reserve(4));
  t.true(isGatehouseError(e, 'result_budget_exhausted'));
  t.is((e as any).details.reason, 'queue_full');
  held();
  (await waiting)();
  t.is(budget.reserved, 0);
});

test('maxQueue 0: nothing waits, a request that does not fit is refused', async (t) => {
  const budget = createResultBudget({ maxBytes: 4, maxQueue: 0, timeoutMs: 5_000 });
  const held = await budget.reserve(3);
  const e = await t.throwsAsync(budget.reserve(2));
  t.true(isGatehouseError(e, 'result_budget_exhausted'));
  t.is((await budget.reserve(1).then((r) => (r(), 'ok'))), 'ok', 'one that fits still goes through');
  held();
});

test('the wait is bounded in time: queue_timeout, and the waiter leaves the queue without holding bytes', async (t) => {
  const budget = createResultBudget({ maxBytes: 4, maxQueue: 4, timeoutMs: 50 });
  const held = await budget.reserve(4);
  const e = await t.throwsAsync(budget.reserve(4));
  t.true(isGatehouseError(e, 'result_budget_exhausted'));
  t.is((e as any).details.reason, 'queue_timeout');
  t.is((e as any).details.maxInflightResultBytes, 4);
  t.is(budget.waiting, 0);
  t.is(budget.reserved, 4, 'the timed-out waiter reserved nothing');
  held();
  t.is(budget.reserved, 0);
});

test('a waiter that times out at the head lets the ones behind it through if they fit', async (t) => {
  const budget = createResultBudget({ maxBytes: 10, maxQueue: 4, timeoutMs: 30 });
  const held = await budget.reserve(8);
  const head = budget.reserve(10); // can never fit while 8 are held
  const small = budget.reserve(2); // would fit (8 + 2 ≤ 10), but queues behind the head
  await t.throwsAsync(head);
  // Both timers were set together; the head's fires first and, leaving, must wake the one behind.
  const outcome = await small.then(
    (r) => (r(), 'granted'),
    () => 'timed out',
  );
  t.is(outcome, 'granted');
  held();
  t.is(budget.reserved, 0);
});

test('a reservation larger than the whole budget is clamped: it runs alone rather than never', async (t) => {
  const budget = createResultBudget({ maxBytes: 4 * MiB, maxQueue: 4, timeoutMs: 5_000 });
  const huge = await budget.reserve(64 * MiB);
  t.is(budget.reserved, 4 * MiB);
  let granted = false;
  void budget.reserve(1).then((r) => ((granted = true), r()));
  await tick();
  t.false(granted);
  huge();
  await tick();
  t.true(granted);
});

test('nonsense reservations and options are refused, never granted', async (t) => {
  const budget = createResultBudget({ maxBytes: 10 });
  for (const bytes of [0, -1, 1.5, NaN, Infinity]) await t.throwsAsync(budget.reserve(bytes), { instanceOf: TypeError });
  t.is(budget.reserved, 0);
  for (const maxBytes of [0, -1, 2.5, NaN]) t.throws(() => createResultBudget({ maxBytes }), { instanceOf: TypeError });
  t.throws(() => createResultBudget({ maxQueue: -1 }), { instanceOf: TypeError });
  t.throws(() => createResultBudget({ timeoutMs: 0 }), { instanceOf: TypeError });
});

test('GATEHOUSE_MAX_INFLIGHT_RESULT_BYTES: bytes or a binary unit; anything else refuses to start', (t) => {
  t.deepEqual(resultBudgetFromEnv({}), {});
  t.deepEqual(resultBudgetFromEnv({ GATEHOUSE_MAX_INFLIGHT_RESULT_BYTES: '' }), {});
  t.deepEqual(resultBudgetFromEnv({ GATEHOUSE_MAX_INFLIGHT_RESULT_BYTES: '33554432' }), { maxBytes: 32 * MiB });
  t.deepEqual(resultBudgetFromEnv({ GATEHOUSE_MAX_INFLIGHT_RESULT_BYTES: '32MiB' }), { maxBytes: 32 * MiB });
  t.deepEqual(resultBudgetFromEnv({ GATEHOUSE_MAX_INFLIGHT_RESULT_BYTES: '512 KiB' }), { maxBytes: 512 * 1024 });
  t.deepEqual(resultBudgetFromEnv({ GATEHOUSE_MAX_INFLIGHT_RESULT_BYTES: '1GiB' }), { maxBytes: 1024 * MiB });
  for (const bad of ['0', '-5', '1.5MiB', '32MB', '32 mib', 'lots', '0x100', '1e6', '999999999999999GiB', 'Infinity']) {
    t.throws(() => resultBudgetFromEnv({ GATEHOUSE_MAX_INFLIGHT_RESULT_BYTES: bad }), { instanceOf: TypeError }, bad);
  }
});
