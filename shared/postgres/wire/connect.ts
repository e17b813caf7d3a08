// Opening a socket to PostgreSQL as the connection string says: TCP or a Unix socket (a host that
// is a directory), TLS per sslmode exactly as node-postgres reads it (pg-connection-string: no
// sslmode means no TLS; prefer, require, verify-ca and verify-full verify the certificate and the
// host name; no-verify encrypts without verifying), then the startup message and authentication.
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { parse } from 'pg-connection-string';
import { serialize } from 'pg-protocol';

export interface ConnectionConfig {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
  readonly database: string;
  /** false: plain; otherwise the options tls.connect gets (certificate verification on unless no-verify). */
  readonly ssl: false | ConnectionOptions;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'EBADURL';
}

/** The URL is parsed here and never put into an error: it carries the password. */
export function connectionConfig(url: string): ConnectionConfig {
  let c: ReturnType<typeof parse>;
  try {
    // pg-connection-string warns once per process that prefer/require/verify-ca mean verify-full.
    c = parse(url);
  } catch {
    throw new ConfigError('the connection string could not be parsed');
  }
  const host = c.host || 'localhost';
  const port = c.port ? Number(c.port) : 5432;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new ConfigError('the connection string has a bad port');
  const user = c.user || process.env.PGUSER || process.env.USER || 'postgres';
  let ssl: false | ConnectionOptions = false;
  if (c.ssl) {
    ssl = typeof c.ssl === 'object' ? { ...(c.ssl as ConnectionOptions) } : {};
    if (!host.startsWith('/')) {
      // The certificate is checked against the host we connect to (tls checks `host` when there is
      // no servername; SNI cannot carry an IP address). node-postgres leaves `host` out, so an IP
      // address is checked against "localhost" there.
      ssl.host ??= host;
      if (isIP(host) === 0) ssl.servername ??= host;
    }
  }
  return { host, port, user, password: c.password || undefined, database: c.database || user, ssl };
}

const SSL_REQUEST_CODE = 80877103;

/** A connected (and, when asked for, TLS-wrapped) socket; nothing sent on it yet but SSLRequest. */
export async function openSocket(config: ConnectionConfig, timeoutMs: number): Promise<Socket> {
  const socket = config.host.startsWith('/') ? netConnect(`${config.host}/.s.PGSQL.${config.port}`) : netConnect(config.port, config.host);
  socket.setNoDelay(true);
  const timer = setTimeout(() => socket.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), timeoutMs);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.setKeepAlive(true);
    if (config.ssl === false) return socket;
    const request = Buffer.alloc(8);
    request.writeInt32BE(8, 0);
    request.writeInt32BE(SSL_REQUEST_CODE, 4);
    socket.write(request);
    const answer = await new Promise<number>((resolve, reject) => {
      socket.once('data', (d: Buffer) => resolve(d[0]!));
      socket.once('error', reject);
      socket.once('close', () => reject(Object.assign(new Error('closed during TLS negotiation'), { code: 'ECONNRESET' })));
    });
    socket.removeAllListeners('data');
    // The connection string asked for TLS: a server that refuses it is not spoken to in the clear.
    if (answer !== 0x53) throw Object.assign(new Error('the server does not support TLS'), { code: 'ENOTLS' });
    const secure = tlsConnect({ ...config.ssl, socket });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    return secure;
  } catch (e) {
    socket.destroy();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The StartupMessage: UTF8 always (result text is decoded as UTF-8), and who we are — and the
 * lexer the gateway's parser assumes. libpg-query reads `'a\'` as a complete string, as PostgreSQL
 * does with standard_conforming_strings on; a server where a role or database setting turned it
 * off reads the backslash as escaping the quote, and the rest of the text — which the analysis saw
 * as string contents — as SQL it runs. A start-up parameter outranks role and database settings.
 */
export function startupMessage(config: ConnectionConfig, applicationName: string): Buffer {
  return serialize.startup({
    user: config.user,
    database: config.database,
    application_name: applicationName,
    client_encoding: 'UTF8',
    standard_conforming_strings: 'on',
  });
}

/** Settings whose value decides how the server splits SQL text into tokens, and the value the parser assumes. */
export const LEXER_SETTINGS: Readonly<Record<string, string>> = { standard_conforming_strings: 'on' };

/** CancelRequest for a backend, on a socket of its own (TLS too when the connection uses it). */
export async function sendCancel(config: ConnectionConfig, pid: number, secret: number, timeoutMs: number): Promise<void> {
  const socket = await openSocket(config, timeoutMs);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve();
    }, timeoutMs);
    // The server reads the request and closes the connection without answering.
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on('error', () => {});
    socket.end(serialize.cancel(pid, secret));
  });
}
