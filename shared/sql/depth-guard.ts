// A guard in front of the WASM parser. libpg-query turns its C parse tree into JSON recursively;
// SQL nested deeply enough overflows the native stack inside WASM. That throws a RangeError, but
// each overflow leaks the module's own stack, and after a few dozen of them every later parse in
// the process fails ("memory access out of bounds"): one client could disable analysis for all.
//
// Measured on Node 20 (984 KB stack), in a process warmed up on the corpus (V8's optimised WASM
// code uses more stack than its baseline code): `SELECT 1+1+…` overflows at ~7,200 terms (14 KB of
// SQL), nested `(SELECT …)` at ~1,950 levels (17 KB), estimated depth ~3,900 by the bound below.
//
// So SQL long enough to reach that depth (the densest known nesting is one level per 2 characters)
// gets its possible tree depth bounded first, from a lexical pass: brackets nest, and inside a
// bracket any token other than a constant, a comma or a flattening AND/OR may add a level. Names
// count too (a keyword and an identifier look alike here): over-counting only refuses more.
//
// The pass is plain JavaScript, not libpg-query's scanSync: that costs ~4 µs a token (45 ms for
// 24 KB), more than parsing the same text. If this lexer misreads some exotic SQL the worst case is
// a missed overflow (the leak above) or a refusal; the parser still decides what the SQL does.

import { GatehouseError } from '../errors.ts';

/** Below this many characters no statement can nest deep enough to matter (~1.75× margin). */
export const GUARD_MIN_LENGTH = 8192;

/** Bound on the estimated depth: about half the shallowest overflow measured (~3,900, warm). */
export const MAX_ESTIMATED_DEPTH = 2000;

export function checkNestingDepth(sql: string): void {
  if (sql.length < GUARD_MIN_LENGTH) return;
  const depth = estimatedDepth(sql);
  if (depth > MAX_ESTIMATED_DEPTH) {
    throw new GatehouseError(
      'sql_unparsable',
      `statement is nested too deeply to analyse safely (estimated depth ${depth}, limit ${MAX_ESTIMATED_DEPTH})`,
      { depth, limit: MAX_ESTIMATED_DEPTH },
    );
  }
}

// AND/OR chains become one BoolExpr with a list of arguments; the others are constants.
const FLAT_WORDS = new Set(['and', 'or', 'null', 'true', 'false', 'default']);

const enum Prev { Start, Operand, Operator }

/** An upper bound on the parse tree's depth: each bracket is its own counted tokens + its deepest child + 1. */
export function estimatedDepth(sql: string): number {
  const own: number[] = [0];
  const deepest: number[] = [0];
  const count = () => (own[own.length - 1]! += 1);
  const n = sql.length;
  let prev = Prev.Start;
  let i = 0;
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1] ?? '';
    if (c === ' ' || c === '\n' || c === '\t' || c === '\r' || c === '\f') {
      i++;
    } else if (c === '-' && next === '-') {
      const eol = sql.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
    } else if (c === '/' && next === '*') {
      i = skipBlockComment(sql, i);
    } else if (c === "'") {
      i = skipString(sql, i, false);
      prev = Prev.Operand;
    } else if (c === '"') {
      i = skipQuoted(sql, i, '"');
      prev = Prev.Operand;
    } else if (c === '$' && isDollarQuoteStart(sql, i)) {
      i = skipDollarQuoted(sql, i);
      prev = Prev.Operand;
    } else if (isDigit(c) || (c === '.' && isDigit(next))) {
      i = skipWhile(sql, i + 1, isNumberChar);
      prev = Prev.Operand;
    } else if (c === '$' && isDigit(next)) {
      i = skipWhile(sql, i + 1, isDigit); // a parameter, $1
      prev = Prev.Operand;
    } else if (isWordStart(c)) {
      const end = skipWhile(sql, i + 1, isWordChar);
      const word = sql.slice(i, end);
      if (sql[end] === "'" && /^[eEbBxXnN]$/.test(word)) {
        i = skipString(sql, end, word === 'e' || word === 'E');
      } else if ((word === 'u' || word === 'U') && sql[end] === '&' && (sql[end + 1] === "'" || sql[end + 1] === '"')) {
        i = sql[end + 1] === "'" ? skipString(sql, end + 1, false) : skipQuoted(sql, end + 1, '"');
      } else {
        if (!FLAT_WORDS.has(word.toLowerCase())) count();
        i = end;
      }
      prev = Prev.Operand;
    } else if (c === '(' || c === '[') {
      own.push(0);
      deepest.push(0);
      prev = Prev.Start;
      i++;
    } else if (c === ')' || c === ']') {
      if (own.length > 1) close(own, deepest);
      prev = Prev.Operand;
      i++;
    } else if (c === ',' || c === ';') {
      prev = Prev.Start;
      i++;
    } else if (c === '.') {
      i++;
    } else {
      // Operator characters. `-1` after an operator, bracket or comma is one negative constant.
      const unaryMinusOnNumber = c === '-' && prev !== Prev.Operand && (isDigit(next) || next === '.');
      if (!unaryMinusOnNumber) count();
      prev = Prev.Operator;
      i++;
    }
  }
  while (own.length > 1) close(own, deepest);
  return own[0]! + deepest[0]!;
}

function close(own: number[], deepest: number[]): void {
  const depth = own.pop()! + deepest.pop()! + 1;
  const last = deepest.length - 1;
  deepest[last] = Math.max(deepest[last]!, depth);
}

/** From an opening quote; E'' strings take backslash escapes, standard strings do not. */
function skipString(sql: string, quote: number, backslashEscapes: boolean): number {
  let i = quote + 1;
  while (i < sql.length) {
    const c = sql[i];
    if (backslashEscapes && c === '\\') i += 2;
    else if (c === "'") {
      if (sql[i + 1] !== "'") return i + 1;
      i += 2;
    } else i++;
  }
  return i;
}

function skipQuoted(sql: string, quote: number, q: string): number {
  let i = quote + 1;
  while (i < sql.length) {
    if (sql[i] === q) {
      if (sql[i + 1] !== q) return i + 1;
      i += 2;
    } else i++;
  }
  return i;
}

function skipBlockComment(sql: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else i++;
  }
  return i;
}

const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;

function isDollarQuoteStart(sql: string, i: number): boolean {
  if (i > 0 && isWordChar(sql[i - 1]!)) return false; // `a$b$` is one identifier
  DOLLAR_TAG.lastIndex = i;
  return DOLLAR_TAG.test(sql);
}

function skipDollarQuoted(sql: string, i: number): number {
  DOLLAR_TAG.lastIndex = i;
  const tag = DOLLAR_TAG.exec(sql)?.[0] ?? '$$';
  const end = sql.indexOf(tag, i + tag.length);
  return end < 0 ? sql.length : end + tag.length;
}

function skipWhile(sql: string, i: number, ok: (c: string) => boolean): number {
  while (i < sql.length && ok(sql[i]!)) i++;
  return i;
}

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

function isNumberChar(c: string): boolean {
  return isDigit(c) || c === '.' || c === '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

function isWordStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_' || c >= '\u0080';
}

function isWordChar(c: string): boolean {
  return isWordStart(c) || isDigit(c) || c === '$';
}
