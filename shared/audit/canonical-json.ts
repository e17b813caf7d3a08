// Canonical JSON (RFC 8785, as the `canonicalize` package chain.ts uses writes it) without
// canonicalize's per-value work, for values JSON.parse made: where every object's keys are already
// in sorted order, JSON.stringify writes exactly canonicalize's text. Export and verify hash every
// event this way (event-hash.ts, stored-text.ts); anything else is left to the long way.

/**
 * Whether JSON.stringify writes `v` exactly as canonicalize would: plain JSON values only, every
 * object's keys already in sorted order (as the stores keep data and export writes it).
 * Lone surrogates are not looked for here: the caller looks at the output (see below).
 */
function stringifiesCanonically(v: unknown): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(v);
    case 'object': {
      if (v === null) return true;
      if (Array.isArray(v)) {
        if (Object.getPrototypeOf(v) !== Array.prototype) return false;
        for (let i = 0; i < v.length; i++) if (!(i in v) || !stringifiesCanonically(v[i])) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return false;
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        // Sorted by UTF-16 code units, as canonicalize sorts. A toJSON that is a function (which
        // both would call) is refused below, as every function is; any other toJSON is plain data.
        if ((i > 0 && !(keys[i - 1]! < k)) || !stringifiesCanonically(o[k])) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

// JSON.stringify escapes a lone surrogate as \udXXX, where canonicalize refuses it. Also matches
// an escaped backslash before "ud…": then the slow path decides, which is only slower.
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** JSON.stringify(v) when that is exactly what canonicalize writes for v; otherwise undefined. */
export function canonicalJsonOf(v: unknown): string | undefined {
  if (!stringifiesCanonically(v)) return undefined;
  const out = JSON.stringify(v);
  return out.indexOf('\\u') === -1 || !SURROGATE_ESCAPE.test(out) ? out : undefined;
}

/**
 * The canonical JSON of an event without its hash, around its data's canonical text; undefined
 * when a field is something canonicalize would treat otherwise (the caller takes the long way).
 * RFC 8785 orders the members at, data, prevHash, seq, sessionId, type.
 */
export function canonicalEventAround(event: { readonly sessionId: unknown; readonly seq: unknown; readonly type: unknown; readonly at: unknown; readonly prevHash: unknown }, canonicalData: string): string | undefined {
  const { sessionId, seq, type, at, prevHash } = event;
  if (!(typeof sessionId === 'string' && typeof type === 'string' && typeof at === 'string' && (prevHash === null || typeof prevHash === 'string'))) return undefined;
  if (!(sessionId.isWellFormed() && type.isWellFormed() && at.isWellFormed() && (prevHash ?? '').isWellFormed() && Number.isSafeInteger(seq))) return undefined;
  return `{"at":${JSON.stringify(at)},"data":${canonicalData},"prevHash":${JSON.stringify(prevHash)},"seq":${JSON.stringify(seq)},"sessionId":${JSON.stringify(sessionId)},"type":${JSON.stringify(type)}}`;
}
