// Attack review of issue 14: an approval at exactly its expiry instant. The row's status (state.ts),
// the desk's vote and the redemption's log check (logged.ts checkQuorum, signedApprovers) must all
// read the same instant as expired — a `>` in one place and `>=` in another would let a vote be
// signed, or a statement run, at the instant everything else calls expired. The approvals' clock
// is frozen at chosen instants; tokens keep the real one.
import test from 'ava';
import pg from 'pg';
import { botApprovalPolicy } from './bot-approval-policy.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const model = { 'x-agent-model': 'gemini-2.5-pro-002' };

let gw: TestGateway;
let frozen: number | undefined;
test.before(async () => {
  gw = await startTestGateway({ seedSql: 'CREATE TABLE runs (tag text NOT NULL)', policy: botApprovalPolicy, clock: () => new Date(frozen ?? Date.now()) });
});
test.after.always(async () => {
  await gw?.close();
});

const auth = async (sub: string) => ({ authorization: `Bearer ${await gw.token(sub, { email: sub, groups: sub === BOT ? [] : ['dba'] })}` });
const ran = async (tag: string) => Number((await gw.sql('SELECT count(*) AS n FROM runs WHERE tag = $1', [tag])).rows[0].n);

async function held(tag: string) {
  const sql = `INSERT INTO runs (tag) VALUES ('${tag}')`;
  const r = await gw.post('/v1/query', { connection: 'main', sql }, { ...(await auth(BOT)), ...model });
  if (r.status !== 202) throw new Error(`expected 202, got ${r.status} ${JSON.stringify(r.body)}`);
  return { sql, id: r.body.approval.id as string, sessionId: r.body.sessionId as string, expiresAt: Date.parse(r.body.approval.expiresAt) };
}
const redeem = async (h: { sql: string; id: string }) => gw.post('/v1/query', { connection: 'main', sql: h.sql, approvalId: h.id }, { ...(await auth(BOT)), ...model });
const approve = async (id: string, who: string) => gw.post(`/v1/approvals/${id}/approve`, { comment: 'ok' }, await auth(who));

test.serial('at exactly the expiry instant a vote is refused (approval_expired), recorded, and nothing is signed', async (t) => {
  const h = await held('instant-vote');
  frozen = h.expiresAt;
  try {
    const r = await approve(h.id, 'alice@acme.com');
    t.is(r.status, 409, JSON.stringify(r.body));
    t.is(r.body.error.code, 'approval_expired');
    t.truthy(r.body.sessionId, 'the attempt is recorded');
    t.false((await gw.runtime.sessions.read(h.sessionId)).some((e) => e.type === 'approval.granted'));
  } finally {
    frozen = undefined;
  }
});

test.serial('approved one millisecond before expiry: redeemed at exactly the expiry instant it runs nothing; a millisecond before, it runs once', async (t) => {
  const late = await held('instant-late');
  const onTime = await held('instant-on-time');
  for (const h of [late, onTime]) {
    frozen = h.expiresAt - 1;
    t.is((await approve(h.id, 'alice@acme.com')).status, 200);
  }
  try {
    frozen = late.expiresAt;
    const r = await redeem(late);
    t.is(r.status, 409, JSON.stringify(r.body));
    t.is(r.body.error.code, 'approval_expired');
    const decision = (await gw.runtime.sessions.read(r.body.sessionId)).find((e) => e.type === 'decision')!.data as { action: string; approval: { error: { code: string } } };
    t.like(decision, { action: 'deny', approval: { error: { code: 'approval_expired' } } }, 'the refusal is the redemption\'s recorded decision');
    t.is(await ran('instant-late'), 0);

    frozen = onTime.expiresAt - 1;
    const ok = await redeem(onTime);
    t.is(ok.status, 200, JSON.stringify(ok.body));
    t.is(await ran('instant-on-time'), 1);
  } finally {
    frozen = undefined;
  }
});

test.serial('a redemption that waits on the approval\'s row lock across the expiry instant runs nothing: expiry is read once the lock is held', async (t) => {
  const h = await held('instant-lock-wait');
  frozen = h.expiresAt - 5000;
  t.is((await approve(h.id, 'alice@acme.com')).status, 200);
  // Someone holds the approval's row lock (a concurrent vote or redemption, here a plain
  // transaction in the approval store's database) while the bot presents the approval a moment
  // before expiry; the lock is let go only after the expiry instant.
  const blocker = new pg.Client({ connectionString: gw.state.url });
  await blocker.connect();
  try {
    await blocker.query('BEGIN');
    await blocker.query('SELECT 1 FROM gatehouse_approvals WHERE approval_id = $1 FOR UPDATE', [h.id]);
    frozen = h.expiresAt - 1;
    const pending = redeem(h);
    await waitForLockWaiter(blocker);
    frozen = h.expiresAt + 60_000;
    await blocker.query('COMMIT');
    const r = await pending;
    t.is(r.status, 409, JSON.stringify(r.body));
    t.is(r.body.error?.code, 'approval_expired');
    t.is(await ran('instant-lock-wait'), 0);
  } finally {
    frozen = undefined;
    await blocker.end();
  }
});

/** Until a gatehouse connection waits on a row lock in the approval store's database. */
async function waitForLockWaiter(client: pg.Client): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await client.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name = 'gatehouse-approvals'");
    if (rows[0].n > 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('the redemption never waited on the row lock');
}

test.serial('a genuine request copied into a session of the attacker\'s own with a ten-year approval.requested is not signed and runs nothing', async (t) => {
  // The attacker holds INSERT on the session log and on the approval store, not the digest key:
  // a copy of a genuine request (digest and all) under a new approval id, expiring in ten years,
  // with a row to match. The digest binds the approval id and session (digest.ts); before it did,
  // one real vote made the copy redeemable for years (test/approvals/lifetime.test.ts covers
  // the ttl bound that stays behind it).
  const h = await held('ttl-forged');
  const genuine = (await gw.runtime.approvals!.store.get(h.id))!;
  const id = `forged-ttl-${Date.now()}`;
  const sessionId = `forged-ttl-session-${Date.now()}`;
  const tenYears = new Date(Date.now() + 10 * 365 * 86_400_000).toISOString();
  const events = await gw.runtime.sessions.read(h.sessionId);
  await gw.runtime.sessions.append(
    sessionId,
    events.map((e) => ({ type: e.type, data: e.type === 'approval.requested' ? { ...(e.data as object), approvalId: id, expiresAt: tenYears } : e.data })),
  );
  await gw.runtime.approvals!.store.create({ ...genuine, id, sessionId, expiresAt: tenYears });
  const vote = await approve(id, 'alice@acme.com');
  t.is(vote.status, 409, JSON.stringify(vote.body));
  t.is(vote.body.error?.details?.reason, 'digest_not_statement');
  await gw.runtime.approvals!.store.update(id, (a) => ({ ...a, state: 'approved' }));
  for (const offset of [0, 86_400_000, 365 * 86_400_000]) {
    frozen = Date.now() + offset;
    try {
      const r = await redeem({ sql: h.sql, id });
      t.is(r.status, 409, `${offset}: ${JSON.stringify(r.body)}`);
      t.is(r.body.error?.code, 'approval_mismatch');
    } finally {
      frozen = undefined;
    }
  }
  t.is(await ran('ttl-forged'), 0);
  // The genuine approval of the same statement still runs once.
  t.is((await approve(h.id, 'alice@acme.com')).status, 200);
  const r = await redeem(h);
  t.is(r.status, 200, JSON.stringify(r.body));
  t.is(await ran('ttl-forged'), 1);
});
