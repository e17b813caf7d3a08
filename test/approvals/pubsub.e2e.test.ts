// The Pub/Sub notifier against Google's Pub/Sub emulator (a real gRPC server, the real client
// library): what is published, and what happens when Pub/Sub is down when an approval is asked —
// the approval is stored, the session says the notification is pending, and it is published once
// Pub/Sub answers again. The outage is real too: the notifier talks to a port where nothing
// listens, then to a proxy to the emulator opened on that same port.
import { randomUUID } from 'node:crypto';
import test from 'ava';
import type { Message, PubSub, Subscription } from '@google-cloud/pubsub';
import { createPubSubNotifier } from '../../shared/adapters/pubsub/index.ts';
import { approvalMessage } from '../../shared/approvals/message.ts';
import { freePort } from '../../infra/free-port.ts';
import { startTestGateway, testPolicy, withBotWriteApproval, TEST_MASKING_KEY, TEST_SIGNING_KEY, type TestGateway } from '../helpers/gateway.ts';
import { EMULATOR_PROJECT, pubSubEmulatorHost, skipWithoutEmulator } from '../helpers/pubsub-emulator.ts';
import { tcpProxy } from '../helpers/tcp-proxy.ts';
import { createTestDatabase } from '../helpers/pg.ts';
import { createRuntime } from '../../shared/config.ts';
import { createPostgresApprovalStore } from '../../shared/adapters/postgres-store/index.ts';
import { parsePolicy } from '../../shared/policy/index.ts';
import { approval } from './approval-store.contract.ts';
import { held } from './fixtures.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const model = { 'x-agent-model': 'gemini-2.5-pro-002' };
const approvePolicy = (issuer: string) => withBotWriteApproval(testPolicy(issuer), { ttl: '10m' });

