// functions/notify.ts end to end, as deployed: Google's Pub/Sub emulator delivers through a push
// subscription to the Functions Framework (its own server, `getTestServer`), which turns the push
// into the CloudEvent our handler gets; the handler posts to webhook receivers on local HTTP
// servers, keeping "posted once" in the real PostgreSQL approval store. One test also calls the
// handler directly with a message pulled from the emulator, to deliver it twice at the same time.
import type { Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import test from 'ava';
import * as ff from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import type { Message, PubSub } from '@google-cloud/pubsub';
import { notifyHandler } from '../../functions/notify.ts';
import { createPostgresApprovalStore } from '../../shared/adapters/postgres-store/index.ts';
import { createPubSubNotifier } from '../../shared/adapters/pubsub/index.ts';
import { webhookChannels } from '../../shared/adapters/webhooks/index.ts';
import { createEnvSecrets } from '../../shared/adapters/secrets/index.ts';
import { approvalMessage } from '../../shared/approvals/message.ts';
import { castVote } from '../../shared/approvals/state.ts';
import type { DeliveryDeps } from '../../shared/approvals/delivery.ts';
import type { ApprovalStore } from '../../shared/ports.ts';
import { freePort } from '../../infra/free-port.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';
import { EMULATOR_PROJECT, pubSubEmulatorHost, skipWithoutEmulator } from '../helpers/pubsub-emulator.ts';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.ts';
import { approval } from './approval-store.contract.ts';
import { alice } from './fixtures.ts';

if (!skipWithoutEmulator('notify function (test/approvals/notify.e2e.test.ts)')) {
  const host = pubSubEmulatorHost()!;
  let admin: PubSub;
  let db: TestDatabase;
  let store: ApprovalStore;
  let slack: Receiver;
  let hook: Receiver;
  let fnServer: Server;
  let fnUrl: string;
  let deps: DeliveryDeps;
  const closers: (() => Promise<unknown>)[] = [];

  test.before(async () => {
    const { PubSub } = await import('@google-cloud/pubsub');
    admin = new PubSub({ projectId: EMULATOR_PROJECT, apiEndpoint: host });
    db = await createTestDatabase();
    store = await createPostgresApprovalStore({ connectionString: db.url });
    [slack, hook] = await Promise.all([startReceiver(), startReceiver()]);
    // The webhook URLs come through a SecretSource, as in deployment (env:// here, secret:// there).
    const secrets = createEnvSecrets({ SLACK_URL: slack.url, HOOK_URL: hook.url });
    const channels = webhookChannels({ secrets, slack: 'env://SLACK_URL', webhook: 'env://HOOK_URL', post: { attempts: 2, backoffMs: 20, timeoutMs: 15_000 } });
    deps = { store, channels, clock: () => new Date() };
    ff.cloudEvent('notify-under-test', notifyHandler(deps, () => {}));
    fnServer = getTestServer('notify-under-test');
    const port = await freePort();
    await new Promise<void>((r) => fnServer.listen(port, '127.0.0.1', () => r()));
    fnUrl = `http://127.0.0.1:${port}`;
  });
  test.after.always(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    fnServer?.closeAllConnections();
    await new Promise((r) => fnServer?.close(r));
    await Promise.all([slack?.close(), hook?.close()]);
    await store?.close();
    await db?.drop();
    await admin?.close();
  });

  /** A topic whose push subscription delivers to the Functions Framework, as Eventarc would. */
  async function pushTopic() {
    const name = `approvals-${randomUUID().slice(0, 8)}`;
    const [topic] = await admin.createTopic(name);
    // The Functions Framework reads the topic from the push path, as Cloud Functions' own push does.
    await topic.createSubscription(`${name}-push`, { pushConfig: { pushEndpoint: `${fnUrl}/projects/${EMULATOR_PROJECT}/topics/${name}` }, ackDeadlineSeconds: 10 });
    const notifier = createPubSubNotifier({ topic: `projects/${EMULATOR_PROJECT}/topics/${name}`, apiEndpoint: host });
    closers.push(() => notifier.close());
    return notifier;
  }

  async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const postsFor = (r: Receiver, id: string) => r.posts.filter((p) => p.approvalId === id);

  test('two messages for one approval, pushed through the Functions Framework: Slack and the webhook each get one post', async (t) => {
    const notifier = await pushTopic();
    const a = approval();
    await store.create(a);
    const message = approvalMessage(a, `https://gatehouse.example/v1/approvals/${a.id}`);
    // The republisher can publish a request a second time (its first publish was not recorded).
    const ids = [await notifier.publish(message), await notifier.publish(message)];
    t.not(ids[0], ids[1]);
    await waitFor('both messages handled', async () => {
      const handled = (await store.get(a.id))!.delivery.handled;
      return ids.every((id) => handled.includes(id));
    });
    t.is(postsFor(slack, a.id).length, 1);
    t.is(postsFor(hook, a.id).length, 1);
    const posted = postsFor(hook, a.id)[0]!;
    t.deepEqual(posted.body, JSON.parse(JSON.stringify(message.body)), 'the webhook gets the message body as published');
    t.is(posted.headers['idempotency-key'], a.id);
    const slackText = JSON.stringify(postsFor(slack, a.id)[0]!.body);
    t.true(slackText.includes(a.id) && slackText.includes('Gatehouse: approval requested'));
    t.deepEqual(Object.keys((await store.get(a.id))!.delivery.posted).sort(), ['slack', 'webhook']);
  });

  test('the same message delivered again after a failed post: only the channel that failed is posted, once', async (t) => {
    const notifier = await pushTopic();
    const a = approval();
    await store.create(a);
    // The webhook fails both attempts of the first delivery: the function answers 500, and Pub/Sub
    // pushes the same message (same id) again; by then Slack is recorded as posted.
    hook.failNext(a.id, 2);
    const id = await notifier.publish(approvalMessage(a, 'https://gatehouse.example/x'));
    await waitFor('the message handled', async () => (await store.get(a.id))!.delivery.handled.includes(id), 60_000);
    t.is(postsFor(slack, a.id).length, 1);
    t.is(postsFor(hook, a.id).length, 1);
    const stored = (await store.get(a.id))!;
    t.is(stored.delivery.posted.slack!.messageId, id);
    t.is(stored.delivery.posted.webhook!.messageId, id, 'posted by the redelivery of the same message');
    t.is(stored.delivery.claim, undefined, 'the lease was released');
  });

  test('one real message handed to the handler twice at the same time (and once more later): one post per channel', async (t) => {
    const name = `approvals-${randomUUID().slice(0, 8)}`;
    const [topic] = await admin.createTopic(name);
    const [sub] = await topic.createSubscription(`${name}-pull`);
    const a = approval();
    await store.create(a);
    await topic.publishMessage({ json: approvalMessage(a, 'https://gatehouse.example/x').body });
    const m = await new Promise<Message>((resolve) => sub.once('message', resolve));
    m.ack();
    await sub.close();
    // The CloudEvent Eventarc would send for this message.
    const event = {
      specversion: '1.0',
      id: m.id,
      type: 'google.cloud.pubsub.topic.v1.messagePublished',
      source: `//pubsub.googleapis.com/projects/${EMULATOR_PROJECT}/topics/${name}`,
      data: { message: { data: m.data.toString('base64'), messageId: m.id, attributes: m.attributes }, subscription: `projects/${EMULATOR_PROJECT}/subscriptions/${name}-pull` },
    };
    const handle = notifyHandler(deps, () => {});
    const both = await Promise.allSettled([handle(event), handle(event)]);
    t.is(both.filter((r) => r.status === 'fulfilled' && r.value?.kind === 'posted').length, 1);
    // The other found the first one's lease: it refuses, so Pub/Sub would bring the message back.
    const other = both.find((r) => !(r.status === 'fulfilled' && r.value?.kind === 'posted'))!;
    t.true(other.status === 'rejected' || (other.value?.kind === 'skipped' && other.value.reason === 'already_posted'));
    t.like(await handle(event), { kind: 'skipped', reason: 'already_posted' });
    t.is(postsFor(slack, a.id).length, 1);
    t.is(postsFor(hook, a.id).length, 1);
  });

  test('an approval decided before anyone was told is not posted; a message that is not ours is acknowledged and ignored', async (t) => {
    const notifier = await pushTopic();
    const a = approval();
    await store.create(a);
    await store.update(a.id, (x) => castVote(x, { by: alice, verdict: 'approve', comment: 'seen in the CLI', now: new Date() }));
    const id = await notifier.publish(approvalMessage(a, 'https://gatehouse.example/x'));
    await waitFor('the message handled', async () => (await store.get(a.id))!.delivery.handled.includes(id));
    t.is(postsFor(slack, a.id).length + postsFor(hook, a.id).length, 0);
    const handle = notifyHandler(deps, () => {});
    t.is(await handle({ specversion: '1.0', id: 'x', type: 't', source: 's', data: { message: { data: Buffer.from('{"hello":1}').toString('base64'), messageId: 'x' } } }), undefined);
  });
}
