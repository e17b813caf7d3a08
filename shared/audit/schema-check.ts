// A zod schema turned into a plain type check, for the part of zod the event schema uses
// (event-schema.ts). Why: `safeParse` copies every object it checks, and evidence verify reads
// 440k events per 100k sessions — the copies were a quarter of its time. The check only answers
// "fits" or "not sure": `fits` true is a promise that zod's own safeParse succeeds on the value
// and would give back the same JSON; anything else goes to zod, which names the issue. So this
// may be narrower than zod, never wider.
//
// What it understands: loose objects (unknown keys kept), string, finite number with `int()` and
// `nonnegative()`/`gt`/`gte` checks, boolean, enum of strings, array, optional, nullable, unknown,
// and custom (its own predicate is called). Any other schema kind, or check, makes `compileCheck`
// throw: the caller then uses zod alone. test/audit/schema-check.test.ts compares both on every
// event type with mutated and hostile data.
import type { z } from 'zod';

export type Check = (value: unknown) => boolean;

interface Def {
  readonly type: string;
  readonly shape?: Readonly<Record<string, { readonly _zod: { readonly def: Def } }>>;
  readonly catchall?: { readonly _zod: { readonly def: Def } };
  readonly innerType?: { readonly _zod: { readonly def: Def } };
  readonly element?: { readonly _zod: { readonly def: Def } };
  readonly entries?: Readonly<Record<string, unknown>>;
  readonly checks?: readonly { readonly _zod: { readonly def: { readonly check: string; readonly format?: string; readonly value?: unknown; readonly inclusive?: boolean } } }[];
  readonly fn?: (value: unknown) => unknown;
}

class Unsupported extends Error {}

/** A check that is true only where zod's safeParse succeeds; throws for schemas it does not understand. */
export function compileCheck(schema: z.ZodType): Check {
  return compile(defOf(schema));
}

function defOf(schema: unknown): Def {
  const def = (schema as { _zod?: { def?: Def } })._zod?.def;
  if (!def || typeof def.type !== 'string') throw new Unsupported('not a zod 4 schema');
  return def;
}

function compile(def: Def): Check {
  switch (def.type) {
    case 'string':
      if (def.checks?.length) throw new Unsupported('string checks');
      return (v) => typeof v === 'string';
    case 'boolean':
      return (v) => typeof v === 'boolean';
    case 'unknown':
      return () => true;
    case 'number':
      return numberCheck(def);
    case 'enum': {
      const values = Object.values(def.entries ?? {});
      if (!values.every((x) => typeof x === 'string')) throw new Unsupported('enum of non-strings');
      const allowed = new Set(values);
      return (v) => typeof v === 'string' && allowed.has(v);
    }
    case 'array': {
      const item = compile(defOf(def.element));
      return (v) => {
        if (!Array.isArray(v)) return false;
        for (let i = 0; i < v.length; i++) if (!(i in v) || !item(v[i])) return false;
        return true;
      };
    }
    case 'optional': {
      const inner = compile(defOf(def.innerType));
      return (v) => v === undefined || inner(v);
    }
    case 'nullable': {
      const inner = compile(defOf(def.innerType));
      return (v) => v === null || inner(v);
    }
    case 'custom': {
      const fn = def.fn;
      if (typeof fn !== 'function' || def.checks?.length) throw new Unsupported('custom without a predicate');
      return (v) => v !== undefined && fn(v) === true;
    }
    case 'object':
      return objectCheck(def);
    default:
      throw new Unsupported(`zod ${def.type}`);
  }
}

function numberCheck(def: Def): Check {
  const tests: ((n: number) => boolean)[] = [];
  for (const c of def.checks ?? []) {
    const d = c._zod.def;
    if (d.check === 'number_format' && d.format === 'safeint') tests.push(Number.isSafeInteger);
    else if (d.check === 'greater_than' && typeof d.value === 'number') {
      const min = d.value;
      tests.push(d.inclusive ? (n) => n >= min : (n) => n > min);
    } else throw new Unsupported(`number check ${d.check}`);
  }
  return (v) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return false;
    for (const t of tests) if (!t(v)) return false;
    return true;
  };
}

function objectCheck(def: Def): Check {
  // Loose objects only: a catchall other than unknown (strict, or typed extras) is zod's to judge.
  if (!def.catchall || defOf(def.catchall).type !== 'unknown') throw new Unsupported('object that is not loose');
  const fields = Object.entries(def.shape ?? {}).map(([key, s]) => {
    // A key Object.prototype also answers (toString, constructor, …) would be read through
    // inheritance by zod; not worth matching: leave such a schema to zod.
    if (key in Object.prototype) throw new Unsupported(`key ${key}`);
    const d = defOf(s);
    return { key, optional: d.type === 'optional', check: compile(d) };
  });
  return (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
    // JSON gives plain objects; anything else (a class instance, a proxy's target) is zod's to judge.
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return false;
    const o = v as Record<string, unknown>;
    for (const f of fields) {
      // zod: an absent key passes only an optional schema; a present one (even undefined) is checked.
      if (!Object.hasOwn(o, f.key)) {
        if (!f.optional) return false;
        continue;
      }
      if (!f.check(o[f.key])) return false;
    }
    return true;
  };
}
