// The people's function: GET /v1/approvals, GET /v1/approvals/:id, POST /v1/approvals/:id/approve
// and /reject (docs/design.md#http-api); and POST /v1/approvals/republish, which a scheduler calls so that a
// request Pub/Sub refused is published even when no instance is running. It only translates HTTP
// to review-desk calls and answers back.
import { GatehouseError } from '../shared/errors.ts';
import type { Caller } from '../shared/gateway.ts';
import { STATUS_FILTERS, type ReviewDesk, type StatusFilter } from '../shared/approvals/review.ts';
import { errorResponse, header, json, readJsonBody, type HttpHandler, type HttpRequest } from './http.ts';

const APPROVAL_PATH = /^\/v1\/approvals\/([A-Za-z0-9_-]{1,100})$/;
const DECISION_PATH = /^\/v1\/approvals\/([A-Za-z0-9_-]{1,100})\/(approve|reject)$/;

/**
 * `reconcile`: on GCP an instance has CPU only while it answers, so the scheduled republish call
 * also closes abandoned sessions (docs/outcomes.md); it runs only once the caller passed the
 * republisher's check, and its failure never fails the republish.
 */
export function approvalsHandler(desk: ReviewDesk, extra: { reconcile?: () => Promise<unknown> } = {}): HttpHandler {
  return async function handleApprovals(req) {
    try {
      if (req.path === '/v1/approvals') {
        allow(req, 'GET');
        return json(200, await desk.list(caller(req), { status: statusParam(req), limit: limitParam(req) }));
      }
      if (req.path === '/v1/approvals/republish') {
        allow(req, 'POST');
        const published = await desk.republish(caller(req));
        if (!extra.reconcile) return json(200, published);
        const reconciled = await extra.reconcile().catch(() => ({ error: 'reconciliation failed; retried on the next call' }));
        return json(200, { ...published, reconciled });
      }
      const shown = APPROVAL_PATH.exec(req.path);
      if (shown) {
        allow(req, 'GET');
        return json(200, await desk.show(caller(req), shown[1]!));
      }
      const decided = DECISION_PATH.exec(req.path);
      if (decided) {
        allow(req, 'POST');
        const verdict = decided[2] === 'approve' ? 'approve' : 'reject';
        return json(200, await desk.decide(caller(req), decided[1]!, verdict, () => readJsonBody(req)));
      }
      throw new GatehouseError('not_found', `no route ${req.method} ${req.path}`);
    } catch (e) {
      return errorResponse(e);
    }
  };
}

function caller(req: HttpRequest): Caller {
  return { authorization: header(req, 'authorization') };
}

function allow(req: HttpRequest, method: string): void {
  if (req.method !== method) throw new GatehouseError('method_not_allowed', `use ${method} for ${req.path}`);
}

function statusParam(req: HttpRequest): StatusFilter | undefined {
  const raw = req.query.get('status');
  if (raw === null) return undefined;
  const found = STATUS_FILTERS.find((s) => s === raw);
  if (!found) throw new GatehouseError('bad_request', `status must be one of ${STATUS_FILTERS.join(', ')}`);
  return found;
}

function limitParam(req: HttpRequest): number | undefined {
  const raw = req.query.get('limit');
  if (raw === null) return undefined;
  if (!/^\d{1,3}$/.test(raw) || Number(raw) < 1) throw new GatehouseError('bad_request', 'limit must be a whole number from 1 to 999');
  return Number(raw);
}
