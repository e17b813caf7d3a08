// Parse once (issue 17 item 1), the cache's own rules: a Statement is parsed once and then never,
// parse errors are not cached, the LRU is bounded, a cached Statement cannot be changed by anyone
// holding it, and the catalog's verdict is reused only with the very routine catalog it was reached
// with — and never when a name was missing (a relation or function created later must be seen).
import test from 'ava';
import { isGatehouseError } from '../../shared/errors.ts';
import type { CatalogReader, RelationInfo, RoutineCatalogReader } from '../../shared/ports.ts';
import { loadParser } from '../../shared/sql/index.ts';
import { observeParser } from '../../shared/sql/parse.ts';
import type { Routine, RoutineCatalog } from '../../shared/sql/routines.ts';
import { createStatementCache } from '../../shared/sql/statement-cache.ts';

test.before(() => loadParser());

/** Counts parses of each text while `f` runs. */
async function parses<T>(f: () => T | Promise<T>): Promise<{ value: T; texts: string[] }> {
  const texts: string[] = [];
  const stop = observeParser((sql) => texts.push(sql));
  try {
    return { value: await f(), texts };
  } finally {
    stop();
  }
}

function routine(name: string, more: Partial<Routine> = {}): Routine {
  return { oid: 90_000 + name.length, schema: 'public', name, argTypes: ['integer'], defaults: 0, variadic: false, volatility: 'immutable', language: 'sql', kind: 'function', builtin: false, ...more };
}

function catalogOf(routines: readonly Routine[], loadedAt = Date.now()): RoutineCatalog {
  const byName = new Map<string, Routine[]>();
  for (const r of routines) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  return { byName, byOid: new Map(routines.map((r) => [r.oid, r])), userOperators: new Map(), castHooks: new Map(), loadedAt };
}

const TABLE: RelationInfo = { oid: 16_500, schema: 'public', name: 'orders', kind: 'table', columns: new Map([[1, 'id'], [2, 'total']]), ancestors: [] };

/** Catalog ports whose answers the test sets, counting every lookup and routines() call. */
function ports(initial: RoutineCatalog) {
  const state = { routines: initial, refreshed: initial, lookups: 0, routineCalls: 0, refreshes: 0, relations: new Map<string, RelationInfo[]>([['orders', [TABLE]]]) };
  const relations: CatalogReader = {
    describe: async () => new Map(),
    lookup: async (_c, names) => {
      state.lookups++;
      return new Map(names.map((n) => [n, state.relations.get(n) ?? []]));
    },
    userFunctions: async () => new Set(),
  };
  const routines: RoutineCatalogReader = {
    routines: async (_c, options) => {
      state.routineCalls++;
      if (options?.refresh) {
        state.refreshes++;
        state.routines = state.refreshed;
      }
      return state.routines;
    },
  };
  return { state, ports: { relations, routines } };
}

const LISTED = new Map([['public.listed_fn(integer)', 'test']]);

test.serial('a statement is parsed once; a cache hit parses nothing and answers the same frozen object', async (t) => {
  const cache = createStatementCache();
  const sql = 'SELECT id, total FROM orders WHERE id = $1';
  const first = await parses(() => cache.statement(sql));
  t.deepEqual(first.texts, [sql]);
  const again = await parses(() => cache.statement(sql));
  t.deepEqual(again.texts, []);
  t.is(again.value, first.value);
  t.is(first.value.analysis.class, 'read');
  t.regex(first.value.fingerprint, /^[0-9a-f]{16}$/);
  t.deepEqual(cache.stats(), { hits: 1, misses: 1, size: 1 });
});

test('a cached Statement cannot be changed: tree, analysis, lists and call-site maps all refuse', async (t) => {
  const cache = createStatementCache();
  const s = cache.statement("SELECT o.id, lower(o.note) FROM orders o WHERE o.total > 1");
  t.true(Object.isFrozen(s) && Object.isFrozen(s.node) && Object.isFrozen(s.analysis) && Object.isFrozen(s.analysis.tables.read));
  t.throws(() => {
    (s.analysis as { class: string }).class = 'write';
  }, { instanceOf: TypeError });
  t.throws(() => (s.analysis.tables.read as string[]).push('secrets'), { instanceOf: TypeError });
  t.throws(() => (s.analysis.reasons as string[]).splice(0), { instanceOf: TypeError });
  t.throws(() => {
    (s.node as Record<string, unknown>).targetList = [];
  }, { instanceOf: TypeError });
  t.throws(() => (s.sites.aliases as Map<string, string[]>).set('o', ['secrets']), { instanceOf: TypeError });
  t.throws(() => (s.sites.aliases as Map<string, string[]>).delete('o'), { instanceOf: TypeError });
  t.throws(() => (s.sites.aliases as Map<string, string[]>).clear(), { instanceOf: TypeError });
  t.throws(() => (s.sites.calls as unknown[]).push({}), { instanceOf: TypeError });
  // Deep in the tree too.
  const first = (s.node.targetList as unknown[])[0] as Record<string, unknown>;
  t.throws(() => {
    first.ResTarget = {};
  }, { instanceOf: TypeError });
  // And the next request still sees the original.
  t.is(cache.statement("SELECT o.id, lower(o.note) FROM orders o WHERE o.total > 1").analysis.class, 'read');
  t.deepEqual(s.sites.aliases.get('o'), ['orders']);
});

