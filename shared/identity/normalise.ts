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
// - the domain is compared as the DNS name it is: IDNA (UTS 46) to its ASCII form, without a
//   trailing dot — `acmé.com`, `xn--acm-dma.com`, `ACMÉ.com.` and `acme。com` (ideographic full
//   stop) are one domain, for grants too, since they are one name;
// - on the refusal side the local part (and, since the fourth attack review, the domain) is also reduced to a look-alike skeleton (personEmailKey):
//   marks and invisible characters removed, full case folding (ß → ss, dotless ı → i), the common
//   Cyrillic and Greek look-alikes of Latin letters mapped to them, a `+tag` dropped, and for
//   Gmail the dots dropped — every one of those addresses can reach the same person (attack review
//   of issue 14: `alice\u200b@acme.com`, `alice@acme.com.`, `a.lice+x@gmail.com` under a second
//   issuer each approved alice's own request).
import { domainToASCII, domainToUnicode } from 'node:url';

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
  // an email or a subject; NFKC leaves them alone, so they are refused here. So are characters
  // that render as nothing or are not characters yet — zero-width spaces and joiners, soft hyphen,
  // bidi overrides, variation selectors, tag characters (default-ignorable, format), private-use,
  // unassigned code points and lone surrogates: `alice\u200b@acme.com` looks like alice, compares
  // as someone else, and would mean something else under a later Unicode version. BLANK adds the
  // one symbol that renders as nothing without being any of those (second attack review).
  return normalForm(s) === s && !/[\u0000-\u001f\u007f-\u009f\u2028\u2029]|\p{Default_Ignorable_Code_Point}|\p{Cf}|\p{Co}|\p{Cn}|\p{Cs}/u.test(s) && !BLANK.test(s);
}

/** U+2800 BRAILLE PATTERN BLANK: a symbol (So), not ignorable, and drawn as an empty cell. */
const BLANK = /\u2800/u;

/**
 * An email claim as it must be to be accepted: in normal form, no white space anywhere in it, and
 * an address (isEmailAddress): a local part of plain characters and a domain that is a DNS name.
 */
export function isEmailInNormalForm(email: string): boolean {
  return isInNormalForm(email) && !/\p{White_Space}/u.test(email) && isEmailAddress(email);
}

// The local part's ASCII characters: RFC 5322 atext and the dot. Everything else a mail parser
// reads as syntax — `(comment)`, `,` (a list), `<>`, `;`, `:` (a route), `\` (a quoted pair), `[]` —
// so `alice(ops)@acme.com` is alice@acme.com to a mailer that verified it, and another person to
// a plain comparison (attack review of issue 14, third round). Non-ASCII (RFC 6531) is allowed;
// isInNormalForm has refused the invisibles. A quoted local part may also hold `@`.
const LOCAL_ATEXT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.\u0080-\u{10ffff}]+$/u;
const QUOTED_LOCAL = /^"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.@\u0080-\u{10ffff}]+"$/u;
// One DNS label in ASCII: letters, digits and inner hyphens, at most 63 (RFC 1035, RFC 5891).
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * True for `local@domain` where the local part is plain (LOCAL_ATEXT, or one quoted string of the
 * same) and the domain is a DNS name (dnsName). The policy's emails are held to it too.
 */
export function isEmailAddress(email: string): boolean {
  const s = normalForm(email);
  const at = s.lastIndexOf('@');
  if (at <= 0) return false;
  const local = s.slice(0, at);
  if (!LOCAL_ATEXT.test(local) && !QUOTED_LOCAL.test(local)) return false;
  return dnsName(s.slice(at + 1)) !== undefined;
}

/**
 * The domain as one DNS name — IDNA (UTS 46) ASCII form, lower case, no trailing dot — or
 * undefined when it is none. node:url's domainToASCII is a URL host parser: it stops at `#`, `/`,
 * `?` and `\`, decodes `%2e`, and rewrites `0x7f.1` to 127.0.0.1, so `bob@acme.com#.evil.com` was
 * bob@acme.com for grants (attack review of issue 14, third round). Here an ASCII character other
 * than a letter, digit, hyphen or dot is no domain, and the IDNA form must be LDH labels whose
 * last one is not numeric (an IPv4 address, not a name).
 */
function dnsName(domain: string): string | undefined {
  // U+3002 (ideographic full stop) separates labels in UTS 46; NFKC has mapped the other two.
  if (/[\u0000-\u002c\u002f\u003a-\u0040\u005b-\u0060\u007b-\u007f]/.test(domain)) return undefined;
  const ascii = /^[\u0000-\u007f]*$/.test(domain) ? domain.toLowerCase() : domainToASCII(domain);
  if (ascii === '') return undefined;
  const name = ascii.endsWith('.') ? ascii.slice(0, -1) : ascii;
  const labels = name.split('.');
  if (name.length > 253 || !labels.every((l) => LDH_LABEL.test(l))) return undefined;
  if (/^(?:[0-9]+|0x[0-9a-f]*)$/.test(labels.at(-1)!)) return undefined;
  return name;
}

/**
 * Refusal side only: the domain as loosely as a host parser reads it (domainToASCII, else lower
 * case), so an address that is no address still folds toward the one it imitates.
 */
