// Shared by the identity tests: a real HTTP server for the dev issuer, hand-built tokens, and an
// assertion that a refusal has the exact code and does not echo the token.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { isGatehouseError, type ErrorCode } from '../../shared/errors.ts';
import { devIssuerRoutes, type DevIssuerKey } from '../../infra/dev-issuer.ts';

export interface ServedIssuer {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly baseUrl: string;
  close(): Promise<void>;
}

/** Serves the dev issuer's routes on 127.0.0.1 at a free port, as `gatehouse start` would. */
export async function serveDevIssuer(key: DevIssuerKey): Promise<ServedIssuer> {
  let route: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  const server: Server = createServer((req, res) => {
    if (route?.(req, res)) return;
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  const issuer = `${baseUrl}/dev`;
  route = devIssuerRoutes(key, issuer);
  return {
    issuer,
    jwksUri: `${issuer}/jwks.json`,
    baseUrl,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'gatehouse-identity-'));
}

export function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** header.payload.signature from parts, for tokens no library would produce. */
export function handBuilt(header: unknown, payload: unknown, signature = ''): string {
  return `${b64url(header)}.${b64url(payload)}.${signature}`;
}

export async function refused(t: ExecutionContext, promise: Promise<unknown>, code: ErrorCode, token?: string): Promise<void> {
  const error = await t.throwsAsync(promise);
  t.true(isGatehouseError(error, code), `expected ${code}, got ${(error as { code?: string } | undefined)?.code}: ${error?.message}`);
  if (token && token.length > 8 && error) {
    // Messages and details go back to the caller and into logs: never the token itself.
    t.false(error.message.includes(token), 'the error message echoes the token');
    t.false(JSON.stringify((error as { details?: unknown }).details ?? {}).includes(token), 'the error details echo the token');
  }
}
