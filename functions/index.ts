// Registers the deployed functions with the Functions Framework. Each instance builds its runtime
// on the first request (not at import), so a cold start pays only for what it uses.
import * as ff from '@google-cloud/functions-framework';
import type { Request, Response } from '@google-cloud/functions-framework';
import { configFromEnv, createNotifyRuntime, createRuntime, notifyConfigFromEnv, type Runtime } from '../shared/config.ts';
import { GatehouseError } from '../shared/errors.ts';
import { approvalsHandler } from './approvals.ts';
import { checkpointHandler } from './checkpoint.ts';
import { notifyHandler } from './notify.ts';
import { errorResponse, requestHeaders, whenClosed, type HttpHandler, type HttpRequest, type HttpResponse } from './http.ts';
import { queryHandler } from './query.ts';
import { tolerateMalformedJson } from './framework-body.ts';
import { createLogger, logRequest } from './request-log.ts';

// Before the framework builds its server (see framework-body.ts).
tolerateMalformedJson();

let runtime: Promise<Runtime> | undefined;
function getRuntime(): Promise<Runtime> {
  runtime ??= createRuntime(configFromEnv()).catch((e: unknown) => {
    runtime = undefined; // a failed start is retried by the next request, not cached
    throw e;
  });
  return runtime;
}

// JSON lines on stdout, which Cloud Logging reads as structured entries (functions/request-log.ts).
const logger = createLogger({ pretty: false });

function register(name: string, make: (r: Runtime) => HttpHandler): void {
  let handler: HttpHandler | undefined;
  ff.http(name, async (req: Request, res: Response) => {
    const started = performance.now();
    const facts = {};
    let out: HttpResponse;
    try {
      // First: a repeated Authorization is refused before anything starts.
      const request = toHttpRequest(req, (f) => Object.assign(facts, f));
      handler ??= make(await getRuntime());
      out = await handler(request);
    } catch (e) {
      out = errorResponse(e);
    }
    if (out.sent) whenClosed(res, out.sent); // gives back the result bytes the answer held
    res.status(out.status).set({ 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...out.headers }).json(out.body);
    const path = new URL(req.originalUrl ?? req.url, 'http://function').pathname;
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]));
    logRequest(await logger, { method: req.method, path, status: out.status, latencyMs: performance.now() - started, headers, remoteIp: req.ip, facts, body: out.body });
  });
}

function toHttpRequest(req: Request, observe: HttpRequest['observe']): HttpRequest {
  const url = new URL(req.originalUrl ?? req.url, 'http://function');
  const headers = requestHeaders(req);
  return {
    method: req.method,
    path: url.pathname,
    query: url.searchParams,
    headers,
    // The framework has parsed the body already; we parse the raw bytes ourselves so size limits
    // and JSON errors answer with our codes, the same as the local server.
    body: (req as Request & { rawBody?: Buffer }).rawBody ?? Buffer.alloc(0),
    observe,
  };
}

register('query', (r) => queryHandler(r.gateway));
register('approvals', (r) => {
  if (!r.approvals) throw new GatehouseError('approvals_unavailable', 'this deployment has no approval store configured');
  return approvalsHandler(r.approvals.desk, { reconcile: () => r.reconciler.runOnce() });
});

// The checkpoint function needs only the log, its KMS key and where checkpoints go (shared/adapters/
// checkpoints/gcp.ts), not the gateway: its own runtime, built on the first call.
let checkpointing: Promise<import('../shared/adapters/checkpoints/gcp.ts').GcpCheckpointing> | undefined;
ff.http('checkpoint', async (req: Request, res: Response) => {
  let out: HttpResponse;
  try {
    checkpointing ??= import('../shared/adapters/checkpoints/gcp.ts')
      .then((m) => m.createGcpCheckpointing(m.checkpointConfigFromEnv()))
      .catch((e: unknown) => {
        checkpointing = undefined;
        throw e;
      });
    out = await checkpointHandler(await checkpointing)(toHttpRequest(req, () => {}));
  } catch (e) {
    out = errorResponse(e);
  }
  res.status(out.status).set({ 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...out.headers }).json(out.body);
});

// The notify function needs only the approval store and the webhooks, not the whole gateway.
let notifyRuntime: ReturnType<typeof createNotifyRuntime> | undefined;
ff.cloudEvent('notify', async (event: ff.CloudEvent<unknown>) => {
  notifyRuntime ??= createNotifyRuntime(notifyConfigFromEnv()).catch((e: unknown) => {
    notifyRuntime = undefined;
    throw e;
  });
  await notifyHandler((await notifyRuntime).delivery)(event);
});
