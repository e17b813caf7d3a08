// Content detectors: the safety net under provenance and lineage, for regulated data in columns
// nobody marked (a notes field, a JSON document, pg_stats, another session's query text). They run
// on every text value not already masked, and inside JSON values.
//
// Each pattern is bounded, or scanned by hand, so that a value crafted by the bot (`repeat('a',
// 1e6) || '@'`) costs linear time: the values come from SQL the bot wrote. Cheap pre-checks (a
// digit count, an '@') skip the patterns for the great majority of values.
//
// What is found is replaced in place: an email by `***@domain` (the email strategy), anything else
// by `[REDACTED]`. The rest of the text stays readable.
import { REDACTED } from './strategies.ts';

export const DETECTOR_NAMES = ['email', 'card', 'ssn', 'phone', 'iban', 'secret'] as const;
export type DetectorName = (typeof DETECTOR_NAMES)[number];

export interface Finding {
  readonly detector: DetectorName;
  readonly start: number;
  readonly end: number;
  /** What replaces text[start, end). */
  readonly replacement: string;
}

export interface Detectors {
  readonly enabled: ReadonlySet<DetectorName>;
  /** Everything found in `text`, in order, without overlaps. */
  scan(text: string): Finding[];
  /** `text` with every finding replaced, or undefined when nothing was found. */
  mask(text: string): { text: string; found: DetectorName[] } | undefined;
}

/** The shortest text any detector can match (`a@b.co`). */
const MIN_LENGTH = 6;

export function createDetectors(names: readonly string[]): Detectors {
  const enabled = new Set<DetectorName>();
  for (const n of names) {
    if (!(DETECTOR_NAMES as readonly string[]).includes(n)) throw new TypeError(`unknown detector "${n}" (known: ${DETECTOR_NAMES.join(', ')})`);
    enabled.add(n as DetectorName);
  }
  const email = enabled.has('email');
  const card = enabled.has('card');
  const ssn = enabled.has('ssn');
  const phone = enabled.has('phone');
  const iban = enabled.has('iban');
  const secret = enabled.has('secret');

  function scan(text: string): Finding[] {
    if (enabled.size === 0 || text.length < MIN_LENGTH) return [];
    const f = features(text);
    const found: Finding[] = [];
    if (secret && text.length >= 15) findSecrets(text, found, f.longestToken >= 15);
    if (email && f.at) findEmails(text, found);
    if (iban && f.upper >= 2 && f.digits >= 2 && text.length >= 15) findIbans(text, found);
    if (card && f.longestRun >= 13) findCards(text, found);
    if (ssn && f.longestRun >= 9 && f.dash) findSsns(text, found);
    if (phone && (f.longestRun >= 10 || (f.plus && f.longestRun >= 8))) findPhones(text, found, f.plus);
    return resolveOverlaps(found);
  }

  return {
    enabled,
    scan,
    mask(text) {
      const found = scan(text);
      if (found.length === 0) return undefined;
      let out = '';
      let pos = 0;
      for (const f of found) {
        out += text.slice(pos, f.start) + f.replacement;
        pos = f.end;
      }
      out += text.slice(pos);
      const names: DetectorName[] = [];
      for (const f of found) if (!names.includes(f.detector)) names.push(f.detector);
      return { text: out, found: names };
    },
  };
}

interface Features {
  digits: number;
  /** Most digits in one run where at most two of ' -.()' separate digits: a bound on any number's length. */
  longestRun: number;
  at: boolean;
  plus: boolean;
  dash: boolean;
  upper: number;
  /** Longest run of [A-Za-z0-9_-]: every token shape is at least 15 long, prose words are shorter. */
  longestToken: number;
}

/** One pass, so that the patterns only run on text that could match them. */
function features(text: string): Features {
  const f: Features = { digits: 0, longestRun: 0, at: false, plus: false, dash: false, upper: 0, longestToken: 0 };
  let run = 0;
  let gap = 0;
  let token = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      f.digits++;
      run++;
      gap = 0;
      if (run > f.longestRun) f.longestRun = run;
      if (++token > f.longestToken) f.longestToken = token;
      continue;
    }
    const letter = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
    if (letter || c === 45) {
      if (++token > f.longestToken) f.longestToken = token;
    } else token = 0;
    if (c === 32 || c === 45 || c === 46 || c === 40 || c === 41) {
      if (c === 45) f.dash = true;
      if (++gap > 2) run = 0;
      continue;
    }
    run = 0;
    gap = 0;
    if (c === 64) f.at = true;
    else if (c === 43) f.plus = true;
    else if (c >= 65 && c <= 90) f.upper++;
  }
  return f;
}

/**
 * Every match of a global pattern, redacted (exec, not matchAll: that clones the RegExp on every
 * call; and no callback, so no closure is made per value on this hot path).
 */
