// The result digests hash JSON.stringify({columns, rows}) a row at a time (shared/result-json.ts):
// the same bytes, so the same digest, as the one-string form — for any value a row can hold.
import test from 'ava';
import { createHash, createHmac } from 'node:crypto';
import { updateWithResultJson } from '../../shared/result-json.ts';
import { resultDigest } from '../../shared/audit/drafts.ts';
import { rawResultDigest } from '../../shared/masking/keys.ts';

const sparse: unknown[] = [1];
sparse[3] = 'after a hole';
const cases: { columns: string[]; rows: unknown[][] }[] = [
  { columns: [], rows: [] },
  { columns: ['a'], rows: [[]] },
  { columns: ['id', 'name "quoted"', 'é😀'], rows: [[1, 'x', null], [2, 'line\nbreak \u2028 \u0000', { nested: [1, { b: 2, a: 1 }] }]] },
  { columns: ['n'], rows: [[NaN], [Infinity], [-0], [1e21], [undefined], [new Date('2030-01-01T00:00:00Z')], [true], ['\uD800 lone']] },
  { columns: ['s'], rows: [sparse, [sparse]] },
  { columns: ['big'], rows: Array.from({ length: 3 }, (_, i) => [i, 'x'.repeat(900_000)]) },
];

test('row-at-a-time hashing gives the digest of the whole JSON text', (t) => {
  for (const { columns, rows } of cases) {
    const whole = createHash('sha256').update(JSON.stringify({ columns, rows })).digest('hex');
    t.is(updateWithResultJson(createHash('sha256'), columns, rows).digest('hex'), whole);
    t.is(resultDigest({ fields: columns.map((name) => ({ name })) as never, rows }), whole);
    const key = Buffer.alloc(32, 9);
    t.is(rawResultDigest(key, columns, rows), createHmac('sha256', key).update(JSON.stringify({ columns, rows })).digest('hex'));
  }
});

test('a changed cell, row order or column name changes the digest', (t) => {
  const base = updateWithResultJson(createHash('sha256'), ['a', 'b'], [[1, 'x'], [2, 'y']]).digest('hex');
  t.not(updateWithResultJson(createHash('sha256'), ['a', 'b'], [[1, 'x'], [2, 'z']]).digest('hex'), base);
  t.not(updateWithResultJson(createHash('sha256'), ['a', 'b'], [[2, 'y'], [1, 'x']]).digest('hex'), base);
  t.not(updateWithResultJson(createHash('sha256'), ['a', 'c'], [[1, 'x'], [2, 'y']]).digest('hex'), base);
  // Row boundaries are in the text: [[1,2]] and [[1],[2]] differ.
  t.not(updateWithResultJson(createHash('sha256'), ['a'], [[1, 2]]).digest('hex'), updateWithResultJson(createHash('sha256'), ['a'], [[1], [2]]).digest('hex'));
});
