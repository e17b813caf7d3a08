import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { GatehouseError, type ErrorCode } from '../errors.ts';
import type { CheckedIssuer } from './options.ts';

export const JWKS_ALGORITHMS: readonly string[] = ['RS256', 'ES256'];

/**
 * Verifies tokens of any issuer that publishes a JWKS. One key set per issuer, kept for the
 * verifier's life: jose caches the keys and refetches at most every 30 s when an unknown kid
 * shows up, so a flood of forged kids cannot turn into a flood of fetches.
 */
export function createJwksVerification(timeoutMs: number) {
  const keySets = new Map<string, JWTVerifyGetKey>();

  function keySetFor(cfg: CheckedIssuer & { jwksUri: string }): JWTVerifyGetKey {
    let keySet = keySets.get(cfg.issuer);
    if (keySet === undefined) {
      keySet = keysOrUnavailable(cfg.issuer, createRemoteJWKSet(new URL(cfg.jwksUri), { timeoutDuration: timeoutMs }));
      keySets.set(cfg.issuer, keySet);
    }
    return keySet;
  }

  return async function verifyWithJwks(token: string, cfg: CheckedIssuer, now: Date, toleranceSec: number): Promise<unknown> {
    if (cfg.jwksUri === undefined) throw new TypeError(`identity: issuer ${cfg.issuer} has no jwksUri`);
    if (cfg.audiences.length === 0) throw new TypeError(`identity: issuer ${cfg.issuer} has no audience`);
    try {
      const { payload } = await jwtVerify(token, keySetFor({ ...cfg, jwksUri: cfg.jwksUri }), {
        algorithms: [...JWKS_ALGORITHMS],
        issuer: cfg.issuer,
        audience: [...cfg.audiences],
        clockTolerance: toleranceSec,
        currentDate: now,
        requiredClaims: ['exp', 'iat', 'sub'],
      });
      return payload;
    } catch (e) {
      throw e instanceof errors.JOSEError ? fromJose(e) : e;
    }
  };
}

/** Tells "no key for this token" (the token's fault) from "no keys at all" (the issuer's). */
function keysOrUnavailable(issuer: string, remote: JWTVerifyGetKey): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (e) {
      if (e instanceof errors.JWKSNoMatchingKey || e instanceof errors.JWKSMultipleMatchingKeys) {
        throw new GatehouseError('token_key_unknown', 'the token was signed with a key its issuer does not publish');
      }
      throw new GatehouseError('dependency_unavailable', 'the token issuer\'s signing keys could not be fetched', { issuer }, { cause: e });
    }
  };
}

function fromJose(e: InstanceType<typeof errors.JOSEError>): GatehouseError {
  if (e instanceof errors.JWTClaimValidationFailed) {
    const code: ErrorCode = e.claim === 'aud' ? 'token_audience_mismatch' : e.claim === 'iss' ? 'token_issuer_not_allowed' : 'token_claims_invalid';
    // jose's claim messages name the claim and the check, never the token or its values.
    return new GatehouseError(code, `token rejected: ${e.message}`, { claim: e.claim });
  }
  const code = JOSE_CODES[e.code] ?? 'token_invalid';
  return new GatehouseError(code, MESSAGES[code] ?? 'the token is not a valid JWT');
}

const JOSE_CODES: Readonly<Record<string, ErrorCode>> = {
  ERR_JWT_EXPIRED: 'token_expired',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'token_signature_invalid',
  ERR_JOSE_ALG_NOT_ALLOWED: 'token_algorithm_not_allowed',
  ERR_JWKS_NO_MATCHING_KEY: 'token_key_unknown',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'token_key_unknown',
};

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  token_expired: 'the token has expired',
  token_signature_invalid: 'the token signature does not verify',
  token_algorithm_not_allowed: 'the token signing algorithm is not allowed',
  token_key_unknown: 'the token was signed with a key its issuer does not publish',
};
