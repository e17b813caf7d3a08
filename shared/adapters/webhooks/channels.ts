// The notify function's channels, from configuration: a Slack incoming webhook and/or a generic
// webhook, each URL a SecretSource reference (`secret://…`, `env://…`), resolved when first used.
import type { DeliveryChannel } from '../../approvals/delivery.ts';
import type { ApprovalNotice } from '../../approvals/message.ts';
import type { SecretSource } from '../../ports.ts';
import { postJson, type PostOptions } from './post.ts';
import { slackMessage } from './slack.ts';

export interface WebhookChannelsOptions {
  readonly secrets: SecretSource;
  /** Reference to a Slack incoming-webhook URL. */
  readonly slack?: string;
  /** Reference to a generic webhook URL; it receives the message body as published. */
  readonly webhook?: string;
  readonly post?: Omit<PostOptions, 'headers'>;
}

export function webhookChannels(options: WebhookChannelsOptions): DeliveryChannel[] {
  const channels: DeliveryChannel[] = [];
  const url = (ref: string) => {
    let cached: Promise<string> | undefined;
    return () => {
      cached ??= options.secrets.resolve(ref).catch((e: unknown) => {
        cached = undefined; // a secret that could not be read is read again next time
        throw e;
      });
      return cached;
    };
  };
  if (options.slack) {
    const slackUrl = url(options.slack);
    channels.push({ name: 'slack', post: async (n: ApprovalNotice) => postJson(await slackUrl(), slackMessage(n), options.post) });
  }
  if (options.webhook) {
    const hookUrl = url(options.webhook);
    channels.push({
      name: 'webhook',
      // The key lets a receiver drop a repeat of a post we could not record as done.
      post: async (n: ApprovalNotice) =>
        postJson(await hookUrl(), n, { ...options.post, headers: { 'idempotency-key': n.approvalId, 'x-gatehouse-event': n.kind } }),
    });
  }
  return channels;
}