if (!skipWithoutEmulator('Pub/Sub notifier (test/approvals/pubsub.e2e.test.ts)')) {
  const host = pubSubEmulatorHost()!;
  let admin: PubSub;
  const closers: (() => Promise<unknown>)[] = [];

  test.before(async () => {
    const { PubSub } = await import('@google-cloud/pubsub');
    admin = new PubSub({ projectId: EMULATOR_PROJECT, apiEndpoint: host });
  });
  test.after.always(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await admin?.close();
  });

  /** A fresh topic with a pull subscription; `next(n)` waits for n messages and acks them. */
  async function topicWithSubscription() {
    const name = `approvals-${randomUUID().slice(0, 8)}`;
    const [topic] = await admin.createTopic(name);
    const [subscription] = await topic.createSubscription(`${name}-sub`);
    const received: Message[] = [];
    const waiters: (() => void)[] = [];
    subscription.on('message', (m: Message) => {
      m.ack();
      received.push(m);
      for (const w of waiters.splice(0)) w();
    });
    subscription.on('error', () => {});
    closers.push(() => (subscription as Subscription).close());
    const next = async (count: number, timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`only ${received.length} of ${count} message(s) arrived`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
      return received.slice(0, count);
    };
    return { path: `projects/${EMULATOR_PROJECT}/topics/${name}`, next, received };
  }

  test('publish: the JSON body and the connection / risk-class attributes arrive as sent', async (t) => {
    const { path, next } = await topicWithSubscription();
    const notifier = createPubSubNotifier({ topic: path, apiEndpoint: host });
    closers.push(() => notifier.close());
    const message = approvalMessage(held(), 'https://gatehouse.example/v1/approvals/ap-1');
    const id = await notifier.publish(message);
    const [m] = await next(1);
    t.is(m!.id, id);
    t.deepEqual(JSON.parse(m!.data.toString('utf8')), message.body);
    t.deepEqual(m!.attributes, { connection: 'main', riskClass: 'write', approvalId: 'ap-1' });
  });

  test('a publish to a closed port fails within its bounds, instead of the library retrying for minutes', async (t) => {
    const notifier = createPubSubNotifier({ topic: `projects/${EMULATOR_PROJECT}/topics/nowhere`, apiEndpoint: `127.0.0.1:${await freePort()}`, maxAttempts: 3, backoffMs: 50 });
    closers.push(() => notifier.close());
    const started = Date.now();
    const e = await t.throwsAsync(notifier.publish(approvalMessage(held(), 'http://x/v1/approvals/ap-1')));
    t.regex(e!.message, /failed after 3 attempts/);
    t.true(Date.now() - started < 10_000, `gave up after ${Date.now() - started} ms`);
  });

  test('the gateway publishes each approval request; the approval records the message id', async (t) => {
    const { path, next } = await topicWithSubscription();
    const gw = await startTestGateway({
      seedSql: 'CREATE TABLE notes (id int, body text)',
      policy: approvePolicy,
      notifier: { kind: 'pubsub', topic: path, apiEndpoint: host },
    });
    closers.push(() => gw.close());
    const r = await gw.post('/v1/query', { connection: 'main', sql: 'INSERT INTO notes VALUES ($1, $2)', params: [1, 'x'] }, { authorization: `Bearer ${await gw.token(BOT)}`, ...model });
    t.is(r.status, 202, JSON.stringify(r.body));
    const [m] = await next(1);
    const body = JSON.parse(m!.data.toString('utf8'));
    t.like(body, { approvalId: r.body.approval.id, sessionId: r.body.sessionId, sql: 'INSERT INTO notes VALUES ($1, $2)', model: 'gemini-2.5-pro-002', risk: { class: 'write' } });
    t.is(body.reviewUrl, `${gw.url}/v1/approvals/${r.body.approval.id}`);
    t.deepEqual(m!.attributes, { connection: 'main', riskClass: 'write', approvalId: r.body.approval.id });
    const stored = await gw.runtime.approvals!.store.get(r.body.approval.id);
    t.like(stored!.notification, { state: 'published', messageId: m!.id, attempts: 1 });
  });

  test('Pub/Sub down when an approval is requested: stored, the session says pending, retried and published once it is back', async (t) => {
    const { path, next, received } = await topicWithSubscription();
    const [emHost, emPort] = host.split(':') as [string, string];
    const proxy = tcpProxy(await freePort(), { host: emHost, port: Number(emPort) }); // closed: nothing listens yet
    closers.push(() => proxy.close());
    const gw = await startTestGateway({
      seedSql: 'CREATE TABLE notes (id int, body text)',
      policy: approvePolicy,
      notifier: { kind: 'pubsub', topic: path, apiEndpoint: `127.0.0.1:${proxy.port}`, maxAttempts: 2, attemptTimeoutMs: 1000 },
      republishIntervalMs: 250,
      backoffMs: () => 200,
    });
    closers.push(() => gw.close());

    const started = Date.now();
    const r = await gw.post('/v1/query', { connection: 'main', sql: 'INSERT INTO notes VALUES ($1, $2)', params: [2, 'y'] }, { authorization: `Bearer ${await gw.token(BOT)}`, ...model });
    t.is(r.status, 202, JSON.stringify(r.body));
    t.true(Date.now() - started < 5000, 'the bot is answered without waiting for Pub/Sub');
    const events = await gw.runtime.sessions.read(r.body.sessionId);
    t.deepEqual(events.map((e) => e.type), ['request', 'analysis', 'decision', 'approval.requested']);
    t.deepEqual((events[3]!.data as any).notification, { state: 'pending' });
    const pending = await gw.runtime.approvals!.store.get(r.body.approval.id);
    t.is(pending!.notification.state, 'pending');
    t.true(pending!.notification.attempts >= 1);
    t.regex(pending!.notification.lastError ?? '', /failed after 2 attempts/);
    await new Promise((res) => setTimeout(res, 1000));
    t.is(received.length, 0, 'nothing got through while Pub/Sub was down');
    t.is((await gw.runtime.approvals!.store.get(r.body.approval.id))!.notification.state, 'pending', 'still pending, still retried');

    await proxy.open(); // Pub/Sub is back
    const [m] = await next(1, 60_000);
    t.is(JSON.parse(m!.data.toString('utf8')).approvalId, r.body.approval.id);
    let published;
    for (let i = 0; i < 50; i++) {
      published = await gw.runtime.approvals!.store.get(r.body.approval.id);
      if (published?.notification.state === 'published') break;
      await new Promise((res) => setTimeout(res, 100));
    }
    t.like(published!.notification, { state: 'published', messageId: m!.id });
    t.log(`published after ${published!.notification.attempts} attempts`);
  });

  test('POST /v1/approvals/republish publishes what is pending now, without any timer; a token is required', async (t) => {
    const { path, next, received } = await topicWithSubscription();
    const [emHost, emPort] = host.split(':') as [string, string];
    const proxy = tcpProxy(await freePort(), { host: emHost, port: Number(emPort) }); // Pub/Sub down
    closers.push(() => proxy.close());
    const gw = await startTestGateway({
      seedSql: 'CREATE TABLE notes (id int, body text)',
      policy: approvePolicy,
      notifier: { kind: 'pubsub', topic: path, apiEndpoint: `127.0.0.1:${proxy.port}`, maxAttempts: 2, attemptTimeoutMs: 1000 },
      republishIntervalMs: 0, // as on GCP between requests: no timer runs
      backoffMs: () => 0,
    });
    closers.push(() => gw.close());
    const asBot = { authorization: `Bearer ${await gw.token(BOT)}`, ...model };
    const r = await gw.post('/v1/query', { connection: 'main', sql: 'INSERT INTO notes VALUES ($1, $2)', params: [3, 'z'] }, asBot);
    t.is(r.status, 202, JSON.stringify(r.body));
    t.is((await gw.runtime.approvals!.store.get(r.body.approval.id))!.notification.state, 'pending');
    await proxy.open(); // Pub/Sub is back, but nothing would publish on its own
    await new Promise((res) => setTimeout(res, 500));
    t.is(received.length, 0);

    const anonymous = await gw.post('/v1/approvals/republish', {}, {});
    t.is(anonymous.status, 401);
    t.is(anonymous.body.error.code, 'token_missing');
    t.is(received.length, 0, 'an unauthenticated call publishes nothing');

    // The client's channel may still be backing off from the outage: a pass that cannot publish
    // says so (failed: 1) and leaves it pending, as the scheduler's next call would find it.
    let first;
    for (let i = 0; i < 30; i++) {
      first = await gw.post('/v1/approvals/republish', {}, asBot);
      t.is(first.status, 200, JSON.stringify(first.body));
      if (first.body.published === 1) break;
      t.deepEqual(first.body, { published: 0, failed: 1 });
      await new Promise((res) => setTimeout(res, 500));
    }
    t.deepEqual(first!.body, { published: 1, failed: 0 });
    const [m] = await next(1);
    t.is(JSON.parse(m!.data.toString('utf8')).approvalId, r.body.approval.id);
    t.like((await gw.runtime.approvals!.store.get(r.body.approval.id))!.notification, { state: 'published', messageId: m!.id });
    const again = await gw.post('/v1/approvals/republish', {}, asBot);
    t.deepEqual(again.body, { published: 0, failed: 0 }, 'a second pass finds nothing due');
    t.is((await gw.get('/v1/approvals/republish', asBot)).status, 405);
  });

  test('a notification an earlier process left pending is published when the next one starts', async (t) => {
    const { path, next } = await topicWithSubscription();
    const [sessionsDb, stateDb] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    closers.push(() => sessionsDb.drop(), () => stateDb.drop());
    // What a process that could not reach Pub/Sub leaves behind: a pending approval, due.
    const earlier = await createPostgresApprovalStore({ connectionString: stateDb.url });
    const left = approval({ notification: { state: 'pending', attempts: 3, nextAttemptAt: new Date(Date.now() - 1000).toISOString(), lastError: 'UNAVAILABLE' } });
    await earlier.create(left);
    await earlier.close();

    const runtime = await createRuntime({
      policy: parsePolicy(testPolicy('http://127.0.0.1:9/dev'), 'test-policy.yaml'),
      sessionStore: { kind: 'postgres', url: sessionsDb.url },
      env: { GATEHOUSE_TEST_TARGET_URL: sessionsDb.url, GATEHOUSE_TEST_MASKING_KEY: TEST_MASKING_KEY, GATEHOUSE_TEST_SIGNING_KEY: TEST_SIGNING_KEY },
      maskingKey: 'env://GATEHOUSE_TEST_MASKING_KEY',
      approvals: {
        store: { kind: 'postgres', url: stateDb.url },
        notifier: { kind: 'pubsub', topic: path, apiEndpoint: host },
        publicUrl: 'https://gatehouse.example',
        republishIntervalMs: 0, // no timer: only the pass at start
        log: () => {},
        signingKey: 'env://GATEHOUSE_TEST_SIGNING_KEY',
      },
    });
    closers.push(() => runtime.close());
    const [m] = await next(1);
    t.is(JSON.parse(m!.data.toString('utf8')).approvalId, left.id);
    let stored;
    for (let i = 0; i < 50 && stored?.notification.state !== 'published'; i++) {
      await new Promise((res) => setTimeout(res, 100));
      stored = await runtime.approvals!.store.get(left.id);
    }
    t.like(stored!.notification, { state: 'published', messageId: m!.id, attempts: 4 });
  });
}
