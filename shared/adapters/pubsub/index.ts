export { createPubSubNotifier, PublishFailed, type PubSubNotifierOptions } from './notifier.ts';
