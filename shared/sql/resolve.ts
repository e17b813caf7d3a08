// Step 2b of the request path: the parse tree says what the statement is; the target's catalog says
// what PostgreSQL will call to run it. A `read` stays `read` only if every function it can call —
// written as a call, in attribute notation, behind an operator or a cast, or inside a view or a row
// security policy it reads — is on the allowlist (allowlist.ts). Anything the catalog cannot place
// makes it `unknown`.
import type { CatalogReader, RelationInfo, RoutineCatalogReader } from './catalog-ports.ts';
import { routineVerdict, type ListedFunctions, type RoutineVerdict } from './allowlist.ts';
import type { Analysis } from './analysis.ts';
import { NOT_A_RELATION, type CallSite, type CallSites, type NamedSite } from './call-sites.ts';
import type { Finding } from './finding.ts';
import type { Routine, RoutineCatalog } from './routines.ts';

export interface ResolveInput {
  readonly sites: CallSites;
  /** Relations the statement reads, as written (CTE names excluded). */
  readonly tablesRead: readonly string[];
  readonly routines: RoutineCatalog;
  /** Relations by name as written → what the catalog has under that name. */
  readonly relations: ReadonlyMap<string, readonly RelationInfo[]>;
  /** Relation name as written → function OIDs reading it runs (its views' rules and row security, transitively). */
  readonly relationCalls: ReadonlyMap<string, readonly number[]>;
  /** Relation name as written → type OIDs its views' rules and row security convert to or compare, transitively. */
  readonly relationTypes?: ReadonlyMap<string, readonly number[]>;
  readonly listed: ListedFunctions;
}

export interface Resolution {
  readonly findings: readonly Finding[];
  /** Functions called by name that the catalog does not have: worth one refresh before refusing. */
  readonly missing: readonly string[];
}

