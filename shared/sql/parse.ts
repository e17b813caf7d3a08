// PostgreSQL's own parser (libpg-query, WASM): loading it, and turning its answers and failures
// into exactly one statement or a coded error.

import { hasSqlDetails, loadModule, parseSync } from 'libpg-query';
import { GatehouseError } from '../errors.ts';
import { checkNestingDepth } from './depth-guard.ts';
import { type Fields, unwrap } from './nodes.ts';

let loaded = false;
let loading: Promise<void> | undefined;

/** Loads the WASM module once; later calls share the first load. */
export function loadParser(): Promise<void> {
  loading ??= loadModule().then(
    () => {
      loaded = true;
    },
    (e: unknown) => {
      loading = undefined; // let a later call try again
      throw e;
    },
  );
  return loading;
}

export function assertLoaded(): void {
  if (!loaded) throw new TypeError('the SQL parser is not loaded: await loadParser() before analyze()');
}

export interface ParsedStatement {
  readonly pgType: string;
  readonly node: Fields;
}

const observers = new Set<(sql: string) => void>();

/**
 * Told the text of every parse (this is the only caller of libpg-query's parser): how the tests
 * prove a request parses its SQL once, and a cached statement not at all. Returns the unsubscribe.
 */
export function observeParser(observer: (sql: string) => void): () => void {
  observers.add(observer);
  return () => observers.delete(observer);
}

/** The one statement in `sql`, or a GatehouseError saying why there is not exactly one. */
export function parseOne(sql: string): ParsedStatement {
  assertLoaded();
  for (const observe of observers) observe(sql);
  // The parser reads a C string: text after a NUL would never be analysed, yet could reach a server.
  const nul = sql.indexOf('\0');
  if (nul >= 0) throw new GatehouseError('sql_unparsable', 'SQL contains a NUL character', { position: nul + 1 });
  if (sql.trim() === '') throw new GatehouseError('sql_empty', 'SQL is empty');
  checkNestingDepth(sql);

  let stmts: readonly unknown[];
  try {
    stmts = parseSync(sql).stmts ?? [];
  } catch (e) {
    throw parserFailure(e);
  }
  if (stmts.length === 0) throw new GatehouseError('sql_empty', 'SQL holds no statement, only comments or semicolons');
  if (stmts.length > 1) {
    throw new GatehouseError('sql_multiple_statements', `SQL holds ${stmts.length} statements; send one per request`, { count: stmts.length });
  }
  const raw = stmts[0];
  const stmt = unwrap(typeof raw === 'object' && raw !== null ? (raw as { stmt?: unknown }).stmt : undefined);
  if (stmt === undefined) throw new GatehouseError('sql_unparsable', 'the parser returned no statement', { position: 1 });
  return { pgType: stmt[0], node: stmt[1] };
}

function parserFailure(e: unknown): GatehouseError {
  if (hasSqlDetails(e)) {
    // libpg-query reports a 0-based character offset; PostgreSQL and our API count from 1.
    const position = (e.sqlDetails?.cursorPosition ?? 0) + 1;
    return new GatehouseError('sql_unparsable', e.sqlDetails?.message ?? e.message, { position });
  }
  if (e instanceof RangeError) {
    return new GatehouseError('sql_unparsable', 'statement is nested too deeply to analyse', undefined, { cause: e });
  }
  return new GatehouseError('internal', 'the SQL parser failed', undefined, { cause: e });
}
