// The local dev OIDC issuer: an ordinary issuer in the policy (`http://127.0.0.1:8080/dev`), whose
// tokens go through the same verifier as Google's. It is not a bypass: a token it mints is only
// accepted where the policy lists this issuer, and only for the audience the policy names.
//
// There is deliberately NO endpoint that mints tokens. Anyone who can reach the port (another user
// on the machine, a browser page doing a fetch to localhost, a container on the same network)
// could then become any subject in any group. Tokens are minted by `gatehouse token`, which reads
// the private key from the state dir — so minting needs the file permissions of its owner.
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, unlink, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { readPrivateFile } from '../shared/private-files.ts';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';

const ALG = 'ES256';

export interface DevIssuerKey {
  /** The RFC 7638 thumbprint of the public key: stable for as long as the key file is kept. */
  readonly kid: string;
  readonly alg: typeof ALG;
  readonly privateKey: CryptoKey;
  /** Public members only (kty, crv, x, y) plus kid, alg, use. */
  readonly publicJwk: Readonly<JWK>;
}

export function devKeyPath(stateDir: string): string {
  return join(stateDir, 'dev-issuer', 'private.jwk.json');
}

/** Loads the dev issuer's key from `<stateDir>/dev-issuer/`, creating it (0600, dir 0700) on first use. */
export async function loadOrCreateDevKey(stateDir: string): Promise<DevIssuerKey> {
  const path = devKeyPath(stateDir);
  const dir = join(stateDir, 'dev-issuer');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  try {
    return await loadDevKey(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const { privateKey } = await generateKeyPair(ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(publicMembers(jwk));
  // Written aside then hard-linked into place: two processes starting at once both end up with
  // whichever key landed first, and nobody ever reads a half-written file.
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ ...jwk, kid, alg: ALG }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    await unlink(tmp).catch(() => {});
  }
  return loadDevKey(path);
}

async function loadDevKey(path: string): Promise<DevIssuerKey> {
  // Like ssh with its keys: a dev key others can read (or planted) lets them mint tokens for
  // anyone. readPrivateFile refuses a link, another user's file, and a file others may read.
  const text = readPrivateFile(path);
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch {
    throw new Error(`${path} is not JSON; delete it to create a new dev issuer key`);
  }
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') {
    throw new Error(`${path} is not a P-256 private key; delete it to create a new dev issuer key`);
  }
  const privateKey = await importJWK({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d }, ALG);
  if (privateKey instanceof Uint8Array) throw new Error(`${path} holds a symmetric key`);
  const pub = publicMembers(jwk);
  // The kid is recomputed, not read: it always names the key actually in the file.
  const kid = await calculateJwkThumbprint(pub);
  return { kid, alg: ALG, privateKey, publicJwk: Object.freeze({ ...pub, kid, alg: ALG, use: 'sig' }) };
}

/** Copies only the public members: an allowlist, so no private field can slip through. */
function publicMembers(jwk: JWK): JWK {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
}

/** The JWKS the dev issuer publishes: its public key only. */
export function devJwks(key: DevIssuerKey): { keys: JWK[] } {
  return { keys: [{ ...key.publicJwk }] };
}

export interface DevTokenOptions {
  readonly issuer: string;
  readonly sub: string;
  readonly aud: string;
  /** Default: `sub`, when it looks like an email. */
  readonly email?: string;
  /** Sent as the `groups` claim (the policy's `groupsClaim: groups`). */
  readonly groups?: readonly string[];
  /** Default 3600. */
  readonly ttlSec?: number;
  readonly now?: Date;
}

const EMAIL = /^[^@\s]+@[^@\s]+$/;

export async function mintDevToken(key: DevIssuerKey, options: DevTokenOptions): Promise<string> {
  const { issuer, sub, aud, groups, ttlSec = 3600, now = new Date() } = options;
  for (const [name, value] of [['issuer', issuer], ['sub', sub], ['aud', aud]] as const) {
    if (typeof value !== 'string' || value === '') throw new TypeError(`dev token: ${name} is required`);
  }
  if (!Number.isSafeInteger(ttlSec) || ttlSec <= 0) throw new TypeError('dev token: ttlSec must be a positive whole number of seconds');
  if (groups !== undefined && !groups.every((g) => typeof g === 'string' && g !== '')) {
    throw new TypeError('dev token: groups must be non-empty names');
  }
  const email = options.email ?? (EMAIL.test(sub) ? sub : undefined);
  const iat = Math.floor(now.getTime() / 1000);
  const claims = {
    iss: issuer,
    sub,
    aud,
    iat,
    exp: iat + ttlSec,
    ...(email === undefined ? {} : { email, email_verified: true }),
    ...(groups === undefined ? {} : { groups: [...groups] }),
  };
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `90s`, `30m`, `1h`, `2d` → seconds. */
export function parseTtl(s: string): number {
  const match = /^([1-9][0-9]{0,8})([smhd])$/.exec(typeof s === 'string' ? s.trim() : '');
  const unit = match?.[2] === undefined ? undefined : UNIT_SECONDS[match[2]];
  if (match?.[1] === undefined || unit === undefined) {
    throw new TypeError(`invalid duration ${JSON.stringify(s)}: use a whole number and a unit (s, m, h, d), e.g. 90s, 30m, 1h, 2d`);
  }
  return Number(match[1]) * unit;
}

/**
 * Answers `GET <issuer path>/jwks.json` and `GET <issuer path>/.well-known/openid-configuration`
 * (so `/dev/...` for `http://127.0.0.1:8080/dev`); returns false for every other path.
 */
export function devIssuerRoutes(key: DevIssuerKey, issuerUrl: string): (req: IncomingMessage, res: ServerResponse) => boolean {
  let base: URL;
  try {
    base = new URL(issuerUrl);
  } catch {
    throw new TypeError(`dev issuer: ${JSON.stringify(issuerUrl)} is not a URL`);
  }
  const prefix = base.pathname.replace(/\/+$/, '');
  const jwksUri = `${issuerUrl.replace(/\/+$/, '')}/jwks.json`;
  const bodies = new Map<string, string>([
    [`${prefix}/jwks.json`, JSON.stringify(devJwks(key))],
    [
      `${prefix}/.well-known/openid-configuration`,
      JSON.stringify({
        issuer: issuerUrl,
        jwks_uri: jwksUri,
        id_token_signing_alg_values_supported: [key.alg],
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        claims_supported: ['iss', 'sub', 'aud', 'iat', 'exp', 'email', 'email_verified', 'groups'],
      }),
    ],
  ]);

  return function devIssuer(req, res) {
    const body = bodies.get(new URL(req.url ?? '/', 'http://local').pathname);
    if (body === undefined) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'application/json', allow: 'GET, HEAD' });
      res.end(JSON.stringify({ error: { code: 'method_not_allowed', message: 'the dev issuer only answers GET' } }));
      return true;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}