/** Pure: what the catalog makes of every call site. */
export function resolveCalls(input: ResolveInput): Resolution {
  const { sites, routines, listed } = input;
  const findings = new Map<string, Finding>();
  const missing: string[] = [];
  const refuse = (reason: string) => findings.set(reason, { class: 'unknown', reason });
  const verdict = (r: Routine | undefined): RoutineVerdict => (r === undefined ? { allowed: false, why: 'is not in the catalog' } : routineVerdict(r, listed));

  // A call that can give an untyped constant or parameter the type of a column (see below).
  let retyping: CallSite | undefined;
  // A call whose result is a polymorphic array (array_agg(d) is an array of d's domain).
  let polymorphicResult = false;
  const typesOf = (r: Routine, report: (fn: number, v: RoutineVerdict) => void) => {
    // A built-in argument type converts with its built-in input function; a cast into it from
    // another type runs only for a value of that type, whose own hooks cover it.
    for (const type of (r.argTypeIds ?? []).filter((t) => t >= FIRST_NORMAL_OID)) {
      const hooks = routines.typeHooks?.get(type);
      for (const fn of [...(hooks?.conversion ?? []), ...(hooks?.use ?? [])]) {
        const v = verdict(routines.byOid.get(fn));
        if (!v.allowed) report(fn, v);
      }
    }
    for (const fn of (r.returnTypeId === undefined ? undefined : routines.typeHooks?.get(r.returnTypeId))?.use ?? []) {
      const v = verdict(routines.byOid.get(fn));
      if (!v.allowed) report(fn, v);
    }
  };
  const castTo = (cast: NamedSite, how: string) => {
    for (const fn of hooked(routines.castHooks, cast)) {
      const v = verdict(routines.byOid.get(fn));
      if (!v.allowed) refuse(`${how} ${cast.schema ? `${cast.schema}.` : ''}${cast.name} calls ${nameOf(routines, fn)}(), which ${v.why}`);
    }
  };
  for (const site of sites.calls) {
    if (site.form === 'attribute' && isColumn(site, input)) continue;
    // `t(x)` and `(x).t` with one argument are casts to type t when no function t fits
    // (function-style cast): a domain's CHECK or a type's input function runs.
    if (site.form !== 'syntax' && site.args === 1 && !site.variadic) {
      castTo({ name: site.name, ...(site.schema !== undefined ? { schema: site.schema } : {}) }, `${site.form === 'attribute' ? `(…).${site.name}` : `${site.name}(…)`} can be a cast to`);
    }
    const all = (routines.byName.get(site.name) ?? []).filter((r) => site.schema === undefined || r.schema === site.schema);
    // SQL/JSON syntax: on a target whose grammar has it, no function runs; on an older one, the
    // function of that name does, with any arguments — so every one of that name must be allowed.
    const candidates = site.form === 'syntax' ? all.filter((r) => r.kind !== 'procedure') : all.filter((r) => callable(r, site));
    if (candidates.some((r) => r.returnTypeId !== undefined && POLYMORPHIC_ARRAY_TYPE_IDS.has(r.returnTypeId))) polymorphicResult = true;
    if (retyping === undefined && site.untyped !== undefined && candidates.some((r) => site.untyped!.some((i) => isPolymorphicAt(r, i)))) retyping = site;
    const shown = `${site.schema ? `${site.schema}.` : ''}${site.name}()`;
    const where =
      site.form === 'attribute' ? `attribute notation ${[...(site.qualifier ?? ['(…)']), site.name].join('.')} calls ${shown}`
      : site.form === 'syntax' ? `${site.name.toUpperCase()}(…) is SQL/JSON syntax that this target's PostgreSQL parses as a call of ${shown}`
      : `calls ${shown}`;
    if (candidates.length === 0) {
      // Attribute notation that names no one-argument function is a column or a field; SQL/JSON
      // syntax with no function of that name is syntax (or an error) on the target.
      if (site.form !== 'call') continue;
      missing.push(site.name);
      refuse(`${where}, which the catalog of this connection does not know`);
      continue;
    }
    const verdicts = candidates.map(verdict);
    const refused = verdicts.find((v) => !v.allowed);
    if (refused === undefined) {
      // A function the policy lists runs, and so does what its types run: converting its arguments
      // (a domain parameter's CHECK), using its result (sorting it with its type's comparison).
      // PostgreSQL's own take and return PostgreSQL's own types (or their caller's: polymorphic).
      for (const r of candidates) if (!r.builtin) typesOf(r, (fn, v) => refuse(`${where} (listed), whose argument or result type calls ${nameOf(routines, fn)}(), which ${v.why}`));
      continue;
    }
    const ambiguous = verdicts.some((v) => v.allowed) ? ' (one of several overloads)' : '';
    refuse(`${where}${ambiguous}, which ${refused.why}`);
  }

  // A sampling method is a handler function, `m(internal)`: PostgreSQL's own (BERNOULLI, SYSTEM)
  // only hand back built-in sampling code — volatile in pg_proc, yet they change nothing; an
  // extension's (tsm_system_time scans for as long as it is told) must be listed like any function.
  for (const sampler of sites.samplers ?? []) {
    const handlers = (routines.byName.get(sampler.name) ?? []).filter((r) => (sampler.schema === undefined || r.schema === sampler.schema) && r.argTypes.length === 1 && r.argTypes[0] === 'internal');
    if (handlers.length === 0) {
      missing.push(sampler.name);
      refuse(`TABLESAMPLE ${sampler.name} names a sampling method the catalog of this connection does not know`);
      continue;
    }
    for (const r of handlers) {
      if (r.builtin) continue;
      const v = verdict(r);
      if (!v.allowed) refuse(`TABLESAMPLE ${sampler.name} calls ${r.schema}.${r.name}(), which ${v.why}`);
    }
  }
  for (const op of sites.operators) {
    for (const fn of hooked(routines.userOperators, op)) {
      const v = verdict(routines.byOid.get(fn));
      if (!v.allowed) refuse(`operator ${op.schema ? `${op.schema}.` : ''}${op.name} calls ${nameOf(routines, fn)}(), which ${v.why}`);
    }
  }
  for (const cast of sites.casts) castTo(cast, 'a cast to');
  // What reading a relation may run with no call written (routine-catalog.ts TYPE_HOOKS). Using
  // values of its row type — printing a column, sorting, grouping or de-duplicating it with its
  // type's default comparison, an implicit cast from it — always. Converting a value to it (a
  // column's domain CHECK, a type's input function) when the statement can: a whole row passed on
  // (json_populate_record(w, …), a CTE's row, `w.*` in a call), or a constant or parameter given a
  // column's type by a polymorphic function (`lag(d, 1, 'x')`, `array_append(ARRAY[d], $1)`).
  // And a constant or parameter anywhere: PostgreSQL types it as what it meets — the other operand
  // where a polymorphic operator fits, the common type of CASE, COALESCE, UNION, VALUES
  // (`ARRAY[d] = '{x}'` and `coalesce(ARRAY[d], '{x}')` read '{x}' as an array of d's domain) —
  // so where the statement builds arrays of column values, or a column's type is itself an array or
  // composite holding such a type (only that part: `d = 'x'`, `coalesce(d, 'x')` use text).
  const wholeRows = sites.wholeRows.filter((n) => n === '' || sites.aliases.has(n));
  const arrays = sites.arrays === true || polymorphicResult;
  const converting =
    wholeRows.length > 0 ? `a whole row (${wholeRows[0] || '(…).*'}) is used where`
    : retyping !== undefined ? `${retyping.name}() can give a constant or parameter the type of a column of what is read, and`
    : sites.untypedValue === true && arrays ? 'a constant or parameter can take the type of an array of column values, and'
    : undefined;
  const containerConverting = sites.untypedValue === true ? 'a constant or parameter can take the type of a column of what is read, and' : undefined;
  for (const table of input.tablesRead) {
    const infos = input.relations.get(table) ?? [];
    if (infos.length === 0 && converting !== undefined) {
      // Not found: PostgreSQL will not find it either, unless it is created meanwhile. By name.
      const parts = table.split('.');
      const site = { name: parts[parts.length - 1]!, ...(parts.length > 1 ? { schema: parts[parts.length - 2] } : {}) };
      for (const fn of hooked(routines.castHooks, site)) {
        const v = verdict(routines.byOid.get(fn));
        if (!v.allowed) refuse(`${converting} ${table} is read, and converting to its row type calls ${nameOf(routines, fn)}(), which ${v.why}`);
      }
    }
    for (const info of infos) {
      const hooks = info.rowType === undefined ? undefined : routines.typeHooks?.get(info.rowType);
      for (const fn of hooks?.use ?? []) {
        const v = verdict(routines.byOid.get(fn));
        if (!v.allowed) refuse(`reading ${table} prints, compares or implicitly casts values of its columns' types, which calls ${nameOf(routines, fn)}(), which ${v.why}`);
      }
      const conversion = converting !== undefined ? hooks?.conversion : containerConverting !== undefined ? hooks?.container : undefined;
      for (const fn of conversion ?? []) {
        const v = verdict(routines.byOid.get(fn));
        if (!v.allowed) refuse(`${converting ?? containerConverting} ${table} is read, and converting to its row type calls ${nameOf(routines, fn)}(), which ${v.why}`);
      }
    }
    for (const type of input.relationTypes?.get(table) ?? []) {
      const hooks = routines.typeHooks?.get(type);
      for (const fn of [...(hooks?.conversion ?? []), ...(hooks?.use ?? [])]) {
        const v = verdict(routines.byOid.get(fn));
        if (!v.allowed) refuse(`reading ${table} converts to or compares a type (in a view or row security policy) whose conversion or comparison calls ${nameOf(routines, fn)}(), which ${v.why}`);
      }
    }
  }
  // An implicit cast between built-in types with a function someone created, or such a type's
  // default comparison: its values need no name in the statement.
  for (const fn of routines.everywhere ?? []) {
    const v = verdict(routines.byOid.get(fn));
    if (!v.allowed) refuse(`values of a built-in type are implicitly cast or compared by ${nameOf(routines, fn)}(), which ${v.why}`);
  }
  for (const table of input.tablesRead) {
    for (const fn of input.relationCalls.get(table) ?? []) {
      const v = verdict(routines.byOid.get(fn));
      if (!v.allowed) refuse(`reading ${table} calls ${nameOf(routines, fn)}() (a view or row security policy), which ${v.why}`);
    }
  }
  return { findings: [...findings.values()], missing: [...new Set(missing)] };
}

