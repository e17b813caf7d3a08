// Attack review of issues 4 and 14 (fourth round): what an approval is worth once the world it was
// given in has changed. The digest binds the statement's text; the approvers were shown what that
// text meant then — its risk class and reasons, under the approver groups of the policy then. A
// second gateway instance (the same session log, approval store, target and keys, a fresh catalog
// cache and possibly a newer policy: another instance of the deployment, or the same one after a
// policy change) redeems the approval.
import test from 'ava';
import { startTestGateway, TEST_AUDIENCE, type TestGateway } from '../helpers/gateway.ts';
import { startSecondInstance } from './second-instance.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const model = { 'x-agent-model': 'gemini-2.5-pro-002' };

const policy = (dba: string[]) => (issuer: string) => `version: 1
issuers:
  - issuer: ${issuer}
    audience: ${TEST_AUDIENCE}
    jwksUri: ${issuer}/jwks.json
    groupsClaim: groups
groups:
  review-bots: [${BOT}]
  dba: [${dba.join(', ')}]
connections:
  main:
    credentials: env://GATEHOUSE_TEST_TARGET_URL
functions:
  - signature: public.tally(text)
    class: read
    reason: counts the runs of one tag, reads nothing else
rules:
  - name: bots-need-a-dba
    principals: [group:review-bots]
    classes: [read, write, unknown]
    action: approve
    approvers: [group:dba]
    quorum: 1
    ttl: 10m
  - name: nothing-else
    action: deny
agents:
  requireModel: true
  allowedModels: ["gemini-*"]
`;
const BOTH = policy(['alice@acme.com', 'bob@acme.com']);
const ALICE_ONLY = policy(['alice@acme.com']);

let gw: TestGateway;
test.before(async () => {
  gw = await startTestGateway({
    seedSql: `CREATE TABLE runs (tag text NOT NULL);
      CREATE FUNCTION public.tally(t text) RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM runs WHERE tag = t $$;`,
    policy: BOTH,
  });
});
test.after.always(async () => {
  await gw?.close();
});

// Group membership from the policy only (no groups claim): what a policy change can revoke.
const auth = async (sub: string) => ({ authorization: `Bearer ${await gw.token(sub, { email: sub })}` });
const ran = async (tag: string) => Number((await gw.sql('SELECT count(*) AS n FROM runs WHERE tag = $1', [tag])).rows[0].n);

async function held(sql: string, params: unknown[]) {
  const r = await gw.post('/v1/query', { connection: 'main', sql, params }, { ...(await auth(BOT)), ...model });
  if (r.status !== 202) throw new Error(`expected 202, got ${r.status} ${JSON.stringify(r.body)}`);
  return { sql, params, id: r.body.approval.id as string, sessionId: r.body.sessionId as string };
}
async function approve(id: string, who: string) {
  const r = await gw.post(`/v1/approvals/${id}/approve`, { comment: `ok (${who})` }, await auth(who));
  if (r.status !== 200) throw new Error(`expected 200, got ${r.status} ${JSON.stringify(r.body)}`);
}

/**
 * The bot's request, or its redemption, through an instance of its own whose catalog cache is
 * fresh: the long-running one may hold a catalog from before this test's CREATE FUNCTION, and an
 * analysis from a stale cache differs on its own (analysis_changed for the wrong reason).
 */
async function viaFresh(body: Record<string, unknown>) {
  const inst = await startSecondInstance(gw, BOTH);
  try {
    return await inst.post('/v1/query', { connection: 'main', ...body }, { ...(await auth(BOT)), ...model });
  } finally {
    await inst.close();
  }
}
async function heldFresh(sql: string, params: unknown[]) {
  const r = await viaFresh({ sql, params });
  if (r.status !== 202) throw new Error(`expected 202, got ${r.status} ${JSON.stringify(r.body)}`);
  return { sql, params, id: r.body.approval.id as string, sessionId: r.body.sessionId as string };
}

