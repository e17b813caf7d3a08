// PostgreSQL's error messages can quote row values: `SELECT ssn::int FROM customers` fails with
// `invalid input syntax for type integer: "901-12-3401"`. The gateway keeps the primary message
// (the bot needs it to fix its SQL) and drops `detail` already (shared/execute/postgres-errors.ts);
// this takes the values out of what is kept.
import type { MaskingConfig } from '../policy/types.ts';
import { createDetectors, DETECTOR_NAMES } from './detectors.ts';
import { REDACTED } from './strategies.ts';

// Every detector, whatever the policy enables: error messages are rare and short, and a quoted
// value in one is the kind of leak nobody reviews.
const ALL_DETECTORS = createDetectors(DETECTOR_NAMES);

// PostgreSQL quotes values and names alike in double quotes ("…", with "" inside); messages in
// other lc_messages may use typographic quotes.
const QUOTED = /"((?:[^"]|"")*)"|“([^”]*)”|«([^»]*)»/g;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)*$/;
const WORD = /[a-z_][a-z0-9_$]*/g;

/**
 * When the statement reads a table with sensitive columns, every quoted part of the message is
 * replaced by `"[REDACTED]"` — except identifiers the bot itself wrote in `sql` (a misspelt column
 * name is no secret to its author). Detectors run over the message either way.
 */
export function redactErrorMessage(message: string, _config: MaskingConfig, readsSensitive: boolean, sql?: string): string {
  let out = message;
  if (readsSensitive) {
    const words = new Set((sql ?? '').toLowerCase().match(WORD) ?? []);
    out = out.replace(QUOTED, (whole, a: string | undefined, b: string | undefined, c: string | undefined) => {
      const inner = (a ?? b ?? c ?? '').replace(/""/g, '"');
      if (IDENTIFIER.test(inner) && inner.toLowerCase().split('.').every((part) => words.has(part))) return whole;
      return `"${REDACTED}"`;
    });
  }
  return ALL_DETECTORS.mask(out)?.text ?? out;
}