function pushMatches(re: RegExp, text: string, detector: DetectorName, found: Finding[]): void {
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) found.push({ detector, start: m.index, end: m.index + m[0].length, replacement: REDACTED });
}

/** Earliest first; of overlapping findings the first (then the longest) wins and covers the rest. */
function resolveOverlaps(found: Finding[]): Finding[] {
  if (found.length <= 1) return found;
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Finding[] = [];
  for (const f of found) {
    const last = out[out.length - 1];
    if (last !== undefined && f.start < last.end) {
      if (f.end > last.end) out[out.length - 1] = { ...last, end: f.end, replacement: REDACTED };
      continue;
    }
    out.push(f);
  }
  return out;
}

// --- email --------------------------------------------------------------------------------------

// Characters of an address's local part and of a host name, as lookup tables.
const LOCAL_CHARS = charTable("A-Za-z0-9.!#$%&'*+/=?^_`{|}~-");
const DOMAIN_CHARS = charTable('A-Za-z0-9.-');
const HOST = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,63}$/;

function charTable(spec: string): Uint8Array {
  const table = new Uint8Array(128);
  for (let i = 0; i < spec.length; i++) {
    if (spec[i + 1] === '-' && i + 2 < spec.length) {
      for (let c = spec.charCodeAt(i); c <= spec.charCodeAt(i + 2); c++) table[c] = 1;
      i += 2;
    } else table[spec.charCodeAt(i)] = 1;
  }
  return table;
}

const inTable = (table: Uint8Array, c: number) => c < 128 && table[c] === 1;

/** Around each '@': at most 64 characters of local part before, a host name with a TLD after. */
function findEmails(text: string, found: Finding[]): void {
  let from = 0;
  for (;;) {
    const at = text.indexOf('@', from);
    if (at < 0) return;
    from = at + 1;
    let start = at;
    while (start > 0 && at - start < 64 && inTable(LOCAL_CHARS, text.charCodeAt(start - 1))) start--;
    while (start < at && text.charCodeAt(start) === 46) start++; // a leading '.' is punctuation
    if (start === at) continue;
    let end = at + 1;
    while (end < text.length && end - at <= 253 && inTable(DOMAIN_CHARS, text.charCodeAt(end))) end++;
    // Trailing dots and hyphens are punctuation, not the host name.
    while (end > at + 1 && (text.charCodeAt(end - 1) === 46 || text.charCodeAt(end - 1) === 45)) end--;
    const domain = text.slice(at + 1, end);
    if (!HOST.test(domain)) continue;
    found.push({ detector: 'email', start, end, replacement: `***@${domain.toLowerCase()}` });
    from = end;
  }
}

// --- payment cards ------------------------------------------------------------------------------

/**
 * 13–19 digits with single spaces or dashes between them, not part of a longer run: each maximal
 * run is walked once (a regex with look-behind costs several times more on this hot path).
 */
function findCards(text: string, found: Finding[]): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    if (!isDigit(text.charCodeAt(i))) {
      i++;
      continue;
    }
    const start = i;
    let digits = '';
    let end = i;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (isDigit(c)) {
        digits += text[i];
        i++;
        end = i;
      } else if ((c === 32 || c === 45) && i + 1 < n && isDigit(text.charCodeAt(i + 1))) {
        i++;
      } else break;
    }
    if (digits.length < 13 || digits.length > 19) continue;
    // Issuers' major industry identifiers 2–6 (Mastercard 2-series, Amex/Diners/JCB, Visa,
    // Mastercard, Discover/UnionPay), then the Luhn check: long ids and timestamps rarely pass both.
    const first = digits.charCodeAt(0) - 48;
    if (first < 2 || first > 6 || !luhnValid(digits)) continue;
    found.push({ detector: 'card', start, end, replacement: REDACTED });
  }
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

// --- US SSN -------------------------------------------------------------------------------------

// By shape alone: area 9xx is never issued (the demo data uses it), but a leak of a fake-looking
// SSN is still a leak of whatever the column holds.
const SSN = /(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])/g;

function findSsns(text: string, found: Finding[]): void {
  pushMatches(SSN, text, 'ssn', found);
}

// --- phone numbers ------------------------------------------------------------------------------

// E.164-ish: a '+', then 8–15 digits with single separators. US: (202) 555-0101, 202-555-0101,
// 202.555.0101, 1-202-555-0101 — area and exchange start 2–9, and the line number is separated, so
// a bare ten-digit id is not a phone. Dates (4-2-2) and amounts (123.45) have other shapes.
const E164 = /(?<![\w+])\+[1-9](?:[ .-]?\(?\d\)?){7,14}(?![\d])/g;
const US_PHONE = /(?<![\w+.-])(?:1[ .-])?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4}(?![\w-]|\.\d)/g;