test.serial('schema drift: a statement approved as a read, which now resolves to a writing function through a new search_path, runs nothing', async (t) => {
  const h = await held('SELECT tally($1) AS n', ['drift']);
  const requested = (await gw.runtime.sessions.read(h.sessionId)).find((e) => e.type === 'analysis')!.data as { class: string };
  t.is(requested.class, 'read', 'the approvers are shown a read');
  await approve(h.id, 'alice@acme.com');
  // Between the approval and the run: a function of the same name in a schema searched first.
  await gw.sql(`CREATE SCHEMA shadow;
    CREATE FUNCTION shadow.tally(t text) RETURNS bigint LANGUAGE sql AS $$ INSERT INTO runs (tag) VALUES ('drift-wrote'); SELECT 1::bigint $$;
    DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = shadow, public', current_database()); END $$;`);
  const second = await startSecondInstance(gw, BOTH);
  try {
    const r = await second.post('/v1/query', { connection: 'main', sql: h.sql, params: h.params, approvalId: h.id }, { ...(await auth(BOT)), ...model });
    t.is(await ran('drift-wrote'), 0, 'the approved read did not write');
    t.is(r.status, 409, JSON.stringify(r.body));
    t.is(r.body.error.code, 'approval_mismatch');
    t.is(r.body.error.details.reason, 'analysis_changed');
    const evs = await second.runtime.sessions.read(r.body.sessionId);
    t.deepEqual(evs.map((e) => e.type), ['request', 'analysis', 'decision']);
    t.like((evs[2]!.data as any).approval, { id: h.id, error: { code: 'approval_mismatch', reason: 'analysis_changed' } });
    t.false((await gw.runtime.sessions.read(h.sessionId)).some((e) => e.type === 'approval.redeemed'), 'not used');
  } finally {
    await second.close();
    await gw.sql(`DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET search_path', current_database()); END $$; DROP SCHEMA shadow CASCADE;`);
  }
});

test.serial('schema drift: a DELETE approved for archive.events, redeemed once the search_path no longer finds archive first, deletes nothing from public.events', async (t) => {
  const searchPath = (path: string) => gw.sql(`DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = ${path}', current_database()); END $$;`);
  const count = async (table: string) => Number((await gw.sql(`SELECT count(*) AS n FROM ${table} WHERE tag = 'old'`)).rows[0].n);
  await gw.sql(`CREATE SCHEMA archive;
    CREATE TABLE archive.events (tag text NOT NULL); INSERT INTO archive.events VALUES ('old');
    CREATE TABLE public.events (tag text NOT NULL); INSERT INTO public.events VALUES ('old');`);
  await searchPath('archive, public');
  // An instance whose connections start with that search_path: the bot asks to clear the archive.
  const first = await startSecondInstance(gw, BOTH);
  let h: Awaited<ReturnType<typeof held>>;
  try {
    const r = await first.post('/v1/query', { connection: 'main', sql: 'DELETE FROM events WHERE tag = $1', params: ['old'] }, { ...(await auth(BOT)), ...model });
    t.is(r.status, 202, JSON.stringify(r.body));
    h = { sql: 'DELETE FROM events WHERE tag = $1', params: ['old'], id: r.body.approval.id, sessionId: r.body.sessionId };
  } finally {
    await first.close();
  }
  await approve(h.id, 'alice@acme.com');
  await gw.sql(`DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET search_path', current_database()); END $$;`);
  const second = await startSecondInstance(gw, BOTH);
  try {
    const r = await second.post('/v1/query', { connection: 'main', sql: h.sql, params: h.params, approvalId: h.id }, { ...(await auth(BOT)), ...model });
    t.is(await count('public.events'), 1, 'production events untouched');
    t.is(await count('archive.events'), 1, 'and nothing else ran either');
    t.is(r.status, 409, JSON.stringify(r.body));
    t.is(r.body.error.code, 'approval_mismatch');
    t.is(r.body.error.details.reason, 'analysis_changed');
    t.deepEqual(r.body.error.details.differs, ['relations', 'search_path']);
  } finally {
    await second.close();
    await gw.sql('DROP SCHEMA archive CASCADE; DROP TABLE public.events');
  }
});

