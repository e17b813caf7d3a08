// The policy's `issuers` entries as the verifier reads them (shared/policy/schema.ts parses them).

/** A token issuer the policy trusts. Tokens from anyone else are refused. */
export interface IssuerConfig {
  readonly issuer: string;
  /** A token is accepted when its `aud` names at least one of these. */
  readonly audience: string | readonly [string, ...string[]];
  /** Required for every issuer but Google's (`https://accounts.google.com`), whose keys are known. */
  readonly jwksUri?: string;
  /** Optional claim carrying the caller's groups (a string array). */
  readonly groupsClaim?: string;
  /**
   * The groups this issuer's groups claim may grant (policy `claimGroups`); any other name in the
   * claim is ignored. Required when more than one issuer is trusted: a group is only as
   * trustworthy as whoever may assert it, and another issuer must not grant this one's groups.
   */
  readonly claimGroups?: readonly string[];
  /**
   * Whether the `email` claim needs `email_verified: true` (`required`, the default) or the issuer
   * vouches for every email it puts in a token (`trusted`: an absent email_verified counts as
   * true). Never `trusted` for Google, whose accounts may carry unverified addresses.
   */
  readonly emailVerified?: 'required' | 'trusted';
  /** Optional: require this `azp` (authorized party) claim. */
  readonly authorizedParty?: string;
  /** Longest accepted `exp − iat`, in seconds (policy `maxTokenLifetime`); default 24 h. */
  readonly maxTokenLifetimeSec?: number;
  /**
   * Seconds a verified token may be reused without verifying it again (policy `tokenCache`, at most
   * 60, never past the token's `exp`); 0 or absent: off. A revoked key is honoured until then.
   */
  readonly tokenCacheSec?: number;
}
