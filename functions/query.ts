// The bots' function: POST /v1/query, POST /v1/analyze, GET /v1/sessions/:id, GET /v1/connections[/…]
// and GET /v1/openapi.json. It only translates HTTP to gateway calls and outcomes back to the
// contract in docs/design.md#http-api.
import { GatehouseError } from '../shared/errors.ts';
import type { Caller, Gateway } from '../shared/gateway.ts';
import { openApiDocument } from '../shared/api/openapi.ts';
import { errorResponse, header, json, readJsonBody, type HttpHandler, type HttpRequest } from './http.ts';

const SESSION_PATH = /^\/v1\/sessions\/([A-Za-z0-9_-]{1,100})$/;
const TABLE_PATH = /^\/v1\/connections\/([^/]{1,600})\/tables\/([^/]{1,600})$/;

export function queryHandler(gateway: Gateway): HttpHandler {
  return async function handleQuery(req) {
    try {
      if (req.path === '/v1/query') {
        allow(req, 'POST');
        const outcome = await gateway.query(caller(req), () => readJsonBody(req));
        if (outcome.kind === 'denied') {
          return json(403, { sessionId: outcome.sessionId, status: 'denied', rule: outcome.rule, reasons: outcome.reasons });
        }
        if (outcome.kind === 'pending_approval') {
          return json(202, { sessionId: outcome.sessionId, status: 'pending_approval', approval: outcome.approval });
        }
        const { kind: _kind, sessionId, release, ...rest } = outcome;
        return { ...json(200, { sessionId, status: 'executed', ...rest }), sent: release };
      }
      if (req.path === '/v1/analyze') {
        allow(req, 'POST');
        return json(200, await gateway.analyze(caller(req), () => readJsonBody(req)));
      }
      if (req.path === '/v1/connections') {
        allow(req, 'GET');
        return json(200, await gateway.connections(caller(req)));
      }
      const t = TABLE_PATH.exec(req.path);
      if (t) {
        allow(req, 'GET');
        return json(200, await gateway.describeTable(caller(req), decode(t[1]!), decode(t[2]!)));
      }
      if (req.path === '/v1/openapi.json') {
        // The contract is public: it says what the API accepts, never who may do what.
        allow(req, 'GET');
        return json(200, openApiDocument());
      }
      const m = SESSION_PATH.exec(req.path);
      if (m) {
        allow(req, 'GET');
        return json(200, await gateway.session(caller(req), m[1]!, waitSeconds(req)));
      }
      throw new GatehouseError('not_found', `no route ${req.method} ${req.path}`);
    } catch (e) {
      return errorResponse(e);
    }
  };
}

function caller(req: HttpRequest): Caller {
  return {
    authorization: header(req, 'authorization'),
    model: header(req, 'x-agent-model'),
    runId: header(req, 'x-agent-run-id'),
    traceparent: header(req, 'traceparent'),
    observe: req.observe,
  };
}

function allow(req: HttpRequest, method: string): void {
  if (req.method !== method) throw new GatehouseError('method_not_allowed', `use ${method} for ${req.path}`);
}

function waitSeconds(req: HttpRequest): number {
  const raw = req.query.get('wait');
  if (raw === null) return 0;
  if (!/^\d{1,3}$/.test(raw)) throw new GatehouseError('bad_request', 'wait must be a whole number of seconds');
  return Number(raw);
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GatehouseError('bad_request', 'the path is not valid percent-encoding');
  }
}
