import { GatehouseError } from '../errors.ts';
import { isNonEmptyString, isNonEmptyStringArray, isNumericDate, isRecord, ownClaim, type Untrusted } from './guards.ts';
import type { CheckedIssuer } from './options.ts';
import type { Principal } from './principal.ts';

export interface ClaimContext {
  readonly now: Date;
  readonly toleranceSec: number;
  readonly groupsByEmail: ReadonlyMap<string, readonly string[]>;
  /** Google: only `email_verified === true` makes the email usable. */
  readonly requireVerifiedEmail: boolean;
}

/**
 * The checks every issuer gets, after its signature has been verified. Some repeat what jose or
 * google-auth-library already did; they are here so that both paths end in the same rules — and
 * because google-auth-library allows 300 s of skew against the real clock, not ours.
 */
export function principalFromClaims(verified: unknown, cfg: CheckedIssuer, ctx: ClaimContext): Principal {
  if (!isRecord(verified)) throw claimsInvalid('payload', 'the token payload is not a JSON object');
  checkIssuerAndAudience(verified, cfg);
  checkTimes(verified, ctx);
  const subject = ownClaim(verified, 'sub');
  if (!isNonEmptyString(subject)) throw claimsInvalid('sub', 'the token has no subject (sub)');
  if (cfg.authorizedParty !== undefined && ownClaim(verified, 'azp') !== cfg.authorizedParty) {
    throw claimsInvalid('azp', 'the token was issued to another party (azp)');
  }
  const email = usableEmail(verified, ctx.requireVerifiedEmail);
  const groups = new Set<string>();
  if (email !== undefined) for (const g of ctx.groupsByEmail.get(email.toLowerCase()) ?? []) groups.add(g);
  if (cfg.groupsClaim !== undefined) for (const g of groupsFromClaim(verified, cfg.groupsClaim)) groups.add(g);
  const sorted = [...groups].sort();
  return email === undefined
    ? { issuer: cfg.issuer, subject, groups: sorted }
    : { issuer: cfg.issuer, subject, email, groups: sorted };
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

function checkTimes(claims: Untrusted, { now, toleranceSec }: ClaimContext): void {
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
}

/**
 * An email is an identity only when the issuer vouches for it: anyone can put any address on a
 * Google account without verifying it, and policy groups are matched by email.
 */
function usableEmail(claims: Untrusted, requireVerified: boolean): string | undefined {
  const email = ownClaim(claims, 'email');
  if (email === undefined) return undefined;
  if (!isNonEmptyString(email)) throw claimsInvalid('email', 'the token email claim is not a string');
  const verified = ownClaim(claims, 'email_verified');
  // Other issuers often omit email_verified; anything but an explicit boolean true or absence
  // (false, "false", "true", 1) is treated as unverified rather than guessed at.
  const usable = requireVerified ? verified === true : verified === undefined || verified === true;
  return usable ? email : undefined;
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
