// How a `subject:` principal pattern names a subject, and whose (attack review of issue 14).
/**
 * `subject:SUB`, or `subject:ISSUER#SUB` naming the issuer whose subject it is. A subject is unique
 * only within its issuer (OIDC Core §2): with two trusted issuers, the other one may hand the same
 * `sub` to someone else, so the policy check (schema.ts) asks for the issuer then. An issuer URL
 * holds no `#` (OIDC Discovery §3), so the first `#` after it ends it.
 */
export function subjectPattern(value: string): { readonly issuer?: string; readonly subject: string } {
  const hash = value.indexOf('#');
  if (hash > 0 && /^https?:\/\//.test(value)) return { issuer: value.slice(0, hash), subject: value.slice(hash + 1) };
  return { subject: value };
}
