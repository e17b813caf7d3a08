// The notify function: triggered by the approvals Pub/Sub topic (a CloudEvent of type
// google.cloud.pubsub.topic.v1.messagePublished), it posts the request to Slack and/or a webhook.
// It only translates the event and delegates (shared/approvals/delivery.ts). Throwing makes
// Pub/Sub deliver the message again; a message that can never be handled is acknowledged and
// logged instead, so it does not come back forever.
import type { CloudEvent } from '@google-cloud/functions-framework';
import { deliverApprovalNotice, type DeliveryDeps, type DeliveryOutcome } from '../shared/approvals/delivery.ts';
import { parseApprovalNotice, type ApprovalNotice } from '../shared/approvals/message.ts';

export interface PubSubPush {
  readonly notice: ApprovalNotice;
  readonly messageId: string;
}

export function notifyHandler(deps: DeliveryDeps, log: (line: string) => void = (l) => console.log(l)) {
  return async function notify(event: CloudEvent<unknown>): Promise<DeliveryOutcome | undefined> {
    const push = readEvent(event);
    if (typeof push === 'string') {
      log(`[gatehouse notify] message ${event.id ?? '?'} ignored: ${push}`);
      return undefined;
    }
    const outcome = await deliverApprovalNotice(deps, push.notice, push.messageId);
    log(
      `[gatehouse notify] approval ${push.notice.approvalId} message ${push.messageId}: ` +
        (outcome.kind === 'posted' ? `posted to ${outcome.channels.join(', ')}` : `nothing posted (${outcome.reason})`),
    );
    return outcome;
  };
}

/** The approval notice and Pub/Sub message id inside the event, or why there is none. */
export function readEvent(event: CloudEvent<unknown>): PubSubPush | string {
  const data = event.data;
  const message = isRecord(data) && isRecord(data.message) ? data.message : undefined;
  if (!message) return 'not a Pub/Sub message event';
  const messageId = typeof message.messageId === 'string' && message.messageId !== '' ? message.messageId : event.id;
  if (typeof messageId !== 'string' || messageId === '') return 'the message has no id';
  if (typeof message.data !== 'string') return 'the message has no data';
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(message.data, 'base64').toString('utf8'));
  } catch {
    return 'the message data is not JSON';
  }
  const notice = parseApprovalNotice(body);
  return notice ? { notice, messageId } : 'the message is not a Gatehouse approval request';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