test.serial('definition drift: a function the approvers were shown, replaced (same name and signature) by one that deletes, runs nothing', async (t) => {
  await gw.sql(`CREATE TABLE keep (tag text NOT NULL); INSERT INTO keep VALUES ('precious');
    CREATE FUNCTION public.note_run(t text) RETURNS int LANGUAGE sql AS $$ INSERT INTO runs (tag) VALUES (t) RETURNING 1 $$;`);
  try {
    const h = await heldFresh('SELECT note_run($1)', ['noted']);
    await approve(h.id, 'alice@acme.com');
    await gw.sql(`CREATE OR REPLACE FUNCTION public.note_run(t text) RETURNS int LANGUAGE sql AS $$ DELETE FROM keep RETURNING 1 $$;`);
    const r = await viaFresh({ sql: h.sql, params: h.params, approvalId: h.id });
    t.is(Number((await gw.sql('SELECT count(*) AS n FROM keep')).rows[0].n), 1, 'the replaced body did not run');
    t.is(r.status, 409, JSON.stringify(r.body));
    t.is(r.body.error.details.reason, 'analysis_changed');
    t.deepEqual(r.body.error.details.differs, ['routines']);
  } finally {
    await gw.sql('DROP FUNCTION public.note_run(text); DROP TABLE keep');
  }
});

test.serial('definition drift: a trigger added to the table an approved INSERT writes runs nothing', async (t) => {
  await gw.sql(`CREATE TABLE keep (tag text NOT NULL); INSERT INTO keep VALUES ('precious');
    CREATE FUNCTION public.wipe() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM keep; RETURN NULL; END $$;`);
  try {
    const h = await heldFresh('INSERT INTO runs (tag) VALUES ($1)', ['triggered']);
    await approve(h.id, 'alice@acme.com');
    await gw.sql('CREATE TRIGGER wipe_keep AFTER INSERT ON runs FOR EACH ROW EXECUTE FUNCTION public.wipe()');
    const r = await viaFresh({ sql: h.sql, params: h.params, approvalId: h.id });
    t.is(Number((await gw.sql('SELECT count(*) AS n FROM keep')).rows[0].n), 1, 'the trigger did not run');
    t.is(await ran('triggered'), 0);
    t.is(r.status, 409, JSON.stringify(r.body));
    t.is(r.body.error.details.reason, 'analysis_changed');
    t.deepEqual(r.body.error.details.differs, ['relations']);
  } finally {
    await gw.sql('DROP TRIGGER wipe_keep ON runs; DROP FUNCTION public.wipe(); DROP TABLE keep');
  }
});

test.serial('schema drift: a function the approvers were shown calls a helper by bare name; a new search_path finds a deleting one first — runs nothing', async (t) => {
  await gw.sql(`CREATE TABLE keep (tag text NOT NULL); INSERT INTO keep VALUES ('precious');
    CREATE FUNCTION public.helper() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
    CREATE FUNCTION public.report_runs() RETURNS int LANGUAGE sql AS $$ SELECT helper() $$;`);
  try {
    const h = await heldFresh('SELECT public.report_runs()', []);
    await approve(h.id, 'alice@acme.com');
    await gw.sql(`CREATE SCHEMA nested;
      CREATE FUNCTION nested.helper() RETURNS int LANGUAGE sql AS $$ DELETE FROM keep RETURNING 1 $$;
      DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = nested, public', current_database()); END $$;`);
    const second = await startSecondInstance(gw, BOTH);
    try {
      const r = await second.post('/v1/query', { connection: 'main', sql: h.sql, params: h.params, approvalId: h.id }, { ...(await auth(BOT)), ...model });
      t.is(Number((await gw.sql('SELECT count(*) AS n FROM keep')).rows[0].n), 1, 'the shadowing helper did not run');
      t.is(r.status, 409, JSON.stringify(r.body));
      t.is(r.body.error.details.reason, 'analysis_changed');
      t.deepEqual(r.body.error.details.differs, ['search_path']);
    } finally {
      await second.close();
    }
  } finally {
    await gw.sql(`DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET search_path', current_database()); END $$;
      DROP SCHEMA IF EXISTS nested CASCADE; DROP FUNCTION public.report_runs(); DROP FUNCTION public.helper(); DROP TABLE keep;`);
  }
});