/**
 * `q.name` is a column, not a call, when `q` names FROM items that are all relations having a
 * column `name` (PostgreSQL prefers the column), or when `q.name` is itself a relation
 * (`schema.table.column`). Anything else that names a one-argument function is a call.
 */
function isColumn(site: CallSite, input: ResolveInput): boolean {
  const q = site.qualifier;
  if (q === undefined || q.length === 0) return false;
  if (input.sites.aliases.has([...q, site.name].join('.'))) return true;
  const relations = input.sites.aliases.get(q.join('.'));
  if (relations === undefined || relations.length === 0) return false;
  return relations.every((rel) => {
    if (rel === NOT_A_RELATION) return false;
    const infos = input.relations.get(rel);
    return infos !== undefined && infos.length > 0 && infos.every((i) => [...i.columns.values()].includes(site.name));
  });
}

/** FirstNormalObjectId: objects with a lower OID were created by initdb. */
const FIRST_NORMAL_OID = 16384;

/**
 * pg_type OIDs of anyarray and anycompatiblearray: a function returning one builds an array of its
 * arguments' type (array_agg(d)); the other polymorphic results are the type of an argument, which
 * is an array only if an array went in (and then it was built or read, and counted there).
 */
const POLYMORPHIC_ARRAY_TYPE_IDS: ReadonlySet<number> = new Set([2277, 5078]);

