// What the target's catalog says about the functions a statement can call (pg_proc, pg_operator,
// pg_type, pg_cast), as plain data: the postgres/ adapter loads it, resolve.ts decides with it.

export type Volatility = 'immutable' | 'stable' | 'volatile';

export interface Routine {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  /** Argument types as `format_type` prints them (`integer`, `character varying`). */
  readonly argTypes: readonly string[];
  /** How many trailing arguments have defaults. */
  readonly defaults: number;
  readonly variadic: boolean;
  readonly volatility: Volatility;
  readonly language: string;
  readonly kind: 'function' | 'aggregate' | 'window' | 'procedure';
  /** pg_proc.prorettype and proargtypes as OIDs (absent: not read), for the types' hooks (TypeHooks). */
  readonly returnTypeId?: number;
  readonly argTypeIds?: readonly number[];
  /** pg_proc.proretset: returns a set of rows (absent: not known, assume it may). */
  readonly returnsSet?: boolean;
  /**
   * Created by initdb in pg_catalog or information_schema (OID below 16384, FirstNormalObjectId):
   * PostgreSQL's own. An extension installed into pg_catalog later is not built-in.
   */
  readonly builtin: boolean;
}

/** A user-defined operator or type, and the functions that using it runs. */
export interface Hook {
  readonly schema: string;
  readonly functions: readonly number[];
}

/** What a type runs: converting a value to it, and having one at all (routine-catalog.ts TYPE_HOOKS). */
export interface TypeHooks {
  readonly conversion: readonly number[];
  readonly use: readonly number[];
  /** The part of `conversion` reached through an array, range or composite type ('{x}', '(x)'). */
  readonly container?: readonly number[];
}

export interface RoutineCatalog {
  /** By name (as the parser folds it), every schema. */
  readonly byName: ReadonlyMap<string, readonly Routine[]>;
  readonly byOid: ReadonlyMap<number, Routine>;
  /** Operators not created by initdb, by name. */
  readonly userOperators: ReadonlyMap<string, readonly Hook[]>;
  /**
   * Types a cast to which runs a function not created by initdb (a user cast function, a domain
   * CHECK calling one, a user type's input function — and what a value of it runs when used: its
   * output function, its default comparison support, an implicit cast from it), by type name.
   */
  readonly castHooks: ReadonlyMap<string, readonly Hook[]>;
  /** By type OID, for types some function not created by initdb is hooked to (absent: none known). */
  readonly typeHooks?: ReadonlyMap<number, TypeHooks>;
  /**
   * Functions that using a built-in type's values may run (an implicit cast between built-in types
   * with a function someone created): any statement may have such values, so every one is checked.
   */
  readonly everywhere?: readonly number[];
  /** Milliseconds (the reader's clock) when it was read. */
  readonly loadedAt: number;
}

/** `schema.name(argtype, argtype)` in one spelling, for the policy's `functions:` entries. */
export function signatureOf(r: Pick<Routine, 'schema' | 'name' | 'argTypes'>): string {
  return `${r.schema}.${r.name}(${r.argTypes.join(', ')})`;
}

// Spellings PostgreSQL accepts for built-in types, to the one format_type prints.
const TYPE_ALIASES = new Map([
  ['int', 'integer'], ['int4', 'integer'], ['int8', 'bigint'], ['int2', 'smallint'],
  ['float8', 'double precision'], ['float4', 'real'], ['float', 'double precision'],
  ['bool', 'boolean'], ['varchar', 'character varying'], ['char', 'character'], ['bpchar', 'character'],
  ['decimal', 'numeric'], ['timestamptz', 'timestamp with time zone'], ['timestamp', 'timestamp without time zone'],
  ['timetz', 'time with time zone'], ['time', 'time without time zone'], ['varbit', 'bit varying'],
]);

const SIGNATURE = /^\s*([A-Za-z_][A-Za-z0-9_$]*)\s*\.\s*([A-Za-z_][A-Za-z0-9_$]*)\s*\(([^()]*)\)\s*$/;

/**
 * `Public.Full_Name( customers )` → `public.full_name(customers)`; `int4` → `integer`. Undefined
 * when it is not `schema.name(types)`: the schema is required, so an entry never matches a
 * same-named function planted in another schema.
 */
export function normalizeSignature(text: string): string | undefined {
  const m = SIGNATURE.exec(text);
  if (m === null) return undefined;
  const args = m[3]!.trim() === '' ? [] : m[3]!.split(',').map((a) => a.trim().toLowerCase().replace(/\s+/g, ' '));
  if (args.some((a) => a === '' || !/^[a-z_][a-z0-9_$ .\[\]"]*$/.test(a))) return undefined;
  return `${m[1]!.toLowerCase()}.${m[2]!.toLowerCase()}(${args.map((a) => TYPE_ALIASES.get(a) ?? a).join(', ')})`;
}
