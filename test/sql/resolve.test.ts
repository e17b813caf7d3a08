// The catalog step on hand-built catalogs: what makes a read `unknown` (unknown names, ambiguous
// overloads, refused built-ins, user functions, hooks behind operators and casts, views), what the
// policy's functions: entries allow, and that a catalog which cannot be read leaves nothing `read`.
import test from 'ava';
import type { CatalogReader, RelationInfo, RoutineCatalogReader } from '../../shared/ports.ts';
import { inspect, loadParser, resolveAnalysis, resolveCalls, type Routine, type RoutineCatalog } from '../../shared/sql/index.ts';

test.before(async () => {
  await loadParser();
});

let nextOid = 20_000;
function fn(name: string, over: Partial<Routine> = {}): Routine {
  return { oid: nextOid++, schema: 'pg_catalog', name, argTypes: ['text'], defaults: 0, variadic: false, volatility: 'immutable', language: 'internal', kind: 'function', builtin: true, ...over };
}

function catalogOf(routines: Routine[], extra: Partial<RoutineCatalog> = {}): RoutineCatalog {
  const byName = new Map<string, Routine[]>();
  for (const r of routines) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  return { byName, byOid: new Map(routines.map((r) => [r.oid, r])), userOperators: new Map(), castHooks: new Map(), loadedAt: 0, ...extra };
}

const CUSTOMERS: RelationInfo = { oid: 100, schema: 'public', name: 'customers', kind: 'table', columns: new Map([[1, 'id'], [2, 'email'], [3, 'name']]), ancestors: [] };

function resolve(sql: string, catalog: RoutineCatalog, listed = new Map<string, string>(), relations = new Map<string, RelationInfo[]>([['customers', [CUSTOMERS]], ['public.customers', [CUSTOMERS]]])) {
  const { analysis, sites } = inspect(sql);
  return resolveCalls({ sites, tablesRead: analysis.tables.read, routines: catalog, relations, relationCalls: new Map(), listed }).findings.map((f) => f.reason);
}

const LOWER = fn('lower');
const TERMINATE = fn('pg_terminate_backend', { argTypes: ['integer', 'bigint'], defaults: 1, volatility: 'volatile' });
const TO_JSONB = fn('to_jsonb', { argTypes: ['anyelement'], volatility: 'stable' });
const BASE = [LOWER, TERMINATE, TO_JSONB, fn('now', { argTypes: [], volatility: 'stable' }), fn('random', { argTypes: [], volatility: 'volatile' })];

test('built-in immutable and stable functions, and the harmless volatile ones, keep a read', (t) => {
  t.deepEqual(resolve('SELECT lower(email), now(), random(), c.to_jsonb FROM customers c', catalogOf(BASE)), []);
});

test('a column beats a same-named function; a non-column field is a call', (t) => {
  const cat = catalogOf([...BASE, fn('email', { schema: 'public', builtin: false, language: 'sql' })]);
  t.deepEqual(resolve('SELECT c.email FROM customers c', cat), [], 'email is a column of customers');
  t.deepEqual(resolve('SELECT customers.email FROM customers', cat), []);
  t.deepEqual(resolve('SELECT public.customers.email FROM public.customers', cat), []);
  t.regex(resolve('SELECT x.email FROM (SELECT email FROM customers) x', cat)[0] ?? '', /attribute notation x\.email calls email\(\), which is a user-defined sql function/);
  t.regex(resolve('SELECT (id).pg_terminate_backend FROM customers', cat)[0] ?? '', /attribute notation id\.pg_terminate_backend calls pg_terminate_backend\(\), which signals server processes/);
  t.regex(resolve("SELECT ('x').pg_terminate_backend", cat)[0] ?? '', /attribute notation \(…\)\.pg_terminate_backend/);
});

test('names the catalog does not know are reported as missing (the caller refreshes once), and refused', (t) => {
  const { analysis, sites } = inspect('SELECT brand_new(1)');
  const r = resolveCalls({ sites, tablesRead: analysis.tables.read, routines: catalogOf(BASE), relations: new Map(), relationCalls: new Map(), listed: new Map() });
  t.deepEqual(r.missing, ['brand_new']);
  t.regex(r.findings[0]!.reason, /brand_new\(\), which the catalog of this connection does not know/);
});

