export { webhookChannels, type WebhookChannelsOptions } from './channels.ts';
export { postJson, WebhookError, type PostOptions } from './post.ts';
export { slackMessage } from './slack.ts';
