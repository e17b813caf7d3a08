// Attack review (second round) of GET /v1/approvals: the desk read at most the 500 oldest rows of
// the store for a status, then kept those the caller may see, then `limit` (up to 999) of them —
// and said nothing of what it left out. Whoever holds the approval store's INSERT right could add
// 500 well-formed pending rows, older than every genuine one and decidable by nobody: a reviewer
// (not an auditor) listed pending approvals and got an empty list, every genuine request silently
// hidden. And without any attacker, `limit=999` over 600 pending rows listed 500. Now the desk
// reads up to 1,000 rows (what `limit` allows), and the answer says `truncated: true` when rows
// may be left out — the store held more than were read, or more were visible than `limit` — and
// the CLI table says so below the rows. PostgreSQL store (the listing is the desk's).
import test from 'ava';
import type { Approval } from '../../shared/approvals/types.ts';
import { listApprovalsCommand } from '../../shared/cli/approvals.ts';
import { gatewayForFile } from './bot-approval-policy.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const model = { 'x-agent-model': 'gemini-2.5-pro-002' };

const gateway = gatewayForFile();

const aliceToken = () => gateway().token('alice@acme.com', { groups: ['dba'], email: 'alice@acme.com' });
const store = () => gateway().runtime.approvals!.store;

async function held(tag: string) {
  const r = await gateway().post('/v1/query', { connection: 'main', sql: `INSERT INTO runs (tag) VALUES ('${tag}')` }, { authorization: `Bearer ${await gateway().token(BOT)}`, ...model });
  if (r.status !== 202) throw new Error(`expected 202, got ${r.status} ${JSON.stringify(r.body)}`);
  return { sessionId: r.body.sessionId as string, id: r.body.approval.id as string };
}

/** n copies of `base` written with the store's INSERT right, each a minute older than it and each other. */
async function flood(base: Approval, n: number, tag: string, change: (a: Approval) => Approval): Promise<void> {
  const t0 = Date.parse(base.createdAt) - 60_000 * (n + 1);
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, (_, j) => store().create(change({ ...base, id: `${tag}-${i + j}`, createdAt: new Date(t0 + 60_000 * (i + j)).toISOString() }))),
    );
  }
}

async function list(limit: number) {
  const r = await gateway().get(`/v1/approvals?status=pending&limit=${limit}`, { authorization: `Bearer ${await aliceToken()}` });
  if (r.status !== 200) throw new Error(`expected 200, got ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as { approvals: { id: string }[]; truncated?: boolean };
}

// One test (serial): the rows of both floods are in one store.
test('older rows nobody may decide no longer empty a reviewer\'s listing silently; limit=999 lists more than 500', async (t) => {
  const genuine = await held('truncated-genuine');
  const base = (await store().get(genuine.id))!;

  // 600 rows alice may see (copies; the log proves none of them): limit=999 lists them all and the genuine one.
  await flood(base, 600, 'visible-copy', (a) => a);
  const all = await list(999);
  t.is(all.approvals.length, 601);
  t.true(all.approvals.some((a) => a.id === genuine.id), 'the genuine row is listed');
  t.false(all.truncated, 'everything the store holds was listed');
  const some = await list(10);
  t.is(some.approvals.length, 10);
  t.true(some.truncated, 'more were visible than limit: said so');

  // 1,000 older rows decidable by nobody and not alice's own: the first 1,000 read are all invisible to her.
  await flood(base, 1000, 'invisible', (a) => ({ ...a, approvers: ['group:nobody-here'], requester: { ...a.requester, subject: 'someone-else' } }));
  const hidden = await list(999);
  t.false(hidden.approvals.some((a) => a.id === genuine.id), 'the 1,000 rows read are the attacker\'s');
  t.true(hidden.truncated, 'but the listing says rows were left out');
  const table = await listApprovalsCommand({ url: gateway().url, token: await aliceToken() }, 'pending', false);
  t.regex(table, /truncated/i, table.slice(-400));
  const json = JSON.parse(await listApprovalsCommand({ url: gateway().url, token: await aliceToken() }, 'pending', true)) as unknown[];
  t.true(Array.isArray(json), '--json stays the array of rows');
});
