import { GatehouseError } from '../errors.ts';
import { isNonEmptyString, isNonEmptyStringArray, isNumericDate, isRecord, ownClaim, type Untrusted } from './guards.ts';
import type { CheckedIssuer } from './options.ts';
import { emailKey, isEmailInNormalForm, isInNormalForm } from './normalise.ts';
import type { Principal, TokenFacts } from './principal.ts';

/** `issuers[].maxTokenLifetime` when the policy does not set one: 24 h. */
export const DEFAULT_MAX_TOKEN_LIFETIME_SEC = 24 * 60 * 60;

export interface ClaimContext {
  readonly now: Date;
  readonly toleranceSec: number;
  readonly groupsByEmail: ReadonlyMap<string, readonly string[]>;
  /**
   * Only `email_verified === true` makes the email usable — always for Google, and for every other
   * issuer unless the policy marks it `emailVerified: trusted`.
   */
  readonly requireVerifiedEmail: boolean;
  /** sha256 (hex) of the compact token, recorded in the Principal (never the token). */
  readonly tokenSha256?: string;
}

/**
 * The checks every issuer gets, after its signature has been verified. Some repeat what jose or
 * google-auth-library already did; they are here so that both paths end in the same rules — and
 * because google-auth-library allows 300 s of skew against the real clock, not ours.
 */
export function principalFromClaims(verified: unknown, cfg: CheckedIssuer, ctx: ClaimContext): Principal {
  if (!isRecord(verified)) throw claimsInvalid('payload', 'the token payload is not a JSON object');
  checkIssuerAndAudience(verified, cfg);
  checkTimes(verified, ctx, cfg.maxTokenLifetimeSec ?? DEFAULT_MAX_TOKEN_LIFETIME_SEC);
  const subject = ownClaim(verified, 'sub');
  if (!isNonEmptyString(subject)) throw claimsInvalid('sub', 'the token has no subject (sub)');
  // Not "normalised for you": a subject or email that normalisation would change could be made to
  // collide with someone else's, so the token is refused (shared/identity/normalise.ts).
  if (!isInNormalForm(subject)) throw claimsInvalid('sub', 'the token subject (sub) is not in normal form (NFKC, no surrounding spaces, control or invisible characters)');
  if (cfg.authorizedParty !== undefined && ownClaim(verified, 'azp') !== cfg.authorizedParty) {
    throw claimsInvalid('azp', 'the token was issued to another party (azp)');
  }
  const email = usableEmail(verified, ctx.requireVerifiedEmail);
  const groups = new Set<string>();
  if (email !== undefined) for (const g of ctx.groupsByEmail.get(emailKey(email)) ?? []) groups.add(g);
  if (cfg.groupsClaim !== undefined) {
    // Only the groups this issuer may assert (claimGroups): any other name is another issuer's or
    // the policy's to grant, and is ignored rather than refused — a claim often lists many.
    for (const g of groupsFromClaim(verified, cfg.groupsClaim)) if (cfg.claimGroups === undefined || cfg.claimGroups.includes(g)) groups.add(g);
  }
  const sorted = [...groups].sort();
  const token = tokenFacts(verified, ctx.tokenSha256);
  return {
    issuer: cfg.issuer,
    subject,
    ...(email === undefined ? {} : { email }),
    groups: sorted,
    ...(token === undefined ? {} : { token }),
  };
}

function tokenFacts(claims: Untrusted, sha256: string | undefined): TokenFacts | undefined {
  if (sha256 === undefined) return undefined;
  const iat = ownClaim(claims, 'iat') as number; // checked by checkTimes
  const jti = ownClaim(claims, 'jti');
  return isNonEmptyString(jti) && jti.length <= 256 ? { iat, jti, sha256 } : { iat, sha256 };
}

