// One way to compare people (issue 14 item 5). A trusted issuer can still hand us an email or a
// subject that *looks* like someone else's — `"alice@acme.com "`, `ａｌｉｃｅ@acme.com` (fullwidth),
// `alice@ACME.com` — and every place that asks "is this the same person?" or "is this person in
// that group?" must give the same answer for all of them. So:
//
// - a token whose email or subject is changed by Unicode NFKC or by trimming is refused outright
//   (claims.ts: token_claims_invalid): no legitimate issuer sends one, and refusing it means every
//   Principal holds strings that are already in normal form;
// - emails are compared by emailKey(): NFKC, trimmed, the domain case-folded, and the local part
//   case-folded only for providers known to ignore its case (KNOWN_CASE_INSENSITIVE below);
// - where a mistake would GRANT something (group membership, `email:` patterns), only emailKey()
//   equality counts; where it would REFUSE something (self-approval, a second vote by the same
//   person), equality after case-folding the whole address counts too: when in doubt, two
//   spellings are one person for refusals and two people for grants.

/** Domains whose mailboxes ignore the local part's case (documented in docs/approvals.md). */
export const KNOWN_CASE_INSENSITIVE: readonly string[] = ['gmail.com', 'googlemail.com'];
/** Google service accounts: `NAME@PROJECT.iam.gserviceaccount.com`, `…@developer.gserviceaccount.com`. */
const GOOGLE_SERVICE_ACCOUNT = /(^|\.)gserviceaccount\.com$/;

/** NFKC and trimmed: what an identity string must already be to be accepted from a token. */
export function normalForm(s: string): string {
  return s.normalize('NFKC').trim();
}

/** True when the claim is the same string after NFKC and trimming, and holds no control characters. */
export function isInNormalForm(s: string): boolean {
  // Control characters (C0, DEL, C1) and the Unicode line/paragraph separators are never part of
  // an email or a subject; NFKC leaves them alone, so they are refused here.
  return normalForm(s) === s && !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(s);
}

/** The comparison key of an email: NFKC, trimmed, domain case-folded (local part for known providers). */
export function emailKey(email: string): string {
  const s = normalForm(email);
  const at = s.lastIndexOf('@');
  if (at <= 0) return s.toLowerCase();
  const domain = s.slice(at + 1).toLowerCase();
  const local = s.slice(0, at);
  const foldLocal = KNOWN_CASE_INSENSITIVE.includes(domain) || GOOGLE_SERVICE_ACCOUNT.test(domain);
  return `${foldLocal ? local.toLowerCase() : local}@${domain}`;
}

/** Grant side: the same mailbox by emailKey(). */
export function sameEmail(a: string, b: string): boolean {
  return emailKey(a) === emailKey(b);
}

/** Refusal side: also the same when the whole address differs only in case. */
export function possiblySameEmail(a: string, b: string): boolean {
  return sameEmail(a, b) || normalForm(a).toLowerCase() === normalForm(b).toLowerCase();
}

/** The comparison key of a subject (case is significant in `sub`: RFC 7519 StringOrURI). */
export function subjectKey(subject: string): string {
  return normalForm(subject);
}