function looseDomainKey(domain: string): string {
  const ascii = dnsName(domain) ?? (domainToASCII(domain) || domain.toLowerCase());
  return ascii.endsWith('.') && ascii.length > 1 ? ascii.slice(0, -1) : ascii;
}

/**
 * The comparison key of an email: NFKC, trimmed, domain case-folded (local part for known
 * providers). Grant side: an address that is not one (isEmailAddress) keys as itself, unfolded,
 * which no address's key equals — tokens carrying one are refused at the door, a policy naming
 * one is refused at load; this keeps any other caller from granting through it.
 */
export function emailKey(email: string): string {
  const s = normalForm(email);
  if (!isEmailAddress(s)) return s;
  const at = s.lastIndexOf('@');
  const domain = dnsName(s.slice(at + 1))!;
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
  return sameEmail(a, b) || personEmailKey(a) === personEmailKey(b);
}

// Cyrillic and Greek letters that look like Latin ones (lower case, after folding): a
// refusal-side skeleton in the spirit of UTS 39, not its whole confusables table. Mapping too much
// only ever refuses (two people taken for one); mapping too little lets one person count twice.
const LOOK_ALIKE: Readonly<Record<string, string>> = {
  а: 'a', в: 'b', с: 'c', ԁ: 'd', е: 'e', ё: 'e', һ: 'h', і: 'i', ї: 'i', ј: 'j', к: 'k', ӏ: 'l', м: 'm', н: 'h', о: 'o', р: 'p',
  ԛ: 'q', г: 'r', ѕ: 's', т: 't', ц: 'u', ѵ: 'v', ԝ: 'w', х: 'x', у: 'y', з: '3', ь: 'b', п: 'n', л: 'n', ɡ: 'g', ɩ: 'i', ɑ: 'a', ο: 'o',
  α: 'a', β: 'b', ε: 'e', η: 'n', ι: 'i', κ: 'k', ν: 'v', ρ: 'p', τ: 't', υ: 'u', χ: 'x', γ: 'y', ω: 'w', ϲ: 'c', ϳ: 'j', μ: 'u',
  '0': 'o', '1': 'l',
  // Latin small capitals, which have no case mapping and are drawn as letters of the x-height
  // (fourth attack review: `ᴀlice@acme.com` approved alice's request), and Armenian look-alikes.
  ᴀ: 'a', ʙ: 'b', ᴄ: 'c', ᴅ: 'd', ᴇ: 'e', ꜰ: 'f', ɢ: 'g', ʜ: 'h', ɪ: 'i', ᴊ: 'j', ᴋ: 'k', ʟ: 'l', ᴍ: 'm', ɴ: 'n', ᴏ: 'o', ᴘ: 'p',
  ʀ: 'r', ꜱ: 's', ᴛ: 't', ᴜ: 'u', ᴠ: 'v', ᴡ: 'w', ʏ: 'y', ᴢ: 'z', ȷ: 'j', օ: 'o', ս: 'u', հ: 'h', ո: 'n', ց: 'g',
};
const GMAIL_DOMAINS = new Set(['gmail.com', 'googlemail.com']);

/**
 * Refusal side only: a key under which every address that may reach the same person is one.
 * The local part loses its RFC 5322 comments and is folded to a look-alike skeleton (marks and invisibles removed, full case
 * folding, LOOK_ALIKE, `+tag` dropped — subaddressing at Gmail, Google Workspace, Microsoft 365,
 * Fastmail — and the quotes of a quoted local part); Gmail also ignores dots, and googlemail.com
 * is gmail.com. Never used to grant.
 */
export function personEmailKey(email: string): string {
  const s = normalForm(email);
  const at = s.lastIndexOf('@');
  const rawDomain = at < 0 ? '' : s.slice(at + 1);
  // The domain folded like the local part, label by label, from its Unicode form: `аcme.com`
  // (Cyrillic а), `ácme.com` and their Punycode are drawn like acme.com in a reviewer's list, and
  // a second issuer's alice@аcme.com approved alice@acme.com's own request (fourth attack review).
  const ascii = looseDomainKey(rawDomain);
  let domain = (domainToUnicode(ascii) || ascii).split('.').map(skeleton).join('.');
  if (GMAIL_DOMAINS.has(domain)) domain = 'gmail.com';
  // RFC 5322 comments `(…)` are not part of the mailbox: `alice(ops)@acme.com` is alice's (an
  // email claim like it is refused at the door; an email-shaped subject is not, attack review).
  let local = skeleton((at < 0 ? s : s.slice(0, at)).replace(/\([^()]*\)/g, '')).replace(/"/g, '');
  const plus = local.indexOf('+');
  if (plus > 0) local = local.slice(0, plus);
  if (domain === 'gmail.com') local = local.replace(/\./g, '');
  return at < 0 ? local : `${local}@${domain}`;
}

function skeleton(s: string): string {
  const bare = s
    .normalize('NFKD')
    .replace(/\p{M}|\p{Default_Ignorable_Code_Point}|\p{Cf}|\p{White_Space}|\u2800/gu, '')
    .toUpperCase()
    .toLowerCase();
  return [...bare.normalize('NFKD').replace(/\p{M}/gu, '')].map((c) => LOOK_ALIKE[c] ?? c).join('');
}

/** The comparison key of a subject (case is significant in `sub`: RFC 7519 StringOrURI). */
export function subjectKey(subject: string): string {
  return normalForm(subject);
}
