// Verifying a token of an issuer that publishes a JWKS: node:crypto against KeyObjects cached per
// `kid` (key-set.ts). The claims are checked afterwards by principalFromClaims (claims.ts), the
// same rules every issuer gets; this module answers only "did this issuer's key sign these bytes".
import { verify } from 'node:crypto';
import { GatehouseError } from '../errors.ts';
import type { UnverifiedToken } from './decode.ts';
import { isNonEmptyString, ownClaim } from './guards.ts';
import { createKeySet, JWKS_ALGORITHMS, type JwksAlgorithm, type KeySet } from './key-set.ts';
import type { CheckedIssuer } from './options.ts';

export { JWKS_ALGORITHMS } from './key-set.ts';

/** ES256 signatures are r‖s, 32 bytes each (RFC 7518 §3.4), never DER. */
const ES256_SIGNATURE_BYTES = 64;

/** One key set per issuer, kept for the verifier's life. */
export function createJwksVerification(timeoutMs: number, io: { fetch?: typeof fetch; now?: () => number } = {}) {
  const keySets = new Map<string, KeySet>();

  function keySetFor(cfg: CheckedIssuer & { jwksUri: string }): KeySet {
    let keySet = keySets.get(cfg.issuer);
    if (keySet === undefined) {
      keySet = createKeySet({ issuer: cfg.issuer, jwksUri: cfg.jwksUri, timeoutMs, ...(io.fetch ? { fetch: io.fetch } : {}), ...(io.now ? { now: io.now } : {}) });
      keySets.set(cfg.issuer, keySet);
    }
    return keySet;
  }

  /** The payload once a key of this issuer verifies the signature; never the claims' checks. */
  return async function verifyWithJwks(token: UnverifiedToken, cfg: CheckedIssuer): Promise<unknown> {
    if (cfg.jwksUri === undefined) throw new TypeError(`identity: issuer ${cfg.issuer} has no jwksUri`);
    if (cfg.audiences.length === 0) throw new TypeError(`identity: issuer ${cfg.issuer} has no audience`);
    // The allowlist again, here where the key is chosen: `none` and HS* (an HMAC keyed with a public
    // key anyone can download) have no key in a JWKS set of ours, and never reach verify().
    if (!(JWKS_ALGORITHMS as readonly string[]).includes(token.alg)) {
      throw new GatehouseError('token_algorithm_not_allowed', 'the token signing algorithm is not allowed');
    }
    const alg = token.alg as JwksAlgorithm;
    const kid = ownClaim(token.header, 'kid');
    if (kid !== undefined && !isNonEmptyString(kid)) throw new GatehouseError('token_invalid', 'the token key id (kid) is not a string');
    // A `jwk`, `jku` or `x5u` header is never used: keys come from the configured JWKS only.
    const keys = await keySetFor({ ...cfg, jwksUri: cfg.jwksUri }).candidates(alg, kid);
    const data = Buffer.from(token.signingInput, 'ascii');
    if (alg === 'ES256' && token.signature.length !== ES256_SIGNATURE_BYTES) throw signatureInvalid();
    const ok = keys.some(({ key }) => {
      try {
        return alg === 'ES256' ? verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, token.signature) : verify('sha256', data, key, token.signature);
      } catch {
        return false;
      }
    });
    if (!ok) throw signatureInvalid();
    return token.payload;
  };
}

function signatureInvalid(): GatehouseError {
  return new GatehouseError('token_signature_invalid', 'the token signature does not verify');
}
