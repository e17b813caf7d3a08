// Embedded mode's notifier (`gatehouse start`): each approval request is written to the console,
// and, when webhooks are configured, posted from the gateway's own process by the same delivery
// code as the notify function — once per approval and channel.
import test from 'ava';
import { startTestGateway, testPolicy, withBotWriteApproval, type TestGateway } from '../helpers/gateway.ts';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
let gw: TestGateway;
let slack: Receiver;
let hook: Receiver;
const lines: string[] = [];

test.before(async () => {
  [slack, hook] = await Promise.all([startReceiver(), startReceiver()]);
  gw = await startTestGateway({
    seedSql: 'CREATE TABLE notes (id int, body text)',
    policy: (issuer) =>
      withBotWriteApproval(testPolicy(issuer)),
    notifier: { kind: 'local', log: (l) => lines.push(l) },
    webhooks: { slack: 'env://TEST_SLACK_URL', webhook: 'env://TEST_HOOK_URL' },
    env: { TEST_SLACK_URL: slack.url, TEST_HOOK_URL: hook.url },
  });
});
test.after.always(async () => {
  await gw?.close();
  await Promise.all([slack?.close(), hook?.close()]);
});

test('a held statement is announced on the console and posted once to each configured webhook', async (t) => {
  const r = await gw.post('/v1/query', { connection: 'main', sql: 'INSERT INTO notes VALUES ($1, $2)', params: [1, 'x'] }, { authorization: `Bearer ${await gw.token(BOT)}`, 'x-agent-model': 'test-model' });
  t.is(r.status, 202);
  const id = r.body.approval.id as string;
  const line = lines.find((l) => l.includes(id));
  t.truthy(line);
  t.regex(line!, /requested: write on main by review-bot@/);
  t.regex(line!, new RegExp(`npx gatehouse approvals show ${id}`));
  for (let i = 0; i < 50 && (slack.posts.length === 0 || hook.posts.length === 0); i++) await new Promise((res) => setTimeout(res, 100));
  t.is(slack.posts.filter((p) => p.approvalId === id).length, 1);
  t.is(hook.posts.filter((p) => p.approvalId === id).length, 1);
  t.is(hook.posts[0]!.body.sql, 'INSERT INTO notes VALUES ($1, $2)');
  // Publishing the same request again (what the republisher may do) posts nothing new.
  const stored = (await gw.runtime.approvals!.store.get(id))!;
  const { approvalMessage } = await import('../../shared/approvals/message.ts');
  await gw.runtime.approvals!.workflow.notifier.publish(approvalMessage(stored, 'http://x'));
  await gw.runtime.approvals!.workflow.notifier.close(); // waits for in-process deliveries
  t.is(slack.posts.filter((p) => p.approvalId === id).length, 1);
  t.is(hook.posts.filter((p) => p.approvalId === id).length, 1);
});