/**
 * Is the parameter at argument position `i` polymorphic (anyelement, anycompatible, anyarray, …;
 * not "any", which converts nothing)? Past the last, a variadic function's last parameter; named
 * arguments may land anywhere, so a function with any polymorphic parameter counts for those.
 */
function isPolymorphicAt(r: Routine, i: number): boolean {
  const polymorphic = (type: string | undefined) => type !== undefined && /^any[a-z]/.test(type);
  if (i < 0) return r.argTypes.some(polymorphic);
  return polymorphic(i < r.argTypes.length ? r.argTypes[i] : r.variadic ? r.argTypes[r.argTypes.length - 1] : undefined);
}

/** Could PostgreSQL pick `r` for a call with this many arguments? (Types are not resolved: over-matches.) */
function callable(r: Routine, site: CallSite): boolean {
  if (r.kind === 'procedure') return false;
  const n = r.argTypes.length;
  if (site.variadic) return r.variadic;
  if (r.variadic) return site.args >= n - 1 - r.defaults;
  return site.args <= n && site.args >= n - r.defaults;
}

function hooked(map: ReadonlyMap<string, readonly { schema: string; functions: readonly number[] }[]>, site: NamedSite): number[] {
  return (map.get(site.name) ?? []).filter((h) => site.schema === undefined || h.schema === site.schema).flatMap((h) => h.functions);
}

function nameOf(routines: RoutineCatalog, oid: number): string {
  const r = routines.byOid.get(oid);
  return r === undefined ? `function ${oid}` : `${r.schema}.${r.name}`;
}

// --- against the live catalog -------------------------------------------------------------------

export interface ResolvePorts {
  readonly routines: RoutineCatalogReader;
  readonly relations: CatalogReader;
}

/**
 * The analysis with the catalog's verdict: a `read` that can call anything off the allowlist
 * becomes `unknown`, with one reason per call. Statements of other classes are not reads anyway
 * and keep their class (their side effects are what the policy decides on). A catalog that cannot
 * be read leaves nothing `read`.
 */
export async function resolveAnalysis(
  analysis: Analysis,
  sites: CallSites,
  connection: string,
  ports: ResolvePorts,
  listed: ListedFunctions,
): Promise<Analysis> {
  return (await resolveWithCatalog(analysis, sites, connection, ports, listed)).analysis;
}

