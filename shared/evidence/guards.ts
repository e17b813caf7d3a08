// Readers for event data. Everything read from a session log or an export folder is treated as
// untrusted JSON: an export may have been edited, and event shapes grow additively (approvals and
// masking add fields), so each field is narrowed here and a missing or odd one reads as absent.

export type Json = Readonly<Record<string, unknown>>;

/** An own property only: `constructor`, `__proto__` and friends never read through. */
export function field(o: unknown, key: string): unknown {
  return typeof o === 'object' && o !== null && Object.hasOwn(o, key) ? (o as Record<string, unknown>)[key] : undefined;
}

export function record(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

export function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function bool(v: unknown): boolean | undefined {
  return typeof v === 'boolean' ? v : undefined;
}

export function list(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}

export function texts(v: unknown): string[] {
  return list(v).filter((s): s is string => typeof s === 'string');
}

/** The first of several spellings a field may have, as text. */
export function firstText(o: unknown, ...keys: string[]): string | undefined {
  for (const k of keys) {
    const v = text(field(o, k));
    if (v !== undefined) return v;
  }
  return undefined;
}
