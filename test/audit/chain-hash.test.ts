// chainEvents hashes each event around the canonical JSON of its data (built once, and what the
// PostgreSQL store writes): it must give exactly hashEvent's hash — which verify recomputes from
// what a reader gets back — for any data, including the awkward kinds.
import test from 'ava';
import { chainEvents, hashEvent, storedData, verifyChain } from '../../shared/audit/chain.ts';
import type { EventDraft, EventType } from '../../shared/audit/events.ts';

const awkward: Record<string, unknown>[] = [
  {},
  { b: 1, a: 2, A: 3, _: 4, '': 5, 'é': 6, '€': 7, '\u{1F600}': 8, '\uFB33': 9, '10': 10, '9': 11 },
  { n: [0, -0, 1e21, 1e-7, 123456789012345680000, 0.1 + 0.2, -1.5e-300, Number.MAX_SAFE_INTEGER] },
  { s: 'quote " backslash \\ newline \n tab \t nul \u0000 del \u007f line-sep \u2028 emoji 😀', u: undefined, f: null, t: true },
  { nested: { z: { y: [{ b: 2, a: 1 }, [], {}, [null, undefined]] } }, date: new Date('2030-01-01T00:00:00Z') as unknown },
  { rows: Array.from({ length: 50 }, (_, i) => [i, `row ${i}`, { masked: i % 2 === 0 }]) },
  { big: 'x'.repeat(3 * 1024 * 1024) },
];

test('each chained event carries hashEvent’s hash, and its stored text parses back to its data', (t) => {
  const drafts: EventDraft[] = awkward.map((data, i) => ({ type: (i % 2 ? 'execution.result' : 'request') as EventType, data }));
  const events = chainEvents('session-1', { seq: 4, hash: 'a'.repeat(64) }, drafts, new Date('2031-02-03T04:05:06.789Z'));
  for (const e of events) {
    const { hash, ...rest } = e;
    t.is(hash, hashEvent(rest), `seq ${e.seq}`);
    t.deepEqual(JSON.parse(storedData(e)), e.data);
    // What a reader of the stored text gets hashes to the same value.
    t.is(hashEvent({ ...rest, data: JSON.parse(storedData(e)) }), hash);
  }
});

test('a chain started from nothing verifies, and an edited stored text does not', (t) => {
  const events = chainEvents('s-2', null, [{ type: 'request', data: { sql: 'SELECT 1' } }, { type: 'execution.result', data: { rows: [[1]] } }], new Date());
  t.deepEqual(verifyChain('s-2', events), []);
  const tampered = events.map((e, i) => (i === 1 ? { ...e, data: JSON.parse(storedData(e).replace('[[1]]', '[[2]]')) } : e));
  t.deepEqual(verifyChain('s-2', tampered), [{ kind: 'hash_mismatch', seq: 1 }]);
});

test('an event it did not chain is stored as plain JSON of its data', (t) => {
  const [e] = chainEvents('s-3', null, [{ type: 'request', data: { b: 1, a: 2 } }], new Date());
  const copy = { ...e! };
  t.is(storedData(copy), JSON.stringify(copy.data));
  t.is(storedData(e!), '{"a":2,"b":1}');
});

test('data that cannot be hashed is refused, as before (non-finite numbers were already nulls; lone surrogates are not)', (t) => {
  t.throws(() => chainEvents('s-4', null, [{ type: 'request', data: { s: 'lone \uD800 surrogate' } }], new Date()));
});
