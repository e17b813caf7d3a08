// The secret a client of `gatehouse mcp --http` must present as `Authorization: Bearer <secret>`.
// Without it any local user, or any process, that could connect to the loopback port acted as the
// agent: ran its SQL under its identity, and the session log named the agent as having done it.
//
// By default a new secret is made at every start (32 random bytes, base64url) and written to
// <state dir>/mcp-http.token, 0600, in the private state dir; `--http-token-file FILE` uses a
// secret the user keeps instead (a file of theirs that nobody else can read, as for every key
// file). The secret is never printed: people and hosts read it from the file.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, fchmodSync, openSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { ensurePrivateDir, readPrivateFile } from '../private-files.ts';

export const MCP_HTTP_TOKEN_FILE = 'mcp-http.token';
/** A secret given in a file must be at least this long (a generated one is 43 characters). */
export const MIN_SECRET_LENGTH = 32;
// RFC 6750 §2.1 b64token: what can follow `Bearer ` in a header.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export function generateHttpSecret(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Writes a fresh secret to <stateDir>/mcp-http.token: the state dir is made (or checked) private
 * first, the secret goes to a new file created with O_EXCL and mode 0600, which then replaces
 * the previous token file atomically (a reader sees the old secret or the new one, never a part).
 */
export function writeHttpSecret(stateDir: string): { path: string; secret: string } {
  ensurePrivateDir(stateDir);
  const path = join(stateDir, MCP_HTTP_TOKEN_FILE);
  const secret = generateHttpSecret();
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    fchmodSync(fd, 0o600); // whatever the umask
    writeSync(fd, `${secret}\n`);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  return { path, secret };
}

/**
 * The secret in a file the user made (`--http-token-file`): a regular file of theirs that no one
 * else may read (readPrivateFile refuses a link, another user's file, a file others can read),
 * holding one b64token of at least MIN_SECRET_LENGTH characters.
 */
export function readHttpSecret(path: string): string {
  let text: string;
  try {
    text = readPrivateFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`--http-token-file ${path} does not exist`);
    throw new Error(`--http-token-file: ${e instanceof Error ? e.message : String(e)}`);
  }
  const secret = text.trim();
  // The secret itself is never part of a message.
  if (!B64TOKEN.test(secret)) throw new Error(`--http-token-file ${path} must hold one token (letters, digits, - . _ ~ + /), nothing else`);
  if (secret.length < MIN_SECRET_LENGTH) throw new Error(`--http-token-file ${path} holds a token of ${secret.length} characters: use at least ${MIN_SECRET_LENGTH} (e.g. 32 random bytes, base64url)`);
  return secret;
}

/** Removes a generated token file at shutdown, if it still holds this process's secret. */
export function removeHttpSecret(path: string, secret: string): void {
  try {
    if (readPrivateFile(path).trim() === secret) unlinkSync(path);
  } catch {
    // gone already, or replaced by another start: not ours to remove
  }
}

export type HttpAuthOutcome = { ok: true } | { ok: false; status: 400 | 401; code: 'header_repeated' | 'token_missing' | 'token_invalid'; message: string };

/**
 * Checks a request's `Authorization: Bearer <secret>` against the digest of the secret: both sides
 * are hashed to equal length and compared with timingSafeEqual. A repeated Authorization header is
 * refused (400), whatever its copies say: which copy a proxy or library keeps is not ours to guess.
 */
export function httpAuthChecker(secret: string): (req: IncomingMessage) => HttpAuthOutcome {
  const expected = digest(secret);
  return (req) => {
    const values = req.headersDistinct.authorization;
    if (values !== undefined && values.length > 1) {
      return { ok: false, status: 400, code: 'header_repeated', message: `send the authorization header once (it was sent ${values.length} times)` };
    }
    const match = values?.[0] === undefined ? null : BEARER.exec(values[0]);
    if (!match) return { ok: false, status: 401, code: 'token_missing', message: 'send the secret of this MCP server as `Authorization: Bearer <secret>`' };
    if (!timingSafeEqual(digest(match[1]!), expected)) return { ok: false, status: 401, code: 'token_invalid', message: 'that is not the secret of this MCP server' };
    return { ok: true };
  };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
