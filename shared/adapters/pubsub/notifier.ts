// The ApprovalNotifier on Google Cloud Pub/Sub. The client library is loaded on the first publish
// (`await import`): it is large, and a gateway that never holds a statement never needs it.
//
// The library's own retry for Publish would keep trying for up to 10 minutes (its default
// settings); the request path cannot wait that long, so its retries are switched off and
// replaced by a few bounded attempts here. What still fails stays pending on the approval and
// is published again later (shared/approvals/publish.ts).
import { setTimeout as delay } from 'node:timers/promises';
import type { OutgoingMessage } from '../../approvals/message.ts';
import type { ApprovalNotifier } from '../../ports.ts';

export interface PubSubNotifierOptions {
  /** `projects/P/topics/T`, or a topic name with `projectId`. */
  readonly topic: string;
  readonly projectId?: string;
  /**
   * `host:port` of an emulator or another endpoint. Default: Google's endpoint, or
   * PUBSUB_EMULATOR_HOST when the environment sets it (the library's own rule).
   */
  readonly apiEndpoint?: string;
  readonly maxAttempts?: number;
  readonly attemptTimeoutMs?: number;
  /** First delay between attempts; doubles each time. */
  readonly backoffMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const TOPIC = /^projects\/([a-z][a-z0-9-]{4,28}[a-z0-9])\/topics\/([A-Za-z][\w.~+%-]{2,254})$/;
const TOPIC_NAME = /^[A-Za-z][\w.~+%-]{2,254}$/;

export class PublishFailed extends Error {
  override readonly name = 'PublishFailed';
}

export function createPubSubNotifier(options: PubSubNotifierOptions): ApprovalNotifier {
  const o = checkOptions(options);
  type Client = import('@google-cloud/pubsub').PubSub;
  type Topic = import('@google-cloud/pubsub').Topic;
  let client: Promise<{ pubsub: Client; topic: Topic }> | undefined;

  function connect() {
    client ??= (async () => {
      const { PubSub } = await import('@google-cloud/pubsub');
      const pubsub = new PubSub({
        projectId: o.projectId,
        ...(o.apiEndpoint ? { apiEndpoint: o.apiEndpoint } : {}),
      });
      const topic = pubsub.topic(o.topicName, {
        gaxOpts: { timeout: o.attemptTimeoutMs, maxRetries: 0 },
        // One message per request: there is no burst to batch, and a batch would add its delay.
        batching: { maxMessages: 1 },
      });
      return { pubsub, topic };
    })().catch((e: unknown) => {
      client = undefined;
      throw e;
    });
    return client;
  }

  return {
    async publish(message: OutgoingMessage): Promise<string> {
      const { topic } = await connect();
      const data = Buffer.from(JSON.stringify(message.body), 'utf8');
      let last: unknown;
      for (let attempt = 1; attempt <= o.maxAttempts; attempt++) {
        if (attempt > 1) await o.sleep(o.backoffMs * 2 ** (attempt - 2));
        try {
          return await topic.publishMessage({ data, attributes: { ...message.attributes } });
        } catch (e) {
          last = e;
        }
      }
      const code = typeof last === 'object' && last !== null && 'code' in last ? ` (gRPC code ${String((last as { code: unknown }).code)})` : '';
      throw new PublishFailed(`publishing to ${o.topicPath} failed after ${o.maxAttempts} attempts${code}`, { cause: last });
    },
    async close() {
      const c = client;
      client = undefined;
      if (c) await (await c.catch(() => undefined))?.pubsub.close();
    },
  };
}

function checkOptions(options: PubSubNotifierOptions) {
  const { maxAttempts = 3, attemptTimeoutMs = 2000, backoffMs = 200, sleep = (ms: number) => delay(ms) } = options;
  let projectId = options.projectId;
  let topicName = options.topic;
  const full = TOPIC.exec(options.topic ?? '');
  if (full) {
    if (projectId !== undefined && projectId !== full[1]) throw new TypeError(`createPubSubNotifier: topic ${options.topic} is not in project ${projectId}`);
    projectId = full[1];
    topicName = full[2]!;
  } else if (!TOPIC_NAME.test(options.topic ?? '') || !projectId) {
    throw new TypeError('createPubSubNotifier: topic must be projects/PROJECT/topics/TOPIC, or a topic name with projectId');
  }
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new TypeError('createPubSubNotifier: maxAttempts must be a positive integer');
  if (!(attemptTimeoutMs > 0)) throw new TypeError('createPubSubNotifier: attemptTimeoutMs must be positive');
  if (options.apiEndpoint !== undefined && !/^[\w.-]+:\d{1,5}$|^\[[0-9a-f:]+\]:\d{1,5}$/i.test(options.apiEndpoint)) {
    throw new TypeError('createPubSubNotifier: apiEndpoint must be host:port');
  }
  return {
    projectId: projectId!,
    topicName,
    topicPath: `projects/${projectId}/topics/${topicName}`,
    apiEndpoint: options.apiEndpoint,
    maxAttempts,
    attemptTimeoutMs,
    backoffMs,
    sleep,
  };
}