function checkIssuerAndAudience(claims: Untrusted, cfg: CheckedIssuer): void {
  if (ownClaim(claims, 'iss') !== cfg.issuer) {
    throw new GatehouseError('token_issuer_not_allowed', 'the token issuer is not one this gateway trusts');
  }
  const aud = ownClaim(claims, 'aud');
  // RFC 7519 allows one audience or a list; one configured audience among them is enough.
  const named: readonly unknown[] = Array.isArray(aud) ? aud : [aud];
  const matches = named.some((a) => typeof a === 'string' && cfg.audiences.includes(a));
  if (!matches) throw new GatehouseError('token_audience_mismatch', 'the token was issued for another audience (aud)');
}

function checkTimes(claims: Untrusted, { now, toleranceSec }: ClaimContext, maxLifetimeSec: number): void {
  const nowSec = Math.floor(now.getTime() / 1000);
  const exp = ownClaim(claims, 'exp');
  const iat = ownClaim(claims, 'iat');
  const nbf = ownClaim(claims, 'nbf');
  if (!isNumericDate(exp)) throw claimsInvalid('exp', 'the token has no valid expiry (exp)');
  if (!isNumericDate(iat)) throw claimsInvalid('iat', 'the token has no valid issue time (iat)');
  if (nbf !== undefined && !isNumericDate(nbf)) throw claimsInvalid('nbf', 'the token has an invalid not-before time (nbf)');
  // Same comparisons as jose, so both paths agree to the second.
  if (exp <= nowSec - toleranceSec) throw new GatehouseError('token_expired', 'the token has expired');
  if (iat > nowSec + toleranceSec) throw claimsInvalid('iat', 'the token was issued in the future (iat)');
  if (nbf !== undefined && nbf > nowSec + toleranceSec) throw claimsInvalid('nbf', 'the token is not valid yet (nbf)');
  // A token that expires before it was issued is nonsense from any issuer: refused, not trusted
  // for the minute of clock tolerance it would otherwise live.
  if (exp <= iat) throw claimsInvalid('exp', 'the token expires before it was issued (exp is not after iat)');
  // A stolen 10-year token is a 10-year credential: the issuer's own word on its lifetime is not
  // enough (policy issuers[].maxTokenLifetime, default 24 h).
  if (exp - iat > maxLifetimeSec) {
    throw claimsInvalid('exp', `the token lives longer than this issuer's maxTokenLifetime (${maxLifetimeSec} s from iat to exp)`);
  }
}

/**
 * An email is an identity only when the issuer vouches for it: anyone can put any address on a
 * Google account without verifying it, many OIDC providers let users type any address, and policy
 * groups, `email:` rules and approvers are matched by email (attack review of issue 16).
 */
function usableEmail(claims: Untrusted, requireVerified: boolean): string | undefined {
  const email = ownClaim(claims, 'email');
  if (email === undefined) return undefined;
  if (!isNonEmptyString(email)) throw claimsInvalid('email', 'the token email claim is not a string');
  const verified = ownClaim(claims, 'email_verified');
  // Absence counts as verified only for an issuer the policy marks `emailVerified: trusted`;
  // anything but an explicit boolean true (false, "false", "true", 1, null) is unverified.
  const usable = requireVerified ? verified === true : verified === undefined || verified === true;
  if (!usable) return undefined;
  if (!isEmailInNormalForm(email)) throw claimsInvalid('email', 'the token email is not a plain address in normal form (NFKC; no spaces, control or invisible characters; no mail syntax in its local part; a DNS name as its domain)');
  return email;
}

function groupsFromClaim(claims: Untrusted, name: string): readonly string[] {
  const value = ownClaim(claims, name);
  if (value === undefined) return [];
  // A trusted issuer sending a malformed groups claim is refused, not half-read: dropping it
  // silently would hide a misconfiguration, and reading part of it could grant the wrong group.
  if (!isNonEmptyStringArray(value)) throw claimsInvalid(name, `the token claim ${name} is not a list of group names`);
  return value;
}

function claimsInvalid(claim: string, message: string): GatehouseError {
  return new GatehouseError('token_claims_invalid', message, { claim });
}
