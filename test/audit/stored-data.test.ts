import test from 'ava';
import { readStoredData, UNREADABLE_EVENT_TYPE } from '../../shared/audit/stored-data.ts';

test('stored data that is JSON is read as it is, with its stored type', (t) => {
  t.deepEqual(readStoredData('execution.committed', '{"a":1}'), { type: 'execution.committed' as never, data: { a: 1 } });
  // JSON that is no event's data is left to the event schema (event_malformed), not hidden here.
  t.deepEqual(readStoredData('decision', 'null'), { type: 'decision' as never, data: null as never });
  t.deepEqual(readStoredData('decision', '[1]'), { type: 'decision' as never, data: [1] as never });
});

test('stored data that is not JSON text is an unreadable event naming its stored type, never its text', (t) => {
  for (const [text, reason] of [
    ['{"secret":"sk_live_abc', 'not JSON'],
    ['', 'not JSON'],
    ['NaN', 'not JSON'],
    [42, 'not text'],
    [null, 'not text'],
    [undefined, 'not text'],
    [{ a: 1 }, 'not text'],
  ] as const) {
    const r = readStoredData('execution.committed', text);
    t.is(r.type, UNREADABLE_EVENT_TYPE as never, String(text));
    t.is(r.data.storedType, 'execution.committed');
    t.regex(String(r.data.reason), new RegExp(reason));
    t.false(JSON.stringify(r).includes('sk_live'), 'the stored text is not echoed');
  }
  // A stored type that is not text, or a very long one, is named without being trusted.
  t.is(readStoredData(7, 'x').data.storedType, 'number');
  t.is(String(readStoredData('t'.repeat(500), 'x').data.storedType).length, 64);
});
