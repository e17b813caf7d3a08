// Where a client's ID token comes from, per call. A token is never logged, never put in an error
// message, and never cached past its own expiry.
//  - a fixed token (GATEHOUSE_TOKEN);
//  - a command printing one (`gcloud auth print-identity-token`), re-run when the last one is
//    within a minute of its `exp`;
//  - on GCP, the workload's identity: google-auth-library's getIdTokenClient(audience) — the
//    metadata server, or Application Default Credentials — which refreshes its own.
import { execFile } from 'node:child_process';
import { decodeJwt } from 'jose';
import type { TokenProvider } from './index.ts';

const REFRESH_BEFORE_EXP_SEC = 60;

export function fixedToken(token: string): TokenProvider {
  const t = token.trim();
  if (t === '') throw new TypeError('the token is empty');
  return () => t;
}

/** Runs `command` with /bin/sh; its trimmed stdout is the token. Cached until a minute before exp. */
export function commandToken(command: string, options: { timeoutMs?: number; now?: () => number } = {}): TokenProvider {
  const now = options.now ?? Date.now;
  let cached: { token: string; until: number } | undefined;
  return async () => {
    if (cached && now() < cached.until) return cached.token;
    const token = await run(command, options.timeoutMs ?? 30_000);
    cached = { token, until: refreshAt(token) };
    return token;
  };
}

/** On GCP: an ID token for `audience` from the metadata server or Application Default Credentials. */
export function googleIdToken(audience: string): TokenProvider {
  let client: Promise<{ getRequestHeaders(): Promise<unknown> }> | undefined;
  return async () => {
    // Loaded on first use: most callers of this module never need Google's library.
    client ??= import('google-auth-library').then(({ GoogleAuth }) => new GoogleAuth().getIdTokenClient(audience)).catch((e: unknown) => {
      client = undefined;
      throw e;
    });
    const headers = await (await client).getRequestHeaders();
    const value = headers instanceof Headers ? headers.get('authorization') : (headers as Record<string, string | undefined>).Authorization;
    const token = value?.replace(/^Bearer\s+/i, '');
    if (!token) throw new Error('google-auth-library returned no ID token');
    return token;
  };
}

function refreshAt(token: string): number {
  try {
    const { exp } = decodeJwt(token); // not verified: only to know when to ask again
    if (typeof exp === 'number') return (exp - REFRESH_BEFORE_EXP_SEC) * 1000;
  } catch {
    // not a JWT: the server will say so; do not cache it
  }
  return 0;
}

function run(command: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', command], { timeout: timeoutMs, maxBuffer: 64 * 1024 }, (error, stdout) => {
      // Not the command's stderr or stdout: either could hold a token or a credential.
      if (error) return reject(new Error(`the token command failed (${error.code ?? error.signal ?? 'error'})`));
      const token = stdout.trim();
      if (token === '' || /\s/.test(token)) return reject(new Error('the token command did not print exactly one token'));
      resolve(token);
    });
  });
}
