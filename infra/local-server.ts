// One port for everything on a single machine: the functions' routes, plus the dev issuer at /dev.
// Bodies are read with a hard cap so an oversized request costs us at most the cap.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { errorResponse, MAX_BODY_BYTES, requestHeaders, type HttpHandler, type HttpRequest, type HttpResponse } from '../functions/http.ts';
import { GatehouseError } from '../shared/errors.ts';

export type RawRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface LocalServerOptions {
  readonly host: string;
  readonly port: number;
  /** Tried in order; the first that claims the path answers. */
  readonly routes: readonly { readonly prefix: string; readonly handler: HttpHandler }[];
  /** Routes that answer on the raw request (the dev issuer's JWKS). */
  readonly raw?: readonly RawRoute[];
}

export async function startLocalServer(options: LocalServerOptions): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    void handle(options, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : options.port;
  return {
    server,
    url: `http://${options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(options: LocalServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    for (const raw of options.raw ?? []) if (raw(req, res)) return;
    const url = new URL(req.url ?? '/', 'http://local');
    const route = options.routes.find((r) => url.pathname.startsWith(r.prefix));
    if (!route) return send(res, errorResponse(new GatehouseError('not_found', `no route ${req.method} ${url.pathname}`)));
    const body = await readBody(req);
    const request: HttpRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: requestHeaders(req),
      body: body ?? Buffer.alloc(0),
      bodyTooLarge: body === undefined,
    };
    send(res, await route.handler(request));
  } catch (e) {
    send(res, errorResponse(e));
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

export function send(res: ServerResponse, r: HttpResponse): void {
  if (res.headersSent) return;
  const body = JSON.stringify(r.body);
  res.writeHead(r.status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...r.headers,
  });
  res.end(body);
}