test('an ambiguous overload where one candidate is off the allowlist is refused', (t) => {
  const cat = catalogOf([...BASE, fn('lower', { schema: 'public', builtin: false, language: 'plpgsql' })]);
  t.regex(resolve('SELECT lower(name) FROM customers', cat)[0] ?? '', /calls lower\(\) \(one of several overloads\), which is a user-defined plpgsql function/);
  // Qualified with pg_catalog, only PostgreSQL's own is a candidate.
  t.deepEqual(resolve('SELECT pg_catalog.lower(name) FROM customers', cat), []);
});

test('arity decides which overloads are candidates (defaults and variadic included)', (t) => {
  const cat = catalogOf([...BASE, fn('f', { schema: 'public', builtin: false, language: 'sql', argTypes: ['integer', 'integer'] })]);
  t.is(resolve('SELECT pg_terminate_backend(1)', cat).length, 1, 'a default makes one argument enough');
  t.regex(resolve('SELECT f(1)', cat)[0] ?? '', /does not know/, 'no f takes one argument');
  t.regex(resolve('SELECT f(1, 2)', cat)[0] ?? '', /user-defined sql function/);
});

test('the policy lists a function by exact signature; refused names stay refused even if listed', (t) => {
  const fullName = fn('full_name', { schema: 'public', builtin: false, language: 'sql', argTypes: ['customers'], volatility: 'stable' });
  const cat = catalogOf([...BASE, fullName, fn('dblink_exec', { schema: 'public', builtin: false, language: 'c', argTypes: ['text'] })]);
  t.regex(resolve('SELECT c.full_name FROM customers c', cat)[0] ?? '', /not listed in the policy/);
  t.deepEqual(resolve('SELECT c.full_name FROM customers c', cat, new Map([['public.full_name(customers)', 'pure']])), []);
  t.deepEqual(resolve('SELECT full_name(c) FROM customers c', cat, new Map([['public.full_name(customers)', 'pure']])), []);
  t.is(resolve('SELECT c.full_name FROM customers c', cat, new Map([['other.full_name(customers)', 'pure']])).length, 1, 'another schema does not match');
  t.regex(resolve("SELECT dblink_exec('x')", cat, new Map([['public.dblink_exec(text)', 'trust me']]))[0] ?? '', /runs SQL over another connection/);
});

