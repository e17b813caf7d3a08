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
import { canonicalEventAround, canonicalJsonOf } from './canonical-json.ts';

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
  return typeof data === 'object' && data !== null && typeof text === 'string' && canonicalJsonOf(data) === text;
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
  const canonical = canonicalEventAround(event, canonicalData);
  return canonical === undefined ? undefined : sha256Hex(canonical);
}

/** chain.ts hashEvent of an event whose data was parsed from `dataText`, from the text when it is canonical. */
export function hashFromStoredText(event: Omit<SessionEvent, 'hash'>, dataText: string): string | undefined {
  return isCanonicalText(event.data, dataText) ? hashAroundText(event, dataText) : undefined;
}
