// The fast event hash (shared/evidence/event-hash.ts) against chain.ts's hashEvent: the same
// answer on everything, including what an attacker would put in an export to make the two
// disagree — key orders, escapes, numbers, lone surrogates, `__proto__`, huge exponents.
import test from 'ava';
import { chainEvents, hashEvent } from '../../shared/audit/chain.ts';
import type { SessionEvent } from '../../shared/audit/events.ts';
import { canonicalEvent, eventHashHolds, fastHashEvent, sortedData } from '../../shared/evidence/event-hash.ts';

const base = { sessionId: 's-1', seq: 0, type: 'request', at: '2026-01-01T00:00:00.000Z', prevHash: null } as const;

function same(t: import('ava').ExecutionContext, data: unknown, label: string): void {
  const e = { ...base, data } as unknown as Omit<SessionEvent, 'hash'>;
  let want: string | Error;
  try {
    want = hashEvent(e);
  } catch (err) {
    want = err as Error;
  }
  if (want instanceof Error) {
    t.throws(() => fastHashEvent(e), undefined, label);
  } else {
    t.is(fastHashEvent(e), want, label);
  }
}

// Lines as an attacker would write them into events.jsonl: parsed, then hashed both ways.
const HOSTILE_JSON = [
  '{"b":1,"a":2,"A":3,"_":4,"10":5,"9":6,"":7}',
  '{"z":{"y":{"x":[3,2,1,{"b":null,"a":true}]}},"é":"\\u00e9","e\\u0301":1}',
  '{"n":[0,-0,1e21,1e-7,123456789012345678901234567890,0.1,1.5e300,-1e-300,5e-324]}',
  '{"big":1e400}',
  '{"neg":-1e400}',
  '{"lone":"\\ud800"}',
  '{"lone2":"a\\udc00b"}',
  '{"\\ud800":1}',
  '{"pair":"\\ud83d\\ude00","emoji":"😀"}',
  '{"__proto__":{"polluted":true},"a":1}',
  '{"constructor":1,"toString":"x","hasOwnProperty":[],"valueOf":null}',
  '{"toJSON":"not a function"}',
  '{"ctl":"\\u0000\\u001f\\b\\f\\n\\r\\t\\"\\\\/","sep":"\\u2028\\u2029"}',
  '{"deep":[[[[[[[[[[[]]]]]]]]]]],"empty":{},"e2":[]}',
  '{"dup":1,"dup":2}',
  '{"\\u0041":"A","A":"B"}',
  '{"ö":1,"o":2,"Z":3,"ä":4,"\\uffff":5,"\\ud7ff":6}',
];

/**
 * The same data with its keys sorted, as export writes it: the fast path's JSON.stringify branch
 * (taken only for sorted keys) must give what hashEvent gives — for the sorted copy and the original.
 */
function sameSorted(t: import('ava').ExecutionContext, data: unknown, label: string): void {
  const sorted = JSON.parse(JSON.stringify(sortedData(data))) as unknown;
  same(t, sorted, `${label} (sorted)`);
  let original: string | undefined;
  try {
    original = hashEvent({ ...base, data } as unknown as Omit<SessionEvent, 'hash'>);
  } catch {
    original = undefined;
  }
  if (original !== undefined) t.is(fastHashEvent({ ...base, data: sorted } as unknown as Omit<SessionEvent, 'hash'>), original, `${label}: sorting keys does not change the hash`);
}

test('the fast event hash equals hashEvent on hostile JSON an attacker could put in events.jsonl', (t) => {
  for (const text of HOSTILE_JSON) same(t, JSON.parse(text), text);
  for (const text of HOSTILE_JSON) sameSorted(t, JSON.parse(text), text);
});

