// Where a client's ID token comes from, per call. A token is never logged, never put in an error
// message, and never cached past its own expiry.
//  - a fixed token (GATEHOUSE_TOKEN);
//  - a command printing one (`gcloud auth print-identity-token`), re-run when the last one is
//    within a minute of its `exp`;
//  - on GCP, the workload's identity: google-auth-library's getIdTokenClient(audience) — the
//    metadata server, or Application Default Credentials — which refreshes its own.
import { spawn } from 'node:child_process';
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
  // spawn, not execFile: execFile's timeout sends SIGTERM to the shell alone and then waits for it
  // and for every holder of its stdout — a command that ignores SIGTERM, or leaves a child behind
  // holding stdout, held the agent's call for as long as it liked. The command runs in a process
  // group of its own, with no stdin (a prompt waits for nobody); at the deadline the whole group is
  // killed and the call rejected, whoever still holds the pipe.
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    let exitCode: number | null | undefined;
    let ended = false;
    const finish = (error: Error | undefined, token?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        if (exitCode === undefined) killGroup(child.pid); // still running: the group goes
        child.stdout?.destroy();
        reject(error);
      } else resolve(token!);
    };
    const done = () => {
      if (exitCode === undefined || !ended) return;
      // Not the command's stderr or stdout: either could hold a token or a credential.
      if (exitCode !== 0) return finish(new Error(`the token command failed (${exitCode ?? 'signal'})`));
      const token = Buffer.concat(chunks).toString('utf8').trim();
      if (token === '' || !/^[\x21-\x7e]+$/.test(token)) return finish(new Error('the token command did not print exactly one token'));
      finish(undefined, token);
    };
    const timer = setTimeout(() => {
      if (exitCode === undefined) killGroup(child.pid);
      finish(new Error('the token command failed (timed out)'));
    }, timeoutMs);
    child.stdout!.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_OUTPUT) return finish(new Error('the token command failed (too much output)'));
      chunks.push(b);
    });
    child.stdout!.once('end', () => {
      ended = true;
      done();
    });
    child.once('error', (e: NodeJS.ErrnoException) => finish(new Error(`the token command failed (${e.code ?? 'error'})`)));
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? null : -1);
      done();
    });
  });
}

const MAX_OUTPUT = 64 * 1024;

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // the group has ended already
  }
}
