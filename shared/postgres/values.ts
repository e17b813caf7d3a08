// Result values leave this module as JSON: they go into the HTTP answer and, masked, into the
// session log, whose hashes are computed over canonical JSON. Anything JSON cannot hold exactly
// is turned into a string here, once.
import pg from 'pg';
import type { CustomTypesConfig } from 'pg';

const DATE = 1082;
const DATE_ARRAY = 1182;
const TIMESTAMP = 1114;
const TIMESTAMP_ARRAY = 1115;
const TEXT_ARRAY = 1009;

// pg-types' TypeId enum lists scalar types only; the array OIDs are just as valid.
const pgParser = pg.types.getTypeParser as (oid: number, format?: 'text' | 'binary') => (value: string) => unknown;
const keepText = (value: string): string => value;
const textArray = pgParser(TEXT_ARRAY, 'text');

/**
 * pg's parsers, except for `date` and `timestamp` (without time zone): pg reads those as local
 * time, so a Date serialised to UTC would shift the value by the process's UTC offset. PostgreSQL's
 * own text for them is already ISO 8601 and exact to the microsecond.
 */
export const resultTypes: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === DATE || oid === TIMESTAMP) return keepText;
    if (oid === DATE_ARRAY || oid === TIMESTAMP_ARRAY) return textArray;
    return pgParser(oid, format ?? 'text');
  }) as CustomTypesConfig['getTypeParser'],
};

/**
 * int8 and numeric already arrive as strings. Dates (timestamptz) become ISO strings, bytea the
 * `\x…` hex PostgreSQL prints, and non-finite floats (`NaN`, `Infinity`, a timestamp's
 * `infinity`) their names, which JSON would otherwise turn into null.
 */
export function toJsonSafe(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Buffer.isBuffer(value)) return `\\x${value.toString('hex')}`;
  if (Array.isArray(value)) return value.map(toJsonSafe);
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJsonSafe(v);
    return out;
  }
  return String(value);
}

/** The parser of a result column's text, by type OID (resultTypes' choice). */
export function resultParser(oid: number): (text: string) => unknown {
  return (resultTypes.getTypeParser as (oid: number, format: 'text') => (text: string) => unknown)(oid, 'text');
}
