/** Who is asking, after the token has been verified. Never built from unverified input. */
export interface Principal {
  readonly issuer: string;
  readonly subject: string;
  /** Present only when the token carries it and (for Google) `email_verified` is true. */
  readonly email?: string;
  /** Groups from the policy's `groups` (matched by email) plus the issuer's groups claim. */
  readonly groups: readonly string[];
}
