// Attack review of issue 14, listings: GET /v1/approvals and `gatehouse approvals list` read the
// approval store, which whoever holds the query path's UPDATE/INSERT rights can write. A row set
// to `approved` with a vote nobody cast, a row the gateway never created, or a DROP shown as
// harmless SQL was listed exactly like a genuine one — the reviewer picking from the list (or
// a script reading `--json`) was told a state the log does not hold. Each listed row now carries
// `log`, as GET /v1/approvals/:id does: whether the session log proves it, and if not, which check
// failed. PostgreSQL store only: the checks are store-independent (logged.ts, row-shown.ts).
import test from 'ava';
import type { Approval } from '../../shared/approvals/types.ts';
import { listApprovalsCommand } from '../../shared/cli/approvals.ts';
import { gatewayForFile } from './bot-approval-policy.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const model = { 'x-agent-model': 'gemini-2.5-pro-002' };

const gateway = gatewayForFile();

const auth = async (sub: string, o: { groups?: string[]; email?: string } = {}) => ({ authorization: `Bearer ${await gateway().token(sub, o)}` });
const asBot = async (body: unknown) => gateway().post('/v1/query', body, { ...(await auth(BOT)), ...model });
const aliceToken = () => gateway().token('alice@acme.com', { groups: ['dba'], email: 'alice@acme.com' });
const store = () => gateway().runtime.approvals!.store;

async function held(tag: string) {
  const r = await asBot({ connection: 'main', sql: `INSERT INTO runs (tag) VALUES ('${tag}')` });
  if (r.status !== 202) throw new Error(`expected 202, got ${r.status} ${JSON.stringify(r.body)}`);
  return { sessionId: r.body.sessionId as string, id: r.body.approval.id as string };
}

async function listed(status: string) {
  const r = await gateway().get(`/v1/approvals?status=${status}&limit=999`, { authorization: `Bearer ${await aliceToken()}` });
  if (r.status !== 200) throw new Error(`expected 200, got ${r.status} ${JSON.stringify(r.body)}`);
  return new Map((r.body.approvals as { id: string; status: string; sql: string; log?: { agrees: boolean; reason?: string } }[]).map((a) => [a.id, a]));
}

const fakeVote = () => ({ verdict: 'approve' as const, by: { issuer: gateway().issuer, subject: 'alice@acme.com', email: 'alice@acme.com' }, comment: 'lgtm', at: new Date().toISOString() });

test('a genuine row is listed as proven by the log; pending and after a signed approval', async (t) => {
  const h = await held('list-genuine');
  t.like((await listed('pending')).get(h.id), { status: 'pending', log: { agrees: true, signedVotes: 0 } });
  const vote = await gateway().post(`/v1/approvals/${h.id}/approve`, { comment: 'ok' }, { authorization: `Bearer ${await aliceToken()}` });
  t.is(vote.status, 200, JSON.stringify(vote.body));
  t.like((await listed('approved')).get(h.id), { status: 'approved', log: { agrees: true, signedVotes: 1 } });
});

test('a row set to approved with a vote nobody cast is listed as not proven (row_vote_not_in_log), in JSON and in the CLI table', async (t) => {
  const h = await held('list-forged-approved');
  await store().update(h.id, (a) => ({ ...a, state: 'approved', votes: [fakeVote()] }));
  const row = (await listed('approved')).get(h.id)!;
  t.is(row.status, 'approved', 'the store says approved: the listing shows the cache as it is');
  t.like(row.log, { agrees: false, reason: 'row_vote_not_in_log' });
  const json = JSON.parse(await listApprovalsCommand({ url: gateway().url, token: await aliceToken() }, 'approved', true)) as { id: string; log: unknown }[];
  t.like(json.find((a) => a.id === h.id), { log: { agrees: false, reason: 'row_vote_not_in_log' } });
  const table = await listApprovalsCommand({ url: gateway().url, token: await aliceToken() }, 'approved', false);
  const line = table.split('\n').find((l) => l.includes(h.id)) ?? '';
  t.regex(line, /NOT PROVEN \(row_vote_not_in_log\)/, table);
  t.regex(table, /log\b/, 'the table names the column');
});

test('a row the gateway never created is listed as not proven (not_in_log)', async (t) => {
  const h = await held('list-inserted-base');
  const base = (await store().get(h.id))!;
  const forged: Approval = { ...base, id: `forged-list-${Date.now()}`, sql: "INSERT INTO runs (tag) VALUES ('list-inserted')" };
  await store().create(forged);
  t.like((await listed('pending')).get(forged.id), { log: { agrees: false, reason: 'not_in_log' } });
  // The genuine row it was copied from is still proven: one bad row does not spoil the listing.
  t.like((await listed('pending')).get(h.id), { log: { agrees: true } });
});

test('a row whose SQL was rewritten to look harmless is listed as not proven (row_disagrees), in upper- and lower-case SQL', async (t) => {
  for (const benign of ['SELECT 1', 'select 1']) {
    const h = await held(`list-rewritten-${benign.length}-${benign[0]}`);
    await store().update(h.id, (a) => ({ ...a, sql: benign }));
    t.like((await listed('pending')).get(h.id), { sql: benign, log: { agrees: false, reason: 'row_disagrees' } });
  }
});

test('a pending row hidden from the pending list by setting it to rejected shows under status=all as not proven', async (t) => {
  const h = await held('list-hidden');
  await store().update(h.id, (a) => ({ ...a, state: 'rejected' }));
  t.false((await listed('pending')).has(h.id));
  t.like((await listed('all')).get(h.id), { status: 'rejected', log: { agrees: false, reason: 'row_disagrees' } });
});
