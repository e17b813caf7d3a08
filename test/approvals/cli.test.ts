// `gatehouse approvals list|show|approve|reject` against a running gateway, as a person uses it:
// the real CLI entry in a child process, with a token minted for them.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { startTestGateway, testPolicy, withBotWriteApproval, type TestGateway } from '../helpers/gateway.ts';

const run = promisify(execFile);
const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
let gw: TestGateway;

test.before(async () => {
  gw = await startTestGateway({
    seedSql: 'CREATE TABLE notes (id int, body text)',
    policy: (issuer) =>
      withBotWriteApproval(testPolicy(issuer)),
  });
});
test.after.always(async () => {
  await gw?.close();
});

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'bin/gatehouse.ts', ...args], { env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

async function hold(params: unknown[]) {
  const r = await gw.post('/v1/query', { connection: 'main', sql: 'INSERT INTO notes VALUES ($1, $2)', params }, { authorization: `Bearer ${await gw.token(BOT)}`, 'x-agent-model': 'test-model' });
  return r.body.approval.id as string;
}

test('list, show and approve with the caller token; the approval is then used by the bot', async (t) => {
  const id = await hold([1, 'cli']);
  const alice = await gw.token('alice@acme.com');
  const list = await cli(['approvals', 'list', '--url', gw.url, '--token', alice, '--json']);
  t.is(list.code, 0, list.stderr);
  t.true(JSON.parse(list.stdout).some((a: any) => a.id === id));
  const table = await cli(['approvals', 'list', '--url', gw.url], { GATEHOUSE_TOKEN: alice });
  t.regex(table.stdout, new RegExp(`${id}\\s+pending\\s+0/1\\s+proven\\s+${BOT}`));
  const show = await cli(['approvals', 'show', id, '--url', gw.url, '--token', alice]);
  t.regex(show.stdout, /risk\s+write/);
  t.regex(show.stdout, /params\s+\[1,"cli"\]/);
  const approve = await cli(['approvals', 'approve', id, '--comment', 'fine by me', '--url', gw.url, '--token', alice]);
  t.is(approve.code, 0, approve.stderr);
  t.regex(approve.stdout, new RegExp(`${id}: approved; status approved; recorded in session`));
  const runIt = await gw.post('/v1/query', { connection: 'main', sql: 'INSERT INTO notes VALUES ($1, $2)', params: [1, 'cli'], approvalId: id }, { authorization: `Bearer ${await gw.token(BOT)}`, 'x-agent-model': 'test-model' });
  t.is(runIt.status, 200);
});

test('refusals show the stable code and exit non-zero; --comment is required; no token is a clear error', async (t) => {
  const id = await hold([2, 'cli']);
  const noComment = await cli(['approvals', 'approve', id, '--url', gw.url, '--token', 'x']);
  t.not(noComment.code, 0);
  t.regex(noComment.stderr, /--comment/);
  const self = await cli(['approvals', 'reject', id, '--comment', 'mine', '--url', gw.url, '--token', await gw.token(BOT)]);
  t.is(self.code, 1);
  t.regex(self.stderr, /\[self_approval\].*recorded as session/);
  const noToken = await cli(['approvals', 'list', '--url', gw.url], { GATEHOUSE_TOKEN: '' });
  t.is(noToken.code, 1);
  t.regex(noToken.stderr, /token is required/);
  const rejected = await cli(['approvals', 'reject', id, '--comment', 'no', '--url', gw.url, '--token', await gw.token('alice@acme.com'), '--json']);
  t.is(JSON.parse(rejected.stdout).status, 'rejected');
});
