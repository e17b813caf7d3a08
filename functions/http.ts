// The transport edge: a framework-neutral request/response, JSON in and out, and the one place a
// GatehouseError becomes an HTTP answer. Both the Functions Framework (functions/index.ts) and the
// local server (infra/local-server.ts) translate to and from these shapes.
import { GatehouseError, isGatehouseError } from '../shared/errors.ts';
import { SessionError, type RequestFacts } from '../shared/gateway.ts';

export type { RequestFacts } from '../shared/gateway.ts';

export const MAX_BODY_BYTES = 256 * 1024;

export interface HttpRequest {
  readonly method: string;
  /** Path without the query string, e.g. `/v1/query`. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer;
  /** Set by a transport that stopped reading at MAX_BODY_BYTES; `body` is then empty. */
  readonly bodyTooLarge?: boolean;
  /** The transport's log line collects what handlers learn (request-log.ts). */
  readonly observe?: (facts: RequestFacts) => void;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: unknown;
  /** Called once the answer has left (or the client went away): gives back what it held in memory. */
  readonly sent?: () => void;
}

export type HttpHandler = (req: HttpRequest) => Promise<HttpResponse>;

/**
 * Runs `then` once the answer's body is out of our buffers, or the client left; at once when it
 * left already (a client that hung up while its statement ran must not hold what the answer held).
 */
export function whenClosed(res: { readonly closed: boolean; readonly destroyed: boolean; once(event: 'close', f: () => void): unknown }, then: () => void): void {
  if (res.closed || res.destroyed) then();
  else res.once('close', then);
}

export function json(status: number, body: unknown, headers?: Record<string, string>): HttpResponse {
  return { status, body, headers };
}

/** Untrusted bytes to `unknown`: size first, then JSON. */
export function readJsonBody(req: HttpRequest): unknown {
  if (req.bodyTooLarge || req.body.length > MAX_BODY_BYTES) {
    throw new GatehouseError('body_too_large', `request body is larger than ${MAX_BODY_BYTES} bytes`);
  }
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new GatehouseError('unsupported_media_type', 'send the body as Content-Type: application/json');
  }
  try {
    return JSON.parse(req.body.toString('utf8')) as unknown;
  } catch {
    throw new GatehouseError('invalid_json', 'request body is not valid JSON');
  }
}

export function errorResponse(e: unknown, log: (msg: string, err: unknown) => void = defaultLog): HttpResponse {
  const error = isGatehouseError(e) ? e : new GatehouseError('internal', 'internal error');
  if (!isGatehouseError(e) || error.code === 'internal') log('unexpected error', e);
  const sessionId = e instanceof SessionError ? e.sessionId : undefined;
  const body: Record<string, unknown> = {
    error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) },
  };
  if (sessionId) body.sessionId = sessionId;
  const headers: Record<string, string> = {};
  if (error.status === 401) {
    // RFC 6750: tell the client how to authenticate, and why the token failed, without echoing it.
    headers['www-authenticate'] = error.code === 'token_missing' ? 'Bearer' : `Bearer error="invalid_token", error_description="${error.code}"`;
  }
  return { status: error.status, headers, body };
}

function defaultLog(msg: string, err: unknown): void {
  // Only the error's name and message: causes may carry driver details we do not want in logs.
  const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  console.error(`[gatehouse] ${msg}: ${detail}`);
}

// Headers that name one thing: sent twice, which one counts depends on the proxy in front (Node
// keeps the first Authorization and silently drops the rest), so the request is refused instead.
const SINGLE_VALUED = ['authorization', 'content-type', 'x-agent-model', 'x-agent-run-id', 'traceparent'];

/**
 * Flattens a Node request's headers (both transports), refusing a repeated single-valued header
 * with 400 `header_repeated`. Reads `headersDistinct`, because `headers` has already dropped the
 * duplicates of Authorization.
 */
export function requestHeaders(req: { headers: NodeJS.Dict<string | string[]>; headersDistinct?: NodeJS.Dict<string[]> }): Record<string, string | undefined> {
  for (const name of SINGLE_VALUED) {
    const values = req.headersDistinct?.[name];
    if (values !== undefined && values.length > 1) {
      throw new GatehouseError('header_repeated', `send the ${name} header once (it was sent ${values.length} times)`, { header: name });
    }
  }
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

export function header(req: HttpRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return v === undefined || v === '' ? undefined : v;
}