test('user operators and casts whose functions are off the allowlist are refused', (t) => {
  const planted = fn('planted', { schema: 'public', builtin: false, language: 'sql', volatility: 'volatile' });
  const cat = catalogOf([...BASE, planted], {
    userOperators: new Map([['###', [{ schema: 'public', functions: [planted.oid] }]]]),
    castHooks: new Map([['mood', [{ schema: 'public', functions: [planted.oid] }]]]),
  });
  t.regex(resolve('SELECT 1 ### 2', cat)[0] ?? '', /operator ### calls public\.planted\(\)/);
  t.regex(resolve("SELECT 'x'::mood", cat)[0] ?? '', /a cast to mood calls public\.planted\(\)/);
  t.regex(resolve("SELECT CAST('x' AS public.mood)", cat)[0] ?? '', /a cast to public\.mood/);
  t.deepEqual(resolve('SELECT 1 + 2', cat), []);
});

test('a view whose rule calls a user function makes reading it unknown', async (t) => {
  const planted = fn('planted', { schema: 'public', builtin: false, language: 'sql', volatility: 'volatile' });
  const view: RelationInfo = { oid: 300, schema: 'public', name: 'v', kind: 'view', columns: new Map([[1, 'x']]), ancestors: [], depends: [301] };
  const inner: RelationInfo = { oid: 301, schema: 'public', name: 'w', kind: 'view', columns: new Map([[1, 'x']]), ancestors: [], calls: [planted.oid] };
  const relations: CatalogReader = {
    describe: async (_c, oids) => new Map([view, inner].filter((r) => oids.includes(r.oid)).map((r) => [r.oid, r])),
    lookup: async (_c, names) => new Map(names.map((n) => [n, n === 'v' ? [view] : []])),
    userFunctions: async () => new Set(),
  };
  const routines: RoutineCatalogReader = { routines: async () => catalogOf([...BASE, planted]) };
  const { analysis, sites } = inspect('SELECT x FROM v');
  const out = await resolveAnalysis(analysis, sites, 'c', { routines, relations }, new Map());
  t.is(out.class, 'unknown');
  t.regex(out.reasons[0]!, /reading v calls public\.planted\(\) \(a view or row security policy\)/);
});

test('a catalog that cannot be read leaves nothing read; other classes keep theirs', async (t) => {
  const broken: RoutineCatalogReader = { routines: async () => Promise.reject(new Error('permission denied for table pg_proc')) };
  const relations: CatalogReader = { describe: async () => new Map(), lookup: async (_c, n) => new Map(n.map((x) => [x, []])), userFunctions: async () => new Set() };
  const read = inspect('SELECT 1');
  const out = await resolveAnalysis(read.analysis, read.sites, 'main', { routines: broken, relations }, new Map());
  t.is(out.class, 'unknown');
  t.regex(out.reasons[0]!, /the catalog of connection "main" could not be read/);
  const write = inspect('UPDATE t SET x = 1 WHERE id = 2');
  t.is((await resolveAnalysis(write.analysis, write.sites, 'main', { routines: broken, relations }, new Map())).class, 'write');
});

test('a subquery, CTE or function alias shadowing a table name is not taken for that table', (t) => {
  const weird: RelationInfo = { oid: 101, schema: 'public', name: 'r', kind: 'table', columns: new Map([[1, 'lo_unlink']]), ancestors: [] };
  const cat = catalogOf([...BASE, fn('lo_unlink', { argTypes: ['oid'], volatility: 'volatile' })]);
  const relations = new Map<string, RelationInfo[]>([['r', [weird]]]);
  t.deepEqual(resolve('SELECT q.lo_unlink FROM r q', cat, new Map(), relations), [], 'a real column');
  t.is(resolve('SELECT (SELECT q.lo_unlink FROM (SELECT oid FROM pg_largeobject_metadata) q) FROM r q', cat, new Map(), relations).length, 1);
  t.is(resolve('WITH r AS (SELECT oid FROM pg_largeobject_metadata) SELECT r.lo_unlink FROM r', cat, new Map(), relations).length, 1);
});

test('type hooks: a relation read runs its row type\'s use hooks always, its conversion hooks only when a value can be converted to it', (t) => {
  const cmp = fn('pair_cmp', { schema: 'public', builtin: false, language: 'sql', argTypes: ['pair', 'pair'] });
  const check = fn('planted_check', { schema: 'public', builtin: false, language: 'sql' });
  const lag = fn('lag', { argTypes: ['anycompatible', 'integer', 'anycompatible'], kind: 'window' });
  const withRow: RelationInfo = { ...CUSTOMERS, rowType: 500 };
  const relations = new Map<string, RelationInfo[]>([['customers', [withRow]]]);
  const cat = (use: number[], conversion: number[]) => catalogOf([...BASE, cmp, check, lag], { typeHooks: new Map([[500, { use, conversion }]]) });
  t.regex(resolve('SELECT id FROM customers', cat([cmp.oid], []), new Map(), relations)[0] ?? '', /reading customers prints, compares or implicitly casts .* public\.pair_cmp\(\)/);
  t.deepEqual(resolve('SELECT id, email FROM customers', cat([], [check.oid]), new Map(), relations), [], 'no conversion: a domain column read as is');
  t.regex(resolve("SELECT lag(email, 1, 'x') OVER () FROM customers", cat([], [check.oid]), new Map(), relations)[0] ?? '', /lag\(\) can give a constant or parameter the type of a column .* public\.planted_check\(\)/);
  t.regex(resolve('SELECT lag(email, 1, $1) OVER () FROM customers', cat([], [check.oid]), new Map(), relations)[0] ?? '', /planted_check/);
  t.deepEqual(resolve('SELECT lag(email, 1, email) OVER () FROM customers', cat([], [check.oid]), new Map(), relations), [], 'typed arguments convert nothing');
  t.regex(resolve('SELECT to_jsonb(c) FROM customers c', cat([], [check.oid]), new Map(), relations)[0] ?? '', /a whole row \(c\) is used where customers is read/);
});

test('type hooks: of built-in types everywhere, of types a view converts to, of a listed function\'s argument and result types, of a function-style cast', (t) => {
  const planted = fn('planted', { schema: 'public', builtin: false, language: 'sql', volatility: 'volatile' });
  const listedFn = fn('make_pair', { schema: 'public', builtin: false, language: 'sql', argTypes: ['integer'], argTypeIds: [23], returnTypeId: 600 });
  const cat = catalogOf([...BASE, planted, listedFn], {
    everywhere: [planted.oid],
    typeHooks: new Map([[600, { use: [planted.oid], conversion: [] }]]),
  });
  t.regex(resolve('SELECT 1', cat)[0] ?? '', /values of a built-in type are implicitly cast or compared by public\.planted\(\)/);
  const cat2 = catalogOf([...BASE, planted, listedFn], { typeHooks: new Map([[600, { use: [planted.oid], conversion: [] }]]), castHooks: new Map([['dom', [{ schema: 'public', functions: [planted.oid] }]]]) });
  t.regex(resolve('SELECT make_pair(1)', cat2, new Map([['public.make_pair(integer)', 'pure']]))[0] ?? '', /make_pair\(\) \(listed\), whose argument or result type calls public\.planted\(\)/);
  t.regex(resolve("SELECT ('x').dom", cat2)[0] ?? '', /\(…\)\.dom can be a cast to dom calls public\.planted\(\)/);
  t.regex(resolve("SELECT dom('x')", cat2).join('\n'), /dom\(…\) can be a cast to dom calls public\.planted\(\)/);
  const view: RelationInfo = { oid: 300, schema: 'public', name: 'v', kind: 'view', columns: new Map([[1, 'x']]), ancestors: [] };
  const { analysis, sites } = inspect('SELECT x FROM v');
  const findings = resolveCalls({ sites, tablesRead: analysis.tables.read, routines: cat2, relations: new Map([['v', [view]]]), relationCalls: new Map(), relationTypes: new Map([['v', [600]]]), listed: new Map() }).findings;
  t.regex(findings[0]?.reason ?? '', /reading v converts to or compares a type .* public\.planted\(\)/);
});

test('TABLESAMPLE: PostgreSQL\'s own methods pass, an extension\'s handler must be listed, an unknown one is refused', (t) => {
  const bernoulli = fn('bernoulli', { argTypes: ['internal'], volatility: 'volatile' });
  const systemTime = fn('system_time', { schema: 'public', argTypes: ['internal'], volatility: 'volatile', builtin: false, language: 'c' });
  const cat = catalogOf([...BASE, bernoulli, systemTime]);
  t.deepEqual(resolve('SELECT id FROM customers TABLESAMPLE BERNOULLI (10)', cat), []);
  t.regex(resolve('SELECT id FROM customers TABLESAMPLE system_time (10)', cat)[0] ?? '', /TABLESAMPLE system_time calls public\.system_time\(\), which is an extension function/);
  t.deepEqual(resolve('SELECT id FROM customers TABLESAMPLE system_time (10)', cat, new Map([['public.system_time(internal)', 'bounded by the timeout']])), []);
  t.regex(resolve('SELECT id FROM customers TABLESAMPLE nothere (10)', cat)[0] ?? '', /sampling method the catalog of this connection does not know/);
});

test('type hooks: an untyped value converts to an array of column values, or to a container column\'s type, not to a scalar domain', (t) => {
  const check = fn('planted_check', { schema: 'public', builtin: false, language: 'sql' });
  const arrayAgg = fn('array_agg', { argTypes: ['anynonarray'], kind: 'aggregate', returnTypeId: 2277 });
  const withRow: RelationInfo = { ...CUSTOMERS, rowType: 500 };
  const relations = new Map<string, RelationInfo[]>([['customers', [withRow]]]);
  const scalar = catalogOf([...BASE, check, arrayAgg], { typeHooks: new Map([[500, { use: [], conversion: [check.oid] }]]) });
  t.deepEqual(resolve("SELECT id FROM customers WHERE email = 'x' AND id IN (1, 2)", scalar, new Map(), relations), []);
  t.regex(resolve("SELECT ARRAY[email] = '{x}' FROM customers", scalar, new Map(), relations)[0] ?? '', /a constant or parameter can take the type of an array of column values/);
  t.regex(resolve('SELECT (SELECT array_agg(email) FROM customers) @> $1', scalar, new Map(), relations)[0] ?? '', /planted_check/);
  const container = catalogOf([...BASE, check], { typeHooks: new Map([[500, { use: [], conversion: [check.oid], container: [check.oid] }]]) });
  t.regex(resolve("SELECT id FROM customers WHERE email = '{x}'", container, new Map(), relations)[0] ?? '', /a constant or parameter can take the type of a column of what is read/);
  t.deepEqual(resolve('SELECT id, email FROM customers', container, new Map(), relations), []);
  t.deepEqual(resolve("SELECT id, email::text, CAST($1 AS int) FROM customers", container, new Map(), relations), [], 'a cast types its constant');
  t.regex(resolve("SELECT coalesce(ARRAY[email], '{x}') FROM customers", scalar, new Map(), relations)[0] ?? '', /planted_check/);
});
