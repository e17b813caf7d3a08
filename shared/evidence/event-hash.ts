// The event hash of shared/audit/chain.ts (SHA-256 of the RFC 8785 canonical JSON of the event
// without `hash`), computed about three times faster for the values evidence reads: hashing is
// most of what export and verify spend their time on (440k events per 100k sessions).
//
// Why it is the same hash: `canonicalize` (the package chain.ts uses) serialises primitives with
// JSON.stringify and objects with their own keys sorted by UTF-16 code units — which is what this
// does, without its per-value bookkeeping. Everything `canonicalize` treats specially (toJSON,
// undefined, functions, symbols, non-finite numbers, lone surrogates, objects that are not plain)
// is not handled here at all: such a value makes this answer `undefined`, and the caller falls
// back to chain.ts's hashEvent. test/evidence/event-hash.test.ts compares both on hostile input.
import { createHash, hash as oneShotHash } from 'node:crypto';
import { hashEvent } from '../audit/chain.ts';
import { canonicalEventAround, canonicalJsonOf } from '../audit/canonical-json.ts';
import type { SessionEvent } from '../audit/events.ts';

class NotPlain extends Error {}
const NOT_PLAIN = new NotPlain();

// crypto.hash (Node ≥ 20.12) hashes in one call; older Node 20 releases take the long way.
const sha256Hex: (text: string) => string =
  typeof oneShotHash === 'function' ? (text) => oneShotHash('sha256', text, 'hex') : (text) => createHash('sha256').update(text, 'utf8').digest('hex');

function str(s: string): string {
  // A lone surrogate: canonicalize refuses it, JSON.stringify would escape it.
  if (!s.isWellFormed()) throw NOT_PLAIN;
  return JSON.stringify(s);
}

function value(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return str(v);
    case 'number':
      if (!Number.isFinite(v)) throw NOT_PLAIN;
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) {
        if (Object.getPrototypeOf(v) !== Array.prototype) throw NOT_PLAIN;
        let out = '[';
        for (let i = 0; i < v.length; i++) {
          if (!Object.hasOwn(v, i)) throw NOT_PLAIN; // a hole: canonicalize writes null, JSON.parse never makes one
          out += i === 0 ? value(v[i]) : `,${value(v[i])}`;
        }
        return `${out}]`;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw NOT_PLAIN;
      // An own toJSON would be called by canonicalize; an inherited one cannot exist on a plain object.
      const o = v as Record<string, unknown>;
      if (Object.hasOwn(o, 'toJSON')) throw NOT_PLAIN;
      const keys = Object.keys(o).sort();
      let out = '{';
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        const part = `${str(k)}:${value(o[k])}`;
        out += i === 0 ? part : `,${part}`;
      }
      return `${out}}`;
    }
    default:
      // undefined, functions, symbols, bigints: canonicalize's own rules (or its error) apply.
      throw NOT_PLAIN;
  }
}

/** The canonical JSON hashEvent hashes, or undefined when the event holds anything but plain JSON values. */
export function canonicalEvent(e: Omit<SessionEvent, 'hash'>): string | undefined {
  const { sessionId, seq, type, at, data, prevHash } = e;
  // Top-level keys in sorted order: at, data, prevHash, seq, sessionId, type. An undefined field
  // is left out by canonicalize: leave that case to it.
  if (sessionId === undefined || seq === undefined || type === undefined || at === undefined || data === undefined || prevHash === undefined) return undefined;
  // Data whose keys are already sorted (every event the stores keep and export writes): the
  // engine's own JSON.stringify writes the canonical form, several times faster than value().
  const dataJson = canonicalJsonOf(data);
  const fast = dataJson === undefined ? undefined : canonicalEventAround(e, dataJson);
  if (fast !== undefined) return fast;
  try {
    return `{"at":${value(at)},"data":${value(data)},"prevHash":${value(prevHash)},"seq":${value(seq)},"sessionId":${value(sessionId)},"type":${value(type)}}`;
  } catch (e) {
    if (e === NOT_PLAIN) return undefined;
    throw e;
  }
}

/** A deep copy of JSON data with every object's keys in canonical (sorted) order: what export writes. */
export function sortedData(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map(sortedData);
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  let sorted = true;
  for (let i = 1; i < keys.length && sorted; i++) sorted = keys[i - 1]! < keys[i]!;
  const out: Record<string, unknown> = {};
  for (const k of sorted ? keys : keys.sort()) {
    // defineProperty, not assignment: a key from the data may be `__proto__`.
    Object.defineProperty(out, k, { value: sortedData(o[k]), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** hashEvent (shared/audit/chain.ts), faster on plain JSON values; throws where hashEvent throws. */
export function fastHashEvent(e: Omit<SessionEvent, 'hash'>): string {
  const canonical = canonicalEvent(e);
  return canonical === undefined ? hashEvent(e) : sha256Hex(canonical);
}

/** Whether the event's own `hash` is the hash of its content (false, never a throw, for unhashable content). */
export function eventHashHolds(e: SessionEvent): boolean {
  try {
    // fastHashEvent of the event without hash and index: canonicalEvent reads only the six hashed
    // fields, so no copy is made unless hashEvent has to decide (verify calls this 440k times).
    const canonical = canonicalEvent(e);
    return (canonical === undefined ? hashEvent(withoutHashAndIndex(e)) : sha256Hex(canonical)) === e.hash;
  } catch {
    return false;
  }
}

function withoutHashAndIndex(e: SessionEvent): Omit<SessionEvent, 'hash'> {
  const { hash: _hash, index: _index, ...rest } = e;
  return rest;
}
