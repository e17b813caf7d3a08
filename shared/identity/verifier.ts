import { createHash } from 'node:crypto';
import { GatehouseError } from '../errors.ts';
import { principalFromClaims } from './claims.ts';
import { decodeUnverified } from './decode.ts';
import { createGoogleVerification, GOOGLE_ALGORITHMS } from './google.ts';
import { isNumericDate, ownClaim } from './guards.ts';
import { createJwksVerification, JWKS_ALGORITHMS } from './jwks.ts';
import { checkVerifierOptions, GOOGLE_ISSUERS, type VerifierOptions } from './options.ts';
import type { Principal } from './principal.ts';
import { createTokenCache } from './token-cache.ts';

/**
 * Builds the one function that turns a bearer token into a Principal, or throws a
 * GatehouseError with a `token_*` code (or `dependency_unavailable` when keys cannot be fetched).
 */
export function createVerifier(options: VerifierOptions): (token: string) => Promise<Principal> {
  const opts = checkVerifierOptions(options);
  const viaGoogle = createGoogleVerification(opts.googleCerts);
  const viaJwks = createJwksVerification(opts.jwksTimeoutMs, { fetch: options.fetch, now: options.keyClock });
  // Only when some issuer asks for it (issuers[].tokenCache): off by default.
  const cache = [...opts.issuers.values()].some((i) => (i.tokenCacheSec ?? 0) > 0) ? createTokenCache() : undefined;

  return async function verifyToken(token: string): Promise<Principal> {
    if (typeof token !== 'string') throw new GatehouseError('token_missing', 'no bearer token was sent');
    const tokenSha256 = createHash('sha256').update(token, 'utf8').digest('hex');
    const hit = cache?.get(tokenSha256, opts.clock().getTime());
    if (hit !== undefined) return hit;
    // The unverified header and issuer only choose whose keys to try; an issuer we do not know
    // is refused before any key is fetched on its behalf.
    const unverified = decodeUnverified(token);
    const issuer = opts.issuers.get(unverified.issuer);
    if (issuer === undefined) {
      throw new GatehouseError('token_issuer_not_allowed', 'the token issuer is not one this gateway trusts');
    }
    const google = GOOGLE_ISSUERS.has(issuer.issuer);
    // Checked here as well as where the key is chosen: `none` and HS* (an HMAC keyed with a public
    // key anyone can download) must never reach a verifier that might honour them.
    if (!(google ? GOOGLE_ALGORITHMS : JWKS_ALGORITHMS).includes(unverified.alg)) {
      throw new GatehouseError('token_algorithm_not_allowed', 'the token signing algorithm is not allowed');
    }
    const now = opts.clock();
    const verified = google ? await viaGoogle(token, issuer) : await viaJwks(unverified, issuer);
    const principal = principalFromClaims(verified, issuer, {
      now,
      toleranceSec: opts.toleranceSec,
      groupsByEmail: opts.groupsByEmail,
      requireVerifiedEmail: google || issuer.emailVerified !== 'trusted',
      tokenSha256,
    });
    const ttlSec = issuer.tokenCacheSec ?? 0;
    if (cache !== undefined && ttlSec > 0) {
      // Never past exp (checked numeric by principalFromClaims), whatever the tolerance allowed.
      const exp = ownClaim(verified as Record<string, unknown>, 'exp');
      if (isNumericDate(exp)) cache.set(tokenSha256, principal, Math.min(exp * 1000, now.getTime() + ttlSec * 1000));
    }
    return principal;
  };
}