test.serial('parse errors are not cached, and each one is still the same coded refusal', async (t) => {
  const cache = createStatementCache();
  for (const [sql, code] of [['SELEC 1', 'sql_unparsable'], ['SELECT 1; SELECT 2', 'sql_multiple_statements'], ['  -- nothing', 'sql_empty'], ['SELECT 1\0; DROP TABLE x', 'sql_unparsable']] as const) {
    for (let i = 0; i < 2; i++) {
      const { texts } = await parses(() => t.throws(() => cache.statement(sql)));
      t.true(texts.length <= 1);
      const e = t.throws(() => cache.statement(sql));
      t.true(isGatehouseError(e, code), `${sql}: ${String(e)}`);
    }
  }
  t.is(cache.stats().size, 0);
});

test.serial('the LRU is bounded: the least recently used statement is parsed again, a recently used one is not', async (t) => {
  const cache = createStatementCache(2);
  cache.statement('SELECT 1');
  cache.statement('SELECT 2');
  cache.statement('SELECT 1'); // 1 is now the most recent
  cache.statement('SELECT 3'); // evicts 2
  t.is(cache.stats().size, 2);
  t.deepEqual((await parses(() => cache.statement('SELECT 1'))).texts, []);
  t.deepEqual((await parses(() => cache.statement('SELECT 2'))).texts, ['SELECT 2']);
});

test.serial('very long SQL is parsed every time rather than held', async (t) => {
  const cache = createStatementCache();
  const long = `SELECT ${Array.from({ length: 3000 }, (_, i) => `${i}`).join(', ')}`;
  t.true(long.length > 16 * 1024);
  cache.statement(long);
  t.deepEqual((await parses(() => cache.statement(long))).texts, [long]);
});

test('the catalog verdict is reused while routines() answers the same catalog; a new catalog (ALTER, reload) is seen', async (t) => {
  const cache = createStatementCache();
  const v1 = catalogOf([routine('listed_fn')]);
  const { state, ports: p } = ports(v1);
  const s = cache.statement('SELECT listed_fn(total) FROM orders');
  t.is((await cache.resolve(s, 'main', p, LISTED)).class, 'read');
  const lookups = state.lookups;
  t.is((await cache.resolve(s, 'main', p, LISTED)).class, 'read');
  t.is(state.lookups, lookups, 'a hit asks the catalog for nothing but its version');
  // The function is replaced by one the policy does not list (another signature): a reloaded catalog.
  state.routines = catalogOf([routine('listed_fn', { argTypes: ['numeric'], volatility: 'volatile' })]);
  const after = await cache.resolve(s, 'main', p, LISTED);
  t.is(after.class, 'unknown');
  t.true(after.reasons.some((r) => r.includes('listed_fn')), after.reasons.join('; '));
  // Another connection never shares a verdict.
  state.lookups = 0;
  await cache.resolve(s, 'other', p, LISTED);
  t.true(state.lookups > 0);
  // Another policy (another listed map) neither.
  state.lookups = 0;
  await cache.resolve(s, 'main', p, new Map());
  t.true(state.lookups > 0);
});

test('a verdict that involved a missing function or relation is never reused: CREATE FUNCTION / CREATE TABLE are seen at once', async (t) => {
  const cache = createStatementCache();
  const { state, ports: p } = ports(catalogOf([]));
  const s = cache.statement('SELECT created_later(1)');
  const before = await cache.resolve(s, 'main', p, new Map([['public.created_later(integer)', 'test']]));
  t.is(before.class, 'unknown');
  t.is(state.refreshes, 1, 'a missing function refreshes the catalog once');
  // CREATE FUNCTION: the next refresh finds it (same catalog object for plain routines() until then).
  state.refreshed = catalogOf([routine('created_later')]);
  const listed = new Map([['public.created_later(integer)', 'test']]);
  const first = await cache.resolve(s, 'main', p, listed);
  t.is(first.class, 'read');
  // A table the catalog does not have yet: resolved every time, so a view created under that name
  // (calling anything) is seen on the next request.
  const later = cache.statement('SELECT * FROM made_later');
  await cache.resolve(later, 'main', p, listed);
  const n = state.lookups;
  await cache.resolve(later, 'main', p, listed);
  t.is(state.lookups, n + 1);
});

test('statements of other classes need no catalog at all', async (t) => {
  const cache = createStatementCache();
  const { state, ports: p } = ports(catalogOf([]));
  for (const sql of ['DELETE FROM orders', 'DROP TABLE orders', "SELECT set_config('a', 'b', false)"]) {
    const analysis = await cache.resolve(cache.statement(sql), 'main', p, LISTED);
    t.not(analysis.class, 'read');
  }
  t.is(state.lookups, 0);
  t.is(state.routineCalls, 0);
});

test('a catalog that cannot be read leaves nothing read, and that refusal is not cached', async (t) => {
  const cache = createStatementCache();
  const { state, ports: p } = ports(catalogOf([]));
  let down = true;
  const flaky = { ...p, relations: { ...p.relations, lookup: async (c: string, names: readonly string[]) => (down ? Promise.reject(new Error('down')) : p.relations.lookup(c, names)) } };
  const s = cache.statement('SELECT id FROM orders');
  t.is((await cache.resolve(s, 'main', flaky, LISTED)).class, 'unknown');
  down = false;
  t.is((await cache.resolve(s, 'main', flaky, LISTED)).class, 'read');
  t.true(state.lookups > 0);
});
