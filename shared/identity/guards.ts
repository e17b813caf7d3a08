// Token headers and claims are attacker-controlled until a signature says otherwise, and even
// then a trusted issuer may send a shape we do not expect. Every narrowing of such a value
// happens here, so a reader can check all of them in one screen.

export type Untrusted = Readonly<Record<string, unknown>>;

export function isRecord(value: unknown): value is Untrusted {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/** A JWT NumericDate: seconds since the epoch, finite (RFC 7519 §2). */
export function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

export function isNonEmptyStringArray(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every(isNonEmptyString);
}

/** The claim's value if the object holds it as its own property (never from a prototype). */
export function ownClaim(claims: Untrusted, name: string): unknown {
  return Object.hasOwn(claims, name) ? claims[name] : undefined;
}
