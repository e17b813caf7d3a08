// The checkpoint function: Cloud Scheduler calls POST /v1/checkpoints every minute (as the
// checkpoint scheduler's account, the only invoker besides var.checkpoint_invoker_members);
// anyone allowed to invoke it may call the same on demand, and GET /v1/checkpoints/status. Who may
// call is Cloud Run's IAM check (terraform/modules/gatehouse/checkpoints.tf); a run only ever
// signs what the log holds, so a caller can make it sign sooner, never differently.
// A failed run answers 503 with the failure's code (signing_failed, store_failed, …), which Cloud
// Scheduler records as a failed attempt; the next minute tries again.
import { GatehouseError } from '../shared/errors.ts';
import type { GcpCheckpointing } from '../shared/adapters/checkpoints/gcp.ts';
import { errorResponse, json, type HttpHandler } from './http.ts';

export function checkpointHandler(checkpointing: Pick<GcpCheckpointing, 'runOnce' | 'status'>): HttpHandler {
  return async function handleCheckpoint(req) {
    try {
      if (req.path === '/v1/checkpoints') {
        if (req.method !== 'POST') throw new GatehouseError('method_not_allowed', 'use POST for /v1/checkpoints');
        const r = await checkpointing.runOnce();
        return json(r.ok ? 200 : 503, r.ok ? { outcome: r.outcome, checkpoint: r.checkpoint } : { error: r.error });
      }
      if (req.path === '/v1/checkpoints/status') {
        if (req.method !== 'GET') throw new GatehouseError('method_not_allowed', 'use GET for /v1/checkpoints/status');
        return json(200, await checkpointing.status());
      }
      throw new GatehouseError('not_found', `no route ${req.method} ${req.path}`);
    } catch (e) {
      return errorResponse(e);
    }
  };
}
