// The compiled check of the event schema (shared/audit/schema-check.ts) may be narrower than zod,
// never wider: wherever it says "fits", zod's own safeParse succeeds and gives back the same JSON.
// Checked on every writer's events and on thousands of mutations of them — each field set to
// values of every JSON type (and a few no JSON parser makes), removed, or joined by extras.
import test from 'ava';
import { z } from 'zod';
import { chainEvents } from '../../shared/audit/chain.ts';
import { dataOf, EVENT_DATA, schemaIssue } from '../../shared/audit/event-schema.ts';
import type { EventType } from '../../shared/audit/events.ts';
import { compileCheck } from '../../shared/audit/schema-check.ts';
import { otherDrafts, writtenSession } from './written-events.ts';

const stored = () => chainEvents('s-1', null, [...writtenSession().drafts, ...otherDrafts()], new Date('2030-01-01T00:01:00Z'));

/** Values a hostile or broken log could hold where a field is expected. */
const HOSTILE: unknown[] = [
  null, true, false, 0, -1, 1.5, -0, 2 ** 53, 1e308, '', 'x', 'query', 'rows', 'committed', [], [[]], [1], ['a'], [null], {}, { code: 'x' },
  { issuer: 'i', subject: 's' }, { read: [], written: [] }, { name: 'n' },
  // Not from JSON.parse, but a writer's literal could hold them.
  undefined, Number.NaN, Number.POSITIVE_INFINITY, new Date(0), Object.create(null), Object.create({ code: 'inherited' }), [, 1], () => 1,
];

function* mutations(data: unknown, path: string[] = []): Generator<{ value: unknown; path: string }> {
  if (typeof data !== 'object' || data === null) return;
  const keys = Array.isArray(data) ? data.map((_, i) => String(i)) : Object.keys(data);
  for (const k of keys) {
    for (const h of HOSTILE) yield { value: setAt(data, k, h), path: [...path, k].join('.') };
    if (!Array.isArray(data)) yield { value: without(data as Record<string, unknown>, k), path: `-${[...path, k].join('.')}` };
    for (const m of mutations((data as Record<string, unknown>)[k], [...path, k])) yield { value: setAt(data, k, m.value), path: m.path };
  }
  if (!Array.isArray(data)) yield { value: { ...(data as object), extra: { any: [1, 'thing'] } }, path: `${path.join('.')}+extra` };
}

function setAt(data: object, key: string, value: unknown): unknown {
  if (Array.isArray(data)) {
    const copy = [...data];
    copy[Number(key)] = value;
    return copy;
  }
  return { ...data, [key]: value };
}

function without(data: Record<string, unknown>, key: string): unknown {
  const { [key]: _gone, ...rest } = data;
  return rest;
}

test('every event type compiles to a check (none is left to zod alone)', (t) => {
  for (const [type, schema] of Object.entries(EVENT_DATA)) t.notThrows(() => compileCheck(schema), type);
});

test("every writer's stored events pass the compiled check (the fast path is the one taken)", (t) => {
  const events = stored();
  t.true(events.length >= 15);
  for (const e of events) t.true(compileCheck(EVENT_DATA[e.type as EventType])(e.data), e.type);
});

test('wherever the compiled check says "fits", zod agrees and gives back the same JSON', (t) => {
  let fits = 0;
  let refused = 0;
  for (const e of stored()) {
    const schema = EVENT_DATA[e.type as EventType];
    const check = compileCheck(schema);
    for (const m of mutations(e.data)) {
      const r = (schema as z.ZodType).safeParse(m.value);
      if (check(m.value)) {
        fits++;
        t.true(r.success, `${e.type} ${m.path}: the check said fits, zod said ${r.success ? '' : r.error.issues[0]?.message}`);
        if (r.success) t.deepEqual(r.data, m.value, `${e.type} ${m.path}`);
      } else refused++;
    }
  }
  // Both answers happen, often: the comparison is not vacuous.
  t.true(fits > 500, `fits: ${fits}`);
  t.true(refused > 500, `refused: ${refused}`);
});

test('dataOf and schemaIssue answer as zod alone would, on the same mutations', (t) => {
  for (const e of stored()) {
    const schema = EVENT_DATA[e.type as EventType] as z.ZodType;
    for (const m of mutations(e.data)) {
      const event = { type: e.type, data: m.value };
      const r = schema.safeParse(m.value);
      const plain = typeof m.value === 'object' && m.value !== null && !Array.isArray(m.value) && [Object.prototype, null].includes(Object.getPrototypeOf(m.value));
      if (!plain) continue; // refused before any schema (not a plain object): event-schema.test.ts
      t.is(schemaIssue(event) === undefined, r.success, `${e.type} ${m.path}`);
      if (r.success) t.deepEqual(dataOf(event, e.type as EventType), r.data as never);
      else t.is(dataOf(event, e.type as EventType), undefined);
    }
  }
});

test('a number check the compiler does not know, or a strict object, is left to zod (it throws)', (t) => {
  t.throws(() => compileCheck(z.number().max(3)));
  t.throws(() => compileCheck(z.strictObject({ a: z.string() })));
  t.throws(() => compileCheck(z.string().min(1)));
  t.throws(() => compileCheck(z.looseObject({ toString: z.string().optional() })));
  t.throws(() => compileCheck(z.union([z.string(), z.number()])));
});

test('the compiled checks: integers, bounds, enums, nullables, arrays with holes', (t) => {
  const count = compileCheck(z.number().int().nonnegative());
  t.true(count(0));
  t.true(count(2 ** 53 - 1));
  t.false(count(2 ** 53));
  t.false(count(-1));
  t.false(count(1.5));
  t.false(count(Number.NaN));
  t.false(count('1'));
  const ms = compileCheck(z.number().nonnegative());
  t.true(ms(0.5));
  t.false(ms(Number.POSITIVE_INFINITY));
  const e = compileCheck(z.enum(['a', 'b']));
  t.true(e('a'));
  t.false(e('c'));
  t.false(e('__proto__'));
  const n = compileCheck(z.looseObject({ x: z.string().nullable().optional() }));
  t.true(n({}));
  t.true(n({ x: null }));
  t.true(n({ x: 's', y: 1 }));
  t.false(n({ x: 1 }));
  t.false(n(new Date(0)), 'a class instance is left to zod');
  const a = compileCheck(z.array(z.unknown()));
  t.true(a([1, 'x', null]));
  t.false(a([, 1]), 'a hole is left to zod');
  const required = compileCheck(z.looseObject({ u: z.unknown() }));
  t.false(required({}), 'absent and required: zod refuses it (expected nonoptional)');
  t.false(z.looseObject({ u: z.unknown() }).safeParse({}).success);
});
