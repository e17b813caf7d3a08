// One port for everything on a single machine: the functions' routes, plus the dev issuer at /dev.
// Bodies are read with a hard cap so an oversized request costs us at most the cap. With a logger,
// every request ends in one structured line (functions/request-log.ts). shutdown() is the graceful
// stop: no new connections, in-flight requests finish up to a deadline, then the rest are cut.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { errorResponse, MAX_BODY_BYTES, requestHeaders, whenClosed, type HttpHandler, type HttpRequest, type HttpResponse, type RequestFacts } from '../functions/http.ts';
import { logRequest, type Logger } from '../functions/request-log.ts';
import { GatehouseError } from '../shared/errors.ts';

export type RawRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface LocalServerOptions {
  readonly host: string;
  readonly port: number;
  /** Tried in order; the first that claims the path answers. */
  readonly routes: readonly { readonly prefix: string; readonly handler: HttpHandler }[];
  /** Routes that answer on the raw request (the dev issuer's JWKS). */
  readonly raw?: readonly RawRoute[];
  /** One line per request when set. */
  readonly logger?: Logger;
}

export interface ShutdownReport {
  /** Requests running when shutdown began. */
  readonly inFlight: number;
  /** Of those, how many finished before the deadline. */
  readonly finished: number;
  /** Cut at the deadline. */
  readonly abandoned: number;
  readonly waitedMs: number;
}

export interface LocalServer {
  readonly server: Server;
  readonly url: string;
  /** Requests being answered right now. */
  inFlight(): number;
  /** True once shutdown() began. */
  stopping(): boolean;
  /** Stop accepting, let in-flight requests finish for up to `graceMs`, then cut what is left. */
  shutdown(graceMs: number): Promise<ShutdownReport>;
  /** Immediate: every connection is cut. */
  close(): Promise<void>;
}

export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  let active = 0;
  let stopping = false;
  let drained: (() => void) | undefined;
  const server = createServer((req, res) => {
    active++;
    // While stopping, answers close their connection so keep-alive clients cannot hold us open.
    if (stopping) res.setHeader('connection', 'close');
    res.once('close', () => {
      active--;
      if (stopping) server.closeIdleConnections();
      if (active === 0) drained?.();
    });
    void handle(options, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : options.port;
  const closed = new Promise<void>((resolve) => server.once('close', () => resolve()));
  return {
    server,
    url: `http://${options.host}:${port}`,
    inFlight: () => active,
    stopping: () => stopping,
    async shutdown(graceMs) {
      stopping = true;
      const started = performance.now();
      const atStart = active;
      server.close(); // no new connections; idle keep-alive ones are closed now
      server.closeIdleConnections();
      if (active > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          drained = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      const abandoned = active;
      server.closeAllConnections();
      await closed;
      return { inFlight: atStart, finished: atStart - Math.min(abandoned, atStart), abandoned, waitedMs: Math.round(performance.now() - started) };
    },
    close: () => {
      stopping = true;
      server.closeAllConnections();
      server.close();
      return closed;
    },
  };
}

async function handle(options: LocalServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  const facts: Record<string, string> = {};
  const url = new URL(req.url ?? '/', 'http://local');
  let answer: HttpResponse | undefined;
  try {
    for (const raw of options.raw ?? []) if (raw(req, res)) return finish(res.statusCode);
    const route = options.routes.find((r) => url.pathname.startsWith(r.prefix));
    if (!route) return finish(send(res, (answer = errorResponse(new GatehouseError('not_found', `no route ${req.method} ${url.pathname}`)))));
    const body = await readBody(req);
    const request: HttpRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: requestHeaders(req),
      body: body ?? Buffer.alloc(0),
      bodyTooLarge: body === undefined,
      observe: (f: RequestFacts) => Object.assign(facts, f),
    };
    answer = await route.handler(request);
    finish(send(res, answer));
  } catch (e) {
    finish(send(res, (answer = errorResponse(e))));
  }

  function finish(status: number): void {
    if (!options.logger) return;
    logRequest(options.logger, {
      method: req.method ?? 'GET',
      path: url.pathname,
      status,
      latencyMs: performance.now() - started,
      headers: flatHeaders(req),
      remoteIp: req.socket.remoteAddress,
      facts,
      body: answer?.body,
    });
  }
}

/** The body, or `undefined` when it is over the cap (the rest is drained, never buffered). */
function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** For the request log only (it never throws): repeated headers joined, as Node does. */
function flatHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/** Writes the answer; returns the status the client got. */
export function send(res: ServerResponse, r: HttpResponse): number {
  if (r.sent) whenClosed(res, r.sent);
  if (res.headersSent) return res.statusCode;
  const body = JSON.stringify(r.body);
  res.writeHead(r.status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...r.headers,
  });
  res.end(body);
  return r.status;
}