function findPhones(text: string, found: Finding[], plus: boolean): void {
  if (plus) pushMatches(E164, text, 'phone', found);
  pushMatches(US_PHONE, text, 'phone', found);
}

// --- IBAN ---------------------------------------------------------------------------------------

const IBAN = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b/g;

/** Lengths of the IBAN registry; a country not listed must still pass mod 97 and be 15–34 long. */
const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, BY: 28, CH: 21, CR: 22, CY: 28, CZ: 24,
  DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28,
  HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20,
  LV: 21, MC: 27, MD: 24, ME: 22, MK: 19, MR: 27, MT: 31, MU: 30, NL: 18, NO: 15, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29,
  RO: 24, RS: 22, SA: 24, SC: 31, SE: 24, SI: 19, SK: 24, SM: 27, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22,
  VG: 24, XK: 20,
};

function findIbans(text: string, found: Finding[]): void {
  IBAN.lastIndex = 0;
  for (let m = IBAN.exec(text); m !== null; m = IBAN.exec(text)) {
    const compact = m[0].replace(/ /g, '');
    const expected = Object.hasOwn(IBAN_LENGTHS, compact.slice(0, 2)) ? IBAN_LENGTHS[compact.slice(0, 2)] : undefined;
    if (expected !== undefined ? compact.length !== expected : compact.length < 15 || compact.length > 34) continue;
    if (!ibanValid(compact)) continue;
    found.push({ detector: 'iban', start: m.index, end: m.index + m[0].length, replacement: REDACTED });
  }
}

/** ISO 13616: move the first four characters to the end, letters to 10–35, the number mod 97 is 1. */
export function ibanValid(iban: string): boolean {
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let rest = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i);
    if (c >= 48 && c <= 57) rest = (rest * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) rest = (rest * 100 + (c - 55)) % 97;
    else return false;
  }
  return rest === 1;
}

// --- secrets ------------------------------------------------------------------------------------

// Fixed-shape credentials. AWS access key ids, GitHub tokens, Stripe secret and restricted keys,
// Slack tokens, Google API keys. JWTs and PEM private keys are scanned by hand below.
const SECRET =
  /\b(?:(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}|[sr]k_live_[A-Za-z0-9]{10,255}|xox[abprs]-[A-Za-z0-9-]{10,255}|AIza[0-9A-Za-z_-]{35})(?![A-Za-z0-9])/g;

// The literal prefixes of SECRET: a scan for these alone is several times cheaper than SECRET.
const SECRET_HINT = /AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|gh[pousr]_|github_pat_|k_live_|xox[abprs]-|AIza/;

function findSecrets(text: string, found: Finding[], longToken: boolean): void {
  if (longToken && SECRET_HINT.test(text)) {
    pushMatches(SECRET, text, 'secret', found);
  }
  if (text.includes('eyJ')) findJwts(text, found);
  if (text.includes('-----BEGIN')) findPrivateKeys(text, found);
}

const B64URL = charTable('A-Za-z0-9_-');

/** `eyJ<header>.<payload>.<signature>`, each a base64url run; the signature may be empty (alg none). */
function findJwts(text: string, found: Finding[]): void {
  let from = 0;
  for (;;) {
    const start = text.indexOf('eyJ', from);
    if (start < 0) return;
    if (start > 0 && inTable(B64URL, text.charCodeAt(start - 1))) {
      from = start + 3;
      continue;
    }
    const headerEnd = runEnd(text, start);
    // Every start inside this run ends at the same place: resume after it (linear time).
    from = headerEnd;
    if (headerEnd - start < 10 || text[headerEnd] !== '.') continue;
    const payloadEnd = runEnd(text, headerEnd + 1);
    if (payloadEnd - headerEnd - 1 < 10 || text[payloadEnd] !== '.') continue;
    const end = runEnd(text, payloadEnd + 1);
    found.push({ detector: 'secret', start, end, replacement: REDACTED });
    from = end;
  }
}

function runEnd(text: string, i: number): number {
  while (i < text.length && inTable(B64URL, text.charCodeAt(i))) i++;
  return i;
}

/** A PEM private key block, to its END line or, cut off, to the end of the text. */
function findPrivateKeys(text: string, found: Finding[]): void {
  let from = 0;
  for (;;) {
    const start = text.indexOf('-----BEGIN', from);
    if (start < 0) return;
    const headerEnd = text.indexOf('-----', start + 10);
    if (headerEnd < 0) return;
    const label = text.slice(start + 10, headerEnd);
    from = headerEnd + 5;
    if (!/^[A-Z0-9 ]{0,40}PRIVATE KEY$/.test(label)) continue;
    const endMarker = text.indexOf(`-----END${label}-----`, from);
    const end = endMarker < 0 ? text.length : endMarker + 8 + label.length + 5;
    found.push({ detector: 'secret', start, end, replacement: REDACTED });
    from = end;
  }
}
