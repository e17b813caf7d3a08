// PostgreSQL's error messages can quote row values: `SELECT ssn::int FROM customers` fails with
// `invalid input syntax for type integer: "901-12-3401"`, and `make_date`, `chr`, `set_bit`,
// `::regclass` and friends put one value per request in their text. The gateway drops `detail`,
// `where` and `hint` already (shared/postgres/postgres-errors.ts); this decides what is left of the
// primary message.
//
// A statement that reads sensitive data (a masked column or table, directly, through a view, or
// opaquely through a function) gets no server text at all: its SQLSTATE, the condition's name and
// the position in the bot's own SQL — never the message. Redacting quoted parts is not enough
// (values appear unquoted: `date field value out of range: 901-13-123401`).
import { conditionName } from '../sql/sqlstate-names.ts';
import { type Fields, isFields, str, unwrap } from '../sql/nodes.ts';
import { createDetectors, DETECTOR_NAMES } from './detectors.ts';
import { REDACTED } from './strategies.ts';

// Every detector, whatever the policy enables: error messages are rare and short, and a quoted
// value in one is the kind of leak nobody reviews.
const ALL_DETECTORS = createDetectors(DETECTOR_NAMES);

// PostgreSQL quotes values and names alike in double quotes ("…", with "" inside); messages in
// other lc_messages may use typographic quotes.
const QUOTED = /"((?:[^"]|"")*)"|“([^”]*)”|«([^»]*)»/g;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)*$/;

/** The message that stands in for the server's when the statement reads sensitive data. */
export function withheldMessage(sqlstate: string, position?: number): string {
  const at = position !== undefined ? ` at position ${position}` : '';
  return `the statement failed${at}: ${conditionName(sqlstate)} (SQLSTATE ${sqlstate}); the server's message is withheld because the statement reads sensitive data`;
}

/**
 * When the statement reads sensitive data but no SQLSTATE is known, every quoted part of the
 * message is replaced by `"[REDACTED]"` — except identifiers the bot itself wrote as identifiers
 * (from the parse tree: never words from comments or string literals, which an attacker can fill
 * with a dictionary). Detectors run over the message either way.
 */
export function redactErrorMessage(message: string, readsSensitive: boolean, identifiers: ReadonlySet<string> = new Set()): string {
  let out = message;
  if (readsSensitive) {
    out = out.replace(QUOTED, (whole, a: string | undefined, b: string | undefined, c: string | undefined) => {
      const inner = (a ?? b ?? c ?? '').replace(/""/g, '"');
      if (IDENTIFIER.test(inner) && inner.toLowerCase().split('.').every((part) => identifiers.has(part))) return whole;
      return `"${REDACTED}"`;
    });
  }
  return ALL_DETECTORS.mask(out)?.text ?? out;
}

// Fields whose string value is a name the author wrote (not a literal).
const NAME_FIELDS = new Set(['relname', 'schemaname', 'catalogname', 'aliasname', 'ctename', 'colname', 'name', 'portalname']);

/** Identifiers written in a parse tree, lower-cased: String nodes and name fields, never A_Const literals. */
export function identifiersOf(root: Fields): Set<string> {
  const out = new Set<string>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      for (const v of value) if (typeof v === 'object' && v !== null) stack.push(v);
      continue;
    }
    if (!isFields(value)) continue;
    const node = unwrap(value);
    if (node !== undefined) {
      if (node[0] === 'A_Const') continue; // literals are data, not names
      if (node[0] === 'String') {
        const s = str(node[1].sval);
        if (s !== undefined) out.add(s.toLowerCase());
        continue;
      }
      stack.push(node[1]);
      continue;
    }
    for (const key in value) {
      const child = value[key];
      if (typeof child === 'string' && NAME_FIELDS.has(key)) out.add(child.toLowerCase());
      else if (typeof child === 'object' && child !== null) stack.push(child);
    }
  }
  return out;
}
