import type { OAuth2Client } from 'google-auth-library';
import { GatehouseError, type ErrorCode } from '../errors.ts';
import type { CheckedIssuer } from './options.ts';

// Google signs ID tokens with RS256 only; the library would verify any header alg as RSA-SHA256
// anyway, so accepting another name would only blur what was checked.
export const GOOGLE_ALGORITHMS: readonly string[] = ['RS256'];

// Passed explicitly so the library's default can never change what we accept. Google's ID tokens
// live one hour; the library measures this against the real clock.
const MAX_TOKEN_LIFETIME_SEC = 24 * 60 * 60;

/**
 * Verifies a Google-signed ID token's signature with google-auth-library. Every argument is
 * explicit: without an audience or issuer list the library skips that check, and its default
 * issuers include googleapis.com. What the library does not check (email_verified, azp, our clock
 * and tolerance) is checked by principalFromClaims afterwards.
 */
export function createGoogleVerification(certsOverride: (() => Promise<Record<string, string>>) | undefined) {
  // Imported on first use: the library costs ~300 ms to load, and most deployments of the local
  // shape never see a Google token.
  let client: Promise<OAuth2Client> | undefined;
  const lazyClient = (): Promise<OAuth2Client> =>
    (client ??= import('google-auth-library').then((m) => new m.OAuth2Client()));

  async function certs(): Promise<Awaited<ReturnType<OAuth2Client['getFederatedSignonCertsAsync']>>['certs']> {
    try {
      // The library caches the certificates for as long as Google's Cache-Control allows.
      return certsOverride ? await certsOverride() : (await (await lazyClient()).getFederatedSignonCertsAsync()).certs;
    } catch (e) {
      throw new GatehouseError('dependency_unavailable', 'Google\'s signing certificates could not be fetched', { issuer: 'google' }, { cause: e });
    }
  }

  return async function verifyWithGoogle(token: string, cfg: CheckedIssuer): Promise<unknown> {
    if (cfg.audiences.length === 0) throw new TypeError(`identity: issuer ${cfg.issuer} has no audience`);
    const keys = await certs();
    try {
      const ticket = await (await lazyClient()).verifySignedJwtWithCertsAsync(token, keys, [...cfg.audiences], [cfg.issuer], MAX_TOKEN_LIFETIME_SEC);
      return ticket.getPayload();
    } catch (e) {
      // No `cause`: the library's messages embed the whole token, which must not reach a log.
      throw fromLibrary(e);
    }
  };
}

// google-auth-library 10.9.1 throws plain Errors; the message prefix is the only signal. Unknown
// messages fall through to token_invalid, which still refuses.
const LIBRARY_MESSAGES: ReadonlyArray<readonly [prefix: string, code: ErrorCode, message: string]> = [
  ['No pem found for envelope', 'token_key_unknown', 'the token was signed with a key Google does not publish'],
  ['Invalid token signature', 'token_signature_invalid', 'the token signature does not verify'],
  ['Token used too late', 'token_expired', 'the token has expired'],
  ['Token used too early', 'token_claims_invalid', 'the token was issued in the future (iat)'],
  ['Expiration time too far in future', 'token_claims_invalid', 'the token expiry is too far in the future (exp)'],
  ['No issue time in token', 'token_claims_invalid', 'the token has no valid issue time (iat)'],
  ['iat field using invalid format', 'token_claims_invalid', 'the token has no valid issue time (iat)'],
  ['No expiration time in token', 'token_claims_invalid', 'the token has no valid expiry (exp)'],
  ['exp field using invalid format', 'token_claims_invalid', 'the token has no valid expiry (exp)'],
  ['Invalid issuer', 'token_issuer_not_allowed', 'the token issuer is not one this gateway trusts'],
  ['Wrong recipient', 'token_audience_mismatch', 'the token was issued for another audience (aud)'],
];

function fromLibrary(e: unknown): GatehouseError {
  const text = e instanceof Error ? e.message : '';
  const hit = LIBRARY_MESSAGES.find(([prefix]) => text.startsWith(prefix));
  return hit ? new GatehouseError(hit[1], hit[2]) : new GatehouseError('token_invalid', 'the token could not be verified');
}
