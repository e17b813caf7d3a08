import test from 'ava';
import { commandOfSuspended } from '../../shared/postgres/command-tag.ts';
import { toJsonSafe } from '../../shared/postgres/values.ts';

test('toJsonSafe turns what JSON cannot hold into strings', (t) => {
  t.is(toJsonSafe(Buffer.from([0xde, 0xad])), '\\xdead');
  t.is(toJsonSafe(new Date('2024-01-15T08:00:00.000Z')), '2024-01-15T08:00:00.000Z');
  t.is(toJsonSafe(new Date(Number.NaN)), null);
  t.is(toJsonSafe(Number.POSITIVE_INFINITY), 'Infinity');
  t.is(toJsonSafe(Number.NEGATIVE_INFINITY), '-Infinity');
  t.is(toJsonSafe(Number.NaN), 'NaN');
  t.is(toJsonSafe(12n), '12');
  t.is(toJsonSafe(undefined), null);
  t.deepEqual(toJsonSafe([Buffer.from([1]), [new Date(0)], { x: Buffer.from([2]) }]), ['\\x01', ['1970-01-01T00:00:00.000Z'], { x: '\\x02' }]);
  t.deepEqual(toJsonSafe({ a: 1, b: 'x', c: null, d: true }), { a: 1, b: 'x', c: null, d: true });
});

test('a suspended portal is named by its first keyword', (t) => {
  t.is(commandOfSuspended('select 1'), 'SELECT');
  t.is(commandOfSuspended('  -- why\n /* a /* nested */ comment */ (SELECT 1)'), 'SELECT');
  t.is(commandOfSuspended('WITH x AS (SELECT 1) SELECT * FROM x'), 'SELECT');
  t.is(commandOfSuspended('TABLE t'), 'SELECT');
  t.is(commandOfSuspended('VALUES (1), (2)'), 'SELECT');
  t.is(commandOfSuspended('insert into t select 1 returning *'), 'INSERT');
  t.is(commandOfSuspended('EXPLAIN SELECT 1'), 'EXPLAIN');
  t.is(commandOfSuspended(''), 'SELECT');
});