test('sorted data (as export writes it) takes the JSON.stringify branch and gives canonicalize\'s bytes', (t) => {
  const data = sortedData({ sql: 'SELECT 1', principal: { subject: 'bot', email: 'b@x' }, params: [1, 'x', { z: 1, a: [null] }] });
  const canonical = canonicalEvent({ ...base, data } as unknown as Omit<SessionEvent, 'hash'>);
  t.is(canonical, `{"at":"2026-01-01T00:00:00.000Z","data":${JSON.stringify(data)},"prevHash":null,"seq":0,"sessionId":"s-1","type":"request"}`);
  t.is(JSON.stringify(data), '{"params":[1,"x",{"a":[null],"z":1}],"principal":{"email":"b@x","subject":"bot"},"sql":"SELECT 1"}');
  // Integer-like keys: the engine orders them numerically ("9" before "10"), canonicalize by code
  // units ("10" before "9"): the stringify branch must not be taken, and the hash still agrees.
  same(t, sortedData({ '10': 1, '9': 2 }), 'integer keys');
  t.is(canonicalEvent({ ...base, data: { '9': 2, '10': 1 } } as unknown as Omit<SessionEvent, 'hash'>), '{"at":"2026-01-01T00:00:00.000Z","data":{"10":1,"9":2},"prevHash":null,"seq":0,"sessionId":"s-1","type":"request"}');
});

test('values JSON cannot produce make the fast path step aside (hashEvent decides, or both throw)', (t) => {
  class Custom {
    a = 1;
  }
  const cases: Record<string, unknown> = {
    undefinedField: { a: undefined, b: 1 },
    undefinedInArray: [1, undefined, 2],
    hole: [1, , 3], // eslint-disable-line no-sparse-arrays
    date: { at: new Date(0) },
    toJSON: { toJSON: () => ({ replaced: true }) },
    classInstance: new Custom(),
    nullProto: Object.assign(Object.create(null), { b: 1, a: 2 }),
    fn: { f: () => 1 },
    symbol: { s: Symbol('x') },
    nan: { n: Number.NaN },
    inf: { n: Number.POSITIVE_INFINITY },
    boxed: { s: new String('x') }, // eslint-disable-line no-new-wrappers
  };
  for (const [label, data] of Object.entries(cases)) same(t, data, label);
  t.is(canonicalEvent({ ...base, data: { a: undefined } } as unknown as Omit<SessionEvent, 'hash'>), undefined);
  t.is(canonicalEvent({ ...base, data: { n: Number.NaN } } as unknown as Omit<SessionEvent, 'hash'>), undefined);
});

test('random JSON values hash the same both ways', (t) => {
  let seed = 7;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const chars = ['a', 'B', 'é', '\u0000', '"', '\\', '\ud83d\ude00', '\u2028', ' ', '1', '_', '\uffff'];
  const word = () => Array.from({ length: Math.floor(rnd() * 5) }, () => chars[Math.floor(rnd() * chars.length)]).join('');
  const gen = (depth: number): unknown => {
    const r = rnd();
    if (depth > 3 || r < 0.3) return [null, true, false, word(), Math.floor(rnd() * 1e6) - 5e5, rnd() * 1e-3, rnd() * 1e25][Math.floor(rnd() * 7)];
    if (r < 0.6) return Array.from({ length: Math.floor(rnd() * 4) }, () => gen(depth + 1));
    return Object.fromEntries(Array.from({ length: Math.floor(rnd() * 5) }, () => [word(), gen(depth + 1)]));
  };
  for (let i = 0; i < 2000; i++) {
    // Through JSON text and back, as verify reads it.
    const data = JSON.parse(JSON.stringify({ v: gen(0) })) as unknown;
    same(t, data, `case ${i}`);
    sameSorted(t, data, `case ${i}`);
  }
});

test('eventHashHolds: true for real chained events, false for any edit, never a throw', (t) => {
  const events = chainEvents('s-9', null, [
    { type: 'request', data: { principal: { subject: 'bot', email: 'bot@acme.com' }, sql: 'SELECT 1', params: [1, 'x'] } },
    { type: 'decision', data: { action: 'allow', rule: 'r', reasons: ['because'] } },
  ], new Date('2026-02-03T04:05:06.789Z'));
  for (const e of events) t.true(eventHashHolds({ ...e, index: 42 }));
  const [first] = events;
  t.false(eventHashHolds({ ...first!, seq: 1 }));
  t.false(eventHashHolds({ ...first!, at: '2026-02-03T04:05:06.788Z' }));
  t.false(eventHashHolds({ ...first!, data: { ...first!.data, sql: 'DROP TABLE t' } }));
  t.false(eventHashHolds({ ...first!, prevHash: first!.hash }));
  t.false(eventHashHolds({ ...first!, data: { ...first!.data, extra: Number.NaN } }));
  t.false(eventHashHolds({ ...first!, data: { ...first!.data, s: '\ud800' } }));
});