test.serial('policy change: an approval redeemed once the rule denies, or wants two approvers, runs nothing', async (t) => {
  const denied = await held('INSERT INTO runs (tag) VALUES ($1)', ['now-denied']);
  const more = await held('INSERT INTO runs (tag) VALUES ($1)', ['now-two']);
  await approve(denied.id, 'alice@acme.com');
  await approve(more.id, 'alice@acme.com');
  const redeem = async (inst: Awaited<ReturnType<typeof startSecondInstance>>, h: typeof denied) =>
    inst.post('/v1/query', { connection: 'main', sql: h.sql, params: h.params, approvalId: h.id }, { ...(await auth(BOT)), ...model });
  const denying = await startSecondInstance(gw, (issuer) => BOTH(issuer).replace(/  - name: bots-need-a-dba[\s\S]*?ttl: 10m\n/, '  - name: bots-need-a-dba\n    principals: [group:review-bots]\n    action: deny\n'));
  try {
    const r = await redeem(denying, denied);
    t.is(r.status, 403, JSON.stringify(r.body));
    t.is(r.body.status, 'denied');
  } finally {
    await denying.close();
  }
  const two = await startSecondInstance(gw, (issuer) => BOTH(issuer).replace('quorum: 1', 'quorum: 2'));
  try {
    const r = await redeem(two, more);
    t.is(r.status, 409, JSON.stringify(r.body));
    t.is(r.body.error.code, 'approval_mismatch');
  } finally {
    await two.close();
  }
  t.is(await ran('now-denied'), 0);
  t.is(await ran('now-two'), 0);
});

test.serial('revocation: an approval whose only vote came from a DBA the policy has since removed from the group runs nothing', async (t) => {
  const revoked = await held('INSERT INTO runs (tag) VALUES ($1)', ['revoked']);
  const kept = await held('INSERT INTO runs (tag) VALUES ($1)', ['kept']);
  await approve(revoked.id, 'bob@acme.com');
  await approve(kept.id, 'alice@acme.com');
  // The policy now: bob is no DBA any more (he left the team, or his account is suspect).
  const second = await startSecondInstance(gw, ALICE_ONLY);
  try {
    const redeem = async (h: typeof revoked) => second.post('/v1/query', { connection: 'main', sql: h.sql, params: h.params, approvalId: h.id }, { ...(await auth(BOT)), ...model });
    const r = await redeem(revoked);
    t.is(await ran('revoked'), 0, 'bob\'s vote no longer makes a quorum');
    t.is(r.status, 409, JSON.stringify(r.body));
    t.is(r.body.error.code, 'approval_mismatch');
    t.is(r.body.error.details.reason, 'vote_approver_revoked');
    const evs = await second.runtime.sessions.read(r.body.sessionId);
    t.like((evs[2]!.data as any).approval, { id: revoked.id, error: { code: 'approval_mismatch', reason: 'vote_approver_revoked' } });
    // alice is still a DBA: her approval runs, once.
    const ok = await redeem(kept);
    t.is(ok.status, 200, JSON.stringify(ok.body));
    t.is(await ran('kept'), 1);
  } finally {
    await second.close();
  }
});

test.serial('revocation, claims: a DBA by the issuer\'s groups claim still counts under the policy she voted under; once the policy changed, a claim\'s membership of a group the policy defines does not (fail closed)', async (t) => {
  const viaClaim = async (id: string) => {
    const r = await gw.post(`/v1/approvals/${id}/approve`, { comment: 'ok (carol, dba by claim)' }, { authorization: `Bearer ${await gw.token('carol@acme.com', { email: 'carol@acme.com', groups: ['dba'] })}` });
    if (r.status !== 200) throw new Error(`expected 200, got ${r.status} ${JSON.stringify(r.body)}`);
  };
  const same = await held('INSERT INTO runs (tag) VALUES ($1)', ['claim-same']);
  const changed = await held('INSERT INTO runs (tag) VALUES ($1)', ['claim-changed']);
  await viaClaim(same.id);
  await viaClaim(changed.id);
  const r = await gw.post('/v1/query', { connection: 'main', sql: same.sql, params: same.params, approvalId: same.id }, { ...(await auth(BOT)), ...model });
  t.is(r.status, 200, JSON.stringify(r.body));
  t.is(await ran('claim-same'), 1);
  const second = await startSecondInstance(gw, ALICE_ONLY);
  try {
    const r2 = await second.post('/v1/query', { connection: 'main', sql: changed.sql, params: changed.params, approvalId: changed.id }, { ...(await auth(BOT)), ...model });
    t.is(r2.status, 409, JSON.stringify(r2.body));
    t.is(r2.body.error.details.reason, 'vote_approver_revoked');
    t.is(await ran('claim-changed'), 0);
  } finally {
    await second.close();
  }
});
