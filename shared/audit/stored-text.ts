// The JSON text a store holds for an event's data, used by readers that hash or re-serialise the
// event (the listing check, evidence export) instead of serialising the parsed value again. The
// gateway's adapters store exactly the canonical JSON chainEvents hashed (chain.ts storedData),
// so for every event the gateway wrote, the event hash is SHA-256 over a few fixed pieces around
// that text — no canonicalisation at all.
//
// The text is only believed when it provably is the canonical JSON of the parsed value: a row
// written behind the log's back may hold any text (whitespace, duplicate keys, unsorted keys,
// `1.0`) whose own hash an attacker computed. Such text is never used: callers fall back to
// hashing the value (chain.ts hashEvent), which is what `evidence verify` does too.
import { createHash, hash as oneShotHash } from 'node:crypto';
import type { SessionEvent } from './events.ts';

/** Events as a store holds them: each event's data also as the JSON text it was parsed from. */
export interface StoredEvents {
  readonly events: SessionEvent[];
  /** dataTexts[i] is the stored text of events[i].data. */
  readonly dataTexts: string[];
}

/**
 * Whether `text` is exactly what canonicalize (RFC 8785, the `canonicalize` package chain.ts
 * uses) writes for `data`, a value JSON.parse made from it. For such a value canonicalize writes
 * JSON.stringify's text with every object's keys sorted by UTF-16 code units, and refuses lone
 * surrogates. So the text is canonical when JSON.stringify gives it back (no whitespace, no
 * duplicate or reordered keys, numbers and escapes as written), it holds no escaped lone
 * surrogate, and every object's keys are in sorted order.
 */
export function isCanonicalText(data: unknown, text: string): boolean {
  if (typeof data !== 'object' || data === null || typeof text !== 'string') return false;
  // JSON.stringify writes a lone surrogate as an escape \udXXX (a well-formed pair stays raw):
  // canonicalize throws on one, so such data must take the slow path (and fail there). A
  // false positive (an escaped backslash followed by "ud") only costs the slow path.
  if (text.includes('\\ud')) return false;
  let again: string | undefined;
  try {
    again = JSON.stringify(data);
  } catch {
    return false;
  }
  return again === text && keysSorted(data);
}

function keysSorted(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!keysSorted(v[i])) return false;
    return true;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  for (let i = 0; i < keys.length; i++) {
    // Default sort order is by UTF-16 code units, as `<` compares strings.
    if (i > 0 && !(keys[i - 1]! < keys[i]!)) return false;
    if (!keysSorted(o[keys[i]!])) return false;
  }
  return true;
}

const sha256Hex: (text: string) => string =
  typeof oneShotHash === 'function' ? (text) => oneShotHash('sha256', text, 'hex') : (text) => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * chain.ts hashEvent, computed around `canonicalData`, the data's text already known to be
 * canonical (isCanonicalText); undefined when a field is something hashEvent would treat
 * otherwise, so the caller hashes the value instead. RFC 8785 orders the members at, data,
 * prevHash, seq, sessionId, type.
 */
export function hashAroundText(event: Omit<SessionEvent, 'hash' | 'data'>, canonicalData: string): string | undefined {
  const { sessionId, seq, type, at, prevHash } = event;
  if (!(typeof sessionId === 'string' && typeof type === 'string' && typeof at === 'string' && (prevHash === null || typeof prevHash === 'string'))) return undefined;
  if (!(sessionId.isWellFormed() && type.isWellFormed() && at.isWellFormed() && (prevHash ?? '').isWellFormed() && Number.isSafeInteger(seq))) return undefined;
  return sha256Hex(`{"at":${JSON.stringify(at)},"data":${canonicalData},"prevHash":${JSON.stringify(prevHash)},"seq":${JSON.stringify(seq)},"sessionId":${JSON.stringify(sessionId)},"type":${JSON.stringify(type)}}`);
}

/** chain.ts hashEvent of an event whose data was parsed from `dataText`, from the text when it is canonical. */
export function hashFromStoredText(event: Omit<SessionEvent, 'hash'>, dataText: string): string | undefined {
  return isCanonicalText(event.data, dataText) ? hashAroundText(event, dataText) : undefined;
}
