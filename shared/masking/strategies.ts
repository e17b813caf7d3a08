// The masking strategies of the policy (`redact | null | last4 | email | hash`) as functions from a
// raw value to what leaves the gateway. Every one hides the raw value; they differ in what they keep.
import { keyedHmac, type KeyedHmac } from './hmac.ts';
import type { MaskStrategy } from '../policy/types.ts';

export const REDACTED = '[REDACTED]';
export const LAST4_MASK = '••••';

/**
 * Strictest first, by what the output still tells about the value:
 *   null   — nothing: the column is gone (and null stays null under every strategy, so presence is
 *            no more visible than it is to `count(col)`);
 *   redact — nothing but that a value is there;
 *   hash   — equality: which rows share a value (joins, group-bys, frequencies), never the value;
 *   email  — the domain, a part of the value;
 *   last4  — four characters of the value.
 * A column that can carry several sensitive sources gets the strictest of their strategies.
 */
export const STRICTNESS: readonly MaskStrategy[] = ['null', 'redact', 'hash', 'email', 'last4'];

export function strictest(strategies: Iterable<MaskStrategy>): MaskStrategy | null {
  let best: MaskStrategy | null = null;
  for (const s of strategies) if (best === null || STRICTNESS.indexOf(s) < STRICTNESS.indexOf(best)) best = s;
  return best;
}

/**
 * The strategy for a value that is not the column as stored — an expression over it, a whole row.
 * `email` and `last4` keep a part of the value in place, and a transformation chooses which part
 * lands there: `reverse(email)` puts the local part where the domain was, `substr(card_number, 1,
 * 4)` makes the first four digits the last four. `hash` keeps equality, and a transformation
 * chooses what is compared: `substr(phone, i, 1)` next to `concat(substr(phone, 1, 0), '7')` is a
 * codebook, one character at a time. So all three become `redact`; `redact` and `null` stay.
 */
export function forDerived(strategy: MaskStrategy): MaskStrategy {
  return strategy === 'email' || strategy === 'last4' || strategy === 'hash' ? 'redact' : strategy;
}

/**
 * The strategy for a column whose exact source is not known (one of several stored columns, as
 * stored): partial strategies could show a part of another source's value, so they become
 * `redact`; `hash` of a stored value is the pseudonym that column has anyway, and stays.
 */
export function forAmbiguous(strategy: MaskStrategy): MaskStrategy {
  return strategy === 'email' || strategy === 'last4' ? 'redact' : strategy;
}

export type MaskFn = (value: unknown) => unknown;

/** The function for one strategy. `pseudonymKey` is needed for `hash` only. */
export function strategyFn(strategy: MaskStrategy, pseudonymKey?: Uint8Array): MaskFn {
  switch (strategy) {
    case 'null':
      return () => null;
    case 'redact':
      return (v) => (v === null ? null : REDACTED);
    case 'email':
      return (v) => (v === null ? null : typeof v === 'string' ? maskEmail(v) : REDACTED);
    case 'last4':
      return (v) => (v === null ? null : typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' ? last4(String(v)) : REDACTED);
    case 'hash': {
      if (pseudonymKey === undefined) throw new TypeError('the hash strategy needs a key');
      const key = pseudonymKey;
      return (v) => (v === null ? null : pseudonym(key, textOf(v)));
    }
  }
}

/** `***@example.com`; anything that is not one plain address is redacted whole. */
export function maskEmail(value: string): string {
  const domain = emailDomain(value);
  return domain === undefined ? REDACTED : `***@${domain}`;
}

// One host name: labels of letters, digits and inner hyphens, at least two of them.
const DOMAIN = /^(?=.{4,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,63}$/;
const LOCAL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}$/;

export function emailDomain(value: string): string | undefined {
  const at = value.lastIndexOf('@');
  if (at <= 0) return undefined;
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  return LOCAL.test(local) && DOMAIN.test(domain) ? domain.toLowerCase() : undefined;
}

/**
 * `••••1111`: the last four digits when the value has at least eight (a card, an SSN, a phone
 * number), else the last four characters when it has at least eight, else nothing — four
 * characters of a short value are most of it.
 */
export function last4(value: string): string {
  const digits = value.replace(/\D+/g, '');
  if (digits.length >= 8) return LAST4_MASK + digits.slice(-4);
  const chars = Array.from(value);
  if (chars.length >= 8) return LAST4_MASK + chars.slice(-4).join('');
  return LAST4_MASK;
}

/**
 * A keyed pseudonym: HMAC-SHA256 under the masking key, 64 bits shown. Stable for one key, so
 * joins and group-bys on the masked column still work; without the key nobody can compute it from
 * a guess, which an unkeyed digest (md5(email)) would allow. 64 bits keep collisions negligible
 * among the values of one result.
 */
export function pseudonym(key: Uint8Array, text: string): string {
  return `h:${hmacFor(key).hex(text, 16)}`;
}

// One precomputed HMAC per key object: plans compile a strategy per column, the key stays the same.
const hmacs = new WeakMap<Uint8Array, KeyedHmac>();

function hmacFor(key: Uint8Array): KeyedHmac {
  let h = hmacs.get(key);
  if (h === undefined) hmacs.set(key, (h = keyedHmac(key)));
  return h;
}

/** Numbers, dates, JSON: the text a hash or a detector works on. */
export function textOf(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v) ?? String(v);
}
