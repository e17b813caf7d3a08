// Export hashes and writes an event from its data's stored text (shared/audit/stored-text.ts,
// shared/evidence/event-lines.ts) only when the text is provably the canonical JSON the hash is
// defined over. Here: the same hash and the same events.jsonl bytes as the general path on every
// text an attacker could store — and never the attacker's own hash over a non-canonical text.
import test from 'ava';
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { hashEvent, chainEvents, storedData } from '../../shared/audit/chain.ts';
import type { SessionEvent } from '../../shared/audit/events.ts';
import { hashAroundText, hashFromStoredText, isCanonicalText } from '../../shared/audit/stored-text.ts';
import { eventLine } from '../../shared/evidence/event-line.ts';
import { sessionLines } from '../../shared/evidence/event-lines.ts';

const base = { sessionId: 's-1', seq: 0, type: 'request', at: '2026-01-01T00:00:00.000Z', prevHash: null } as const;

// Texts as a writer with INSERT rights could store them: canonical and not, hostile and not.
const TEXTS = [
  '{"a":1,"b":2}',
  '{"b":2,"a":1}',
  '{"a":1, "b":2}',
  ' {"a":1}',
  '{"a":1}\n',
  '{"a":1.0}',
  '{"a":1e2}',
  '{"a":100}',
  '{"a":-0}',
  '{"a":0}',
  '{"a":"\\u0041"}',
  '{"a":"A"}',
  '{"a":"\\/"}',
  '{"dup":1,"dup":2}',
  '{"dup":2}',
  '{"10":1,"9":2}',
  '{"9":2,"10":1}',
  '{"A":1,"_":2,"a":3,"é":4}',
  '{"é":4,"a":3}',
  '{"lone":"\\ud800"}',
  '{"\\ud800":1}',
  '{"pair":"😀"}',
  '{"pair":"\\ud83d\\ude00"}',
  '{"back":"\\\\ud800"}',
  '{"__proto__":{"polluted":true},"a":1}',
  '{"a":1,"__proto__":{"polluted":true}}',
  '{"toJSON":"x"}',
  '{"big":1e400}',
  '{"ctl":"\\u0000\\u001f\\b\\f\\n\\r\\t\\"\\\\","sep":"\u2028\u2029"}',
  '{"ctl":"\\u0000\\u001F"}',
  '{"nested":{"z":[{"b":1,"a":2}],"a":{}}}',
  '{"a":{},"nested":{"a":[],"z":[{"a":2,"b":1}]}}',
  '{"deep":[[[[[[{"y":1,"x":2}]]]]]]}',
  '[1,2,3]',
  '"just a string"',
  'null',
  '5',
  '{}',
];

function reference(e: Omit<SessionEvent, 'hash'>): string | Error {
  try {
    return hashEvent(e);
  } catch (err) {
    return err as Error;
  }
}

test('the hash from a stored text is hashEvent of its value, or not given at all', (t) => {
  let fast = 0;
  for (const text of TEXTS) {
    const e = { ...base, data: JSON.parse(text) } as Omit<SessionEvent, 'hash'>;
    const got = hashFromStoredText(e, text);
    if (got === undefined) continue;
    fast++;
    t.is(got, reference(e) as string, text);
  }
  t.true(fast >= 8, 'canonical texts take the fast path');
});

test('a non-canonical text hashed by an attacker over its own bytes is never believed', (t) => {
  for (const text of TEXTS) {
    const data = JSON.parse(text) as unknown;
    const canonical = (() => {
      try {
        return canonicalize(data);
      } catch {
        return undefined;
      }
    })();
    if (canonical === text) continue;
    const e = { ...base, data } as Omit<SessionEvent, 'hash'>;
    // The attacker's hash: SHA-256 around the stored bytes, as the fast path would compute it.
    const forged = createHash('sha256').update(`{"at":${JSON.stringify(base.at)},"data":${text},"prevHash":null,"seq":0,"sessionId":"s-1","type":"request"}`).digest('hex');
    t.false(isCanonicalText(data, text), text);
    t.is(hashFromStoredText(e, text), undefined, text);
    const ref = reference(e);
    if (typeof ref === 'string') t.not(ref, forged, `${text}: the real hash differs from the forged one`);
  }
});

test('the canonical text of every value canonicalize accepts is recognised as such', (t) => {
  for (const text of TEXTS) {
    const data = JSON.parse(text) as unknown;
    if (typeof data !== 'object' || data === null) continue;
    let canonical: string | undefined;
    try {
      canonical = canonicalize(data);
    } catch {
      continue;
    }
    // JSON.parse orders integer-like keys first whatever the text says: such an object never
    // stringifies to its canonical text, and takes the general path.
    if (/"\d+":/.test(text)) continue;
    // An escaped backslash followed by "ud" is taken for an escaped lone surrogate (documented: it only costs the slow path).
    if (canonical!.includes('\\\\ud')) continue;
    t.true(isCanonicalText(JSON.parse(canonical!), canonical!), canonical!);
  }
});

