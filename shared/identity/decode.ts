import { GatehouseError } from '../errors.ts';
import { isNonEmptyString, isRecord, ownClaim, type Untrusted } from './guards.ts';

// Far above any real ID token (Google's are ~1 KB), low enough that a hostile header cannot make
// us parse megabytes of JSON before anything is verified.
const MAX_TOKEN_LENGTH = 16 * 1024;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * The parts of a compact JWS, decoded WITHOUT verifying anything. Only good for choosing which
 * issuer's keys to verify with; nothing here may reach a Principal.
 */
export interface UnverifiedToken {
  readonly header: Untrusted;
  readonly alg: string;
  readonly issuer: string;
  /** The decoded payload: unverified until the signature over `signingInput` is. */
  readonly payload: Untrusted;
  /** `header.payload` as sent: what the signature covers. */
  readonly signingInput: string;
  readonly signature: Buffer;
}

export function decodeUnverified(token: string): UnverifiedToken {
  if (token.length === 0) throw new GatehouseError('token_missing', 'no bearer token was sent');
  if (token.length > MAX_TOKEN_LENGTH) throw invalid('the token is too long');
  const segments = token.split('.');
  if (segments.length !== 3) throw invalid('the token is not a compact JWT (header.payload.signature)');
  const [headerPart = '', payloadPart = '', signaturePart = ''] = segments;
  // Buffer's base64url decoder skips characters it does not know, so two different strings
  // could decode alike; insist on the alphabet instead.
  if (![headerPart, payloadPart, signaturePart].every((s) => BASE64URL.test(s))) {
    throw invalid('the token is not base64url-encoded');
  }
  // The spare bits of a last base64url character are ignored by the decoder too, so one signed
  // token had several spellings — the signature's is covered by nothing — each with its own sha256
  // (the Principal's token fact, which a vote signs). Only the canonical spelling is accepted.
  const signature = Buffer.from(signaturePart, 'base64url');
  if (![headerPart, payloadPart].every((s) => Buffer.from(s, 'base64url').toString('base64url') === s) || signature.toString('base64url') !== signaturePart) {
    throw invalid('the token is not canonically base64url-encoded');
  }
  const header = decodeJsonObject(headerPart, 'header');
  const payload = decodeJsonObject(payloadPart, 'payload');
  const alg = ownClaim(header, 'alg');
  if (!isNonEmptyString(alg)) throw new GatehouseError('token_algorithm_not_allowed', 'the token names no signing algorithm');
  // google-auth-library ignores `crit`, and RFC 7515 says a header extension we do not understand
  // must fail; none of the issuers we accept use one.
  if (Object.hasOwn(header, 'crit')) throw invalid('the token uses critical header extensions, which are not supported');
  const issuer = ownClaim(payload, 'iss');
  if (!isNonEmptyString(issuer)) throw new GatehouseError('token_issuer_not_allowed', 'the token names no issuer');
  return { header, alg, issuer, payload, signingInput: `${headerPart}.${payloadPart}`, signature };
}

function decodeJsonObject(part: string, what: string): Untrusted {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw invalid(`the token ${what} is not JSON`);
  }
  if (!isRecord(value)) throw invalid(`the token ${what} is not a JSON object`);
  return value;
}

function invalid(message: string): GatehouseError {
  return new GatehouseError('token_invalid', message);
}
