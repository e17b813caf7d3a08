import { GatehouseError } from '../errors.ts';

// RFC 6750 §2.1 b64token characters; anything else cannot be a JWT and is not worth passing on.
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The token of an `Authorization: Bearer <token>` header; `token_missing` otherwise. */
export function bearerToken(authorizationHeader: string | undefined): string {
  const match = typeof authorizationHeader === 'string' ? BEARER.exec(authorizationHeader) : null;
  const token = match?.[1];
  if (token === undefined) {
    throw new GatehouseError('token_missing', 'send the token as `Authorization: Bearer <token>`');
  }
  return token;
}