test('the event fields are hashed as hashEvent hashes them, and odd ones step aside', (t) => {
  const data = { a: 1 };
  const text = '{"a":1}';
  const all: Omit<SessionEvent, 'hash' | 'data'>[] = [
    { sessionId: 'id "quoted" \\ é', seq: 7, type: 'execution.completed', at: 'x', prevHash: 'f'.repeat(64) },
    { sessionId: 's', seq: 0, type: 'request', at: '2026-01-01T00:00:00.000Z', prevHash: null },
  ];
  for (const fields of all) {
    t.is(hashAroundText(fields, text), hashEvent({ ...fields, data }));
  }
  t.is(hashAroundText({ ...base, sessionId: 'lone \ud800' }, text), undefined);
  t.is(hashAroundText({ ...base, seq: 1.5 }, text), undefined);
  t.is(hashAroundText({ ...base, seq: Number.NaN }, text), undefined);
  t.is(hashAroundText({ ...base, prevHash: 5 as unknown as string }, text), undefined);
  t.false(isCanonicalText(data, 5 as unknown as string));
});

/** Events as the PostgreSQL store reads them (rows.ts eventFromRow), with their stored texts. */
function asStored(events: SessionEvent[], texts: string[], indexed: boolean): { events: SessionEvent[]; dataTexts: string[] } {
  const read = events.map((e, i) => ({
    sessionId: e.sessionId,
    seq: e.seq,
    type: e.type,
    at: e.at,
    data: JSON.parse(texts[i]!) as Record<string, unknown>,
    prevHash: e.prevHash,
    hash: e.hash,
    ...(indexed ? { index: 1000 + i } : {}),
  }));
  return { events: read, dataTexts: texts };
}

test('sessionLines writes exactly eventLine and hashes exactly hashEvent, whatever the texts', (t) => {
  const chained = chainEvents('s-9', null, [
    { type: 'request', data: { sql: 'SELECT 1', principal: { subject: 'bot', email: 'bot@x' }, z: [3, 2, 1] } },
    { type: 'analysis', data: { class: 'read', reasons: ['é', '\u2028'] } },
    { type: 'decision', data: { action: 'allow' } },
  ], new Date(0));
  const canonicalTexts = chained.map(storedData);
  const variants: string[][] = [canonicalTexts, chained.map((e) => JSON.stringify(e.data)), canonicalTexts.map((x, i) => (i === 1 ? `${x} ` : x))];
  for (const texts of variants) {
    for (const indexed of [true, false]) {
      const stored = asStored(chained, texts, indexed);
      const { lines, hashOf } = sessionLines(stored.events, stored);
      t.is(lines, stored.events.map(eventLine).join(''));
      for (const e of stored.events) {
        const { hash: _h, ...rest } = e;
        t.is(hashOf(rest), hashEvent(rest));
      }
    }
  }
  // A subsequence of what was read (export drops events after its tree), and no texts at all.
  const stored = asStored(chained, canonicalTexts, true);
  const some = [stored.events[0]!, stored.events[2]!];
  t.is(sessionLines(some, stored).lines, some.map(eventLine).join(''));
  t.is(sessionLines(stored.events).lines, stored.events.map(eventLine).join(''));
  // Shaped otherwise than the store builds it: an extra field, an undefined one, keys reordered.
  const odd = [
    { ...stored.events[0]!, extra: 1 },
    { ...stored.events[0]!, prevHash: undefined },
    Object.assign({ hash: '' }, stored.events[0]!), // hash first
  ] as unknown as SessionEvent[];
  for (const e of odd) t.is(sessionLines([e], { events: [e], dataTexts: [canonicalTexts[0]!] }).lines, eventLine(e));
});

test('a stored text that disagrees with the parsed value is never written or hashed', (t) => {
  const [e] = chainEvents('s-3', null, [{ type: 'request', data: { a: 1 } }], new Date(0));
  const read = { ...e!, data: { a: 2 } };
  // The text says a:1 (and its hash holds for a:1), the value says a:2: the value is what is exported.
  const { lines, hashOf } = sessionLines([read], { events: [read], dataTexts: [storedData(e!)] });
  t.is(lines, eventLine(read));
  const { hash: _h, ...rest } = read;
  t.not(hashOf(rest), e!.hash);
  t.is(hashOf(rest), hashEvent(rest));
});
