/** Who is asking, after the token has been verified. Never built from unverified input. */
export interface Principal {
  readonly issuer: string;
  readonly subject: string;
  /**
   * Present only when the token carries it and says `email_verified: true` — or, for an issuer the
   * policy marks `emailVerified: trusted` (never Google), does not say otherwise.
   */
  readonly email?: string;
  /** Groups from the policy's `groups` (matched by email) plus the issuer's groups claim, as far as its `claimGroups` lists them. */
  readonly groups: readonly string[];
  /**
   * Which token said so: what the approval desk signs into a vote (issue 14), so a vote names the
   * exact credential that cast it. Never the token itself.
   */
  readonly token?: TokenFacts;
}

export interface TokenFacts {
  /** The token's `iat` (seconds). */
  readonly iat: number;
  /** The token's `jti`, when it has one. */
  readonly jti?: string;
  /** sha256 (hex) of the compact token: identifies it without being usable as it. */
  readonly sha256: string;
}
