// The password exchanges a server may ask for: cleartext, md5 and SCRAM-SHA-256 (RFC 7677, through
// node-postgres's own implementation, so its SASLprep and its checks of the server's nonce and
// signature come with it). The password never leaves this module except inside the messages.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { serialize } from 'pg-protocol';

interface ScramSession {
  mechanism: string;
  response: string;
}
interface Sasl {
  startSession(mechanisms: string[], stream?: unknown): ScramSession;
  continueSession(session: ScramSession, password: string, serverData: string, stream?: unknown): Promise<void>;
  finalizeSession(session: ScramSession, serverData: string): void;
}
const sasl = createRequire(import.meta.url)('pg/lib/crypto/sasl.js') as Sasl;

export const AUTH = { ok: 0, cleartext: 3, md5: 5, sasl: 10, saslContinue: 11, saslFinal: 12 } as const;

export class AuthError extends Error {
  override readonly name = 'AuthError';
  readonly code = 'EAUTH';
}

function needPassword(password: string | undefined): string {
  if (typeof password !== 'string' || password === '') throw new AuthError('the server asked for a password and the connection has none');
  return password;
}

export function cleartext(password: string | undefined): Buffer {
  return serialize.password(needPassword(password));
}

/** 'md5' || md5(md5(password || user) || salt), as PostgreSQL computes it. */
export function md5(user: string, password: string | undefined, salt: Buffer): Buffer {
  const inner = createHash('md5').update(needPassword(password)).update(user).digest('hex');
  const outer = createHash('md5').update(inner).update(salt).digest('hex');
  return serialize.password(`md5${outer}`);
}

/** A SCRAM-SHA-256 exchange: start → continue(server-first) → finish(server-final). */
export class Scram {
  private readonly session: ScramSession;
  constructor(
    mechanisms: string[],
    private readonly password: string | undefined,
  ) {
    // No channel binding (no stream passed): `n,,` — the TLS layer, when used, is verified on its own.
    this.session = sasl.startSession(mechanisms);
  }
  start(): Buffer {
    return serialize.sendSASLInitialResponseMessage(this.session.mechanism, this.session.response);
  }
  async continue(serverFirst: string): Promise<Buffer> {
    await sasl.continueSession(this.session, needPassword(this.password), serverFirst);
    return serialize.sendSCRAMClientFinalMessage(this.session.response);
  }
  finish(serverFinal: string): void {
    sasl.finalizeSession(this.session, serverFinal);
  }
}

/** The SASL mechanisms an AuthenticationSASL message lists. */
export function mechanisms(body: Buffer): string[] {
  return body
    .toString('utf8', 4)
    .split('\0')
    .filter((m) => m !== '');
}