/** resolveAnalysis, saying which catalog decided and whether the verdict may be reused with it. */
export interface CatalogVerdict {
  readonly analysis: Analysis;
  /**
   * The routine catalog the verdict was reached with, when it may be reused for as long as
   * `routines(connection)` answers this same catalog (statement-cache.ts): only when every name
   * the statement reads was found and every function it calls was in the catalog — a relation or
   * function created later under such a name must be seen at once, as without a cache.
   */
  readonly reusableWith?: RoutineCatalog;
}

export async function resolveWithCatalog(
  analysis: Analysis,
  sites: CallSites,
  connection: string,
  ports: ResolvePorts,
  listed: ListedFunctions,
): Promise<CatalogVerdict> {
  if (analysis.class !== 'read') return { analysis };
  let resolution: Resolution;
  let catalog: RoutineCatalog;
  let allFound: boolean;
  try {
    // A bare name that is also a CTE's (or a subquery's) names that, not a table: looking it up would
    // cost a catalog query per statement (only found names are cached) and could find a stranger.
    const shadowed = (n: string) => !n.includes('.') && (sites.aliases.get(n)?.includes(NOT_A_RELATION) ?? false);
    const names = [...new Set([...analysis.tables.read, ...[...sites.aliases.values()].flat()])].filter((n) => n !== NOT_A_RELATION && !shadowed(n));
    const relations = await ports.relations.lookup(connection, names);
    allFound = names.every((n) => (relations.get(n)?.length ?? 0) > 0);
    const { calls: relationCalls, types: relationTypes } = await callsOf(ports.relations, connection, relations);
    const run = (routines: RoutineCatalog) => resolveCalls({ sites, tablesRead: analysis.tables.read, routines, relations, relationCalls, relationTypes, listed });
    catalog = await ports.routines.routines(connection);
    resolution = run(catalog);
    if (resolution.missing.length > 0) {
      allFound = false;
      resolution = run(await ports.routines.routines(connection, { refresh: true }));
    }
  } catch {
    return { analysis: asUnknown(analysis, [`the catalog of connection "${connection}" could not be read, so the functions this statement calls cannot be checked`]) };
  }
  const resolved = resolution.findings.length === 0 ? analysis : asUnknown(analysis, resolution.findings.map((f) => f.reason));
  return allFound ? { analysis: resolved, reusableWith: catalog } : { analysis: resolved };
}

function asUnknown(analysis: Analysis, reasons: readonly string[]): Analysis {
  return { ...analysis, class: 'unknown', reasons: [...reasons] };
}

/**
 * Function OIDs each named relation runs when read, and type OIDs its rules use, through views over
 * views and the relations row security policies read.
 */
async function callsOf(
  catalog: CatalogReader,
  connection: string,
  relations: ReadonlyMap<string, readonly RelationInfo[]>,
): Promise<{ calls: Map<string, number[]>; types: Map<string, number[]> }> {
  const out = new Map<string, number[]>();
  const typesOut = new Map<string, number[]>();
  for (const [name, infos] of relations) {
    const calls = new Set<number>();
    const types = new Set<number>();
    const seen = new Set<number>();
    let frontier = [...infos];
    for (let depth = 0; frontier.length > 0; depth++) {
      // Deeper than any view chain the masking catalog follows: refuse rather than guess.
      if (depth > 32) throw new Error('view nesting too deep');
      const next: number[] = [];
      for (const info of frontier) {
        if (seen.has(info.oid)) continue;
        seen.add(info.oid);
        for (const fn of info.calls ?? []) calls.add(fn);
        for (const type of info.types ?? []) types.add(type);
        for (const dep of [...(info.depends ?? []), ...(info.policyReads ?? [])]) if (!seen.has(dep)) next.push(dep);
      }
      if (next.length === 0) break;
      const described = await catalog.describe(connection, next);
      if (next.some((oid) => !described.has(oid))) throw new Error('a view depends on a relation the catalog does not have');
      frontier = [...described.values()];
    }
    if (calls.size > 0) out.set(name, [...calls]);
    if (types.size > 0) typesOut.set(name, [...types]);
  }
  return { calls: out, types: typesOut };
}
