// Malformed approval rows (issue 14 hardening): the attacker holds the query path's UPDATE right on
// the approval store and rewrites a row's record into something that is no approval — `[]`, an
// object with only an id, or one whose only fault is deep (a vote's `by.subject` a number). One
// such row must not take the listing down for every user, must not be shown to anyone who could
// not see it, and must never be acted on: a redemption is refused (approval_mismatch
// row_malformed), recorded as its deny, and runs nothing (checked in the target database). The
// row is edited straight in the store's database (PostgreSQL) or document (Firestore emulator),
// past the gateway, as those rights allow.
import type { Firestore } from '@google-cloud/firestore';
import test, { type ExecutionContext } from 'ava';
import pg from 'pg';
import { deliverApprovalNotice } from '../../shared/approvals/delivery.ts';
import { approvalMessage } from '../../shared/approvals/message.ts';
import type { Approval } from '../../shared/approvals/types.ts';
import { firestoreSuite } from '../helpers/firestore-suite.ts';
import { startTestGateway, TEST_AUDIENCE, type TestGateway, type TestGatewayOptions } from '../helpers/gateway.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const model = { 'x-agent-model': 'gemini-2.5-pro-002' };

const policy = (issuer: string) => `version: 1
issuers:
  - issuer: ${issuer}
    audience: ${TEST_AUDIENCE}
    jwksUri: ${issuer}/jwks.json
    groupsClaim: groups
groups:
  review-bots: [${BOT}]
  dba: [alice@acme.com, bob@acme.com]
  auditors: [carol@acme.com]
connections:
  main:
    credentials: env://GATEHOUSE_TEST_TARGET_URL
    maxRows: 100
    statementTimeoutMs: 5000
rules:
  - name: bots-write
    principals: [group:review-bots]
    classes: [write]
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

/** Reads and writes a record's text behind the gateway's back. */
type RawWriter = { read(id: string): Promise<string | undefined>; write(id: string, record: string): Promise<void>; close(): Promise<void> };

registerMalformed('PostgreSQL store', async () => ({}), (gw) => {
  const pool = new pg.Pool({ connectionString: gw.state.url, max: 1 });
  pool.on('error', () => {});
  return {
    read: async (id) => (await pool.query<{ record: string }>('SELECT record FROM gatehouse_approvals WHERE approval_id = $1', [id])).rows[0]?.record,
    async write(id, record) {
      const r = await pool.query('UPDATE gatehouse_approvals SET record = $2 WHERE approval_id = $1', [id, record]);
      if (r.rowCount !== 1) throw new Error(`no approval row ${id}`);
    },
    close: () => pool.end(),
  };
});

firestoreSuite('Malformed approval rows, Firestore store', (emulator) => {
  const databaseId = `malformed-${Date.now().toString(36)}`;
  let client: Firestore | undefined;
  registerMalformed(
    'Firestore store',
    async () => {
      await emulator.ready();
      client = await emulator.client(emulator.host, { projectId: 'gatehouse-test', databaseId, timeoutMs: 5000 });
      return { approvalStore: { kind: 'firestore', projectId: 'gatehouse-test', databaseId } };
    },
    () => ({
      read: async (id) => (await client!.doc(`approvals/${id}`).get()).get('record') as string | undefined,
      async write(id, record) {
        await client!.doc(`approvals/${id}`).update({ record });
      },
      close: async () => {},
    }),
  );
});

function registerMalformed(label: string, extra: () => Promise<Partial<TestGatewayOptions>>, rawWriter: (gw: TestGateway) => RawWriter): void {
  let gw: TestGateway;
  let raw: RawWriter;
  test.before(async () => {
    gw = await startTestGateway({ seedSql: 'CREATE TABLE runs (tag text NOT NULL)', policy, ...(await extra()) });
    raw = rawWriter(gw);
  });
  test.after.always(async () => {
    await raw?.close();
    await gw?.close();
  });

  const auth = async (sub: string) => ({ authorization: `Bearer ${await gw.token(sub)}` });
  const asBot = async (body: unknown) => gw.post('/v1/query', body, { ...(await auth(BOT)), ...model });
  const ran = async (tag: string) => Number((await gw.sql('SELECT count(*) AS n FROM runs WHERE tag = $1', [tag])).rows[0].n);
  const sql = 'INSERT INTO runs (tag) VALUES ($1)';

  async function held(tag: string) {
    const r = await asBot({ connection: 'main', sql, params: [tag] });
    if (r.status !== 202) throw new Error(`expected 202, got ${r.status} ${JSON.stringify(r.body)}`);
    return { sessionId: r.body.sessionId as string, id: r.body.approval.id as string, params: [tag] };
  }

  const stored = async (id: string) => (await gw.runtime.approvals!.store.get(id)) as Approval;
  const onlyAnId = (a: Approval) => JSON.stringify({ id: a.id });
  const deepFault = (a: Approval) =>
    JSON.stringify({ ...a, votes: [...a.votes, { verdict: 'approve', by: { issuer: a.requester.issuer, subject: 7 }, comment: 'ok', at: a.createdAt }] });

  test(`${label}: the listing still works, for approvers and auditors, with malformed rows present; they are left out`, async (t) => {
    const good = await held('listed-good');
    const bad = await Promise.all(['listed-bad-1', 'listed-bad-2', 'listed-bad-3'].map(held));
    const before = await Promise.all(bad.map((h) => stored(h.id)));
    await raw.write(bad[0]!.id, '[]');
    await raw.write(bad[1]!.id, onlyAnId(before[1]!));
    await raw.write(bad[2]!.id, deepFault(before[2]!));
    for (const who of ['alice@acme.com', 'carol@acme.com', BOT]) {
      for (const status of ['pending', 'all']) {
        const r = await gw.get(`/v1/approvals?status=${status}&limit=500`, await auth(who));
        t.is(r.status, 200, `${who} ${status}: ${JSON.stringify(r.body)}`);
        const ids = (r.body.approvals as { id: string }[]).map((a) => a.id);
        t.true(ids.includes(good.id), `${who} ${status} sees the good one`);
        for (const h of bad) t.false(ids.includes(h.id), `${who} ${status} is not shown a malformed one`);
      }
    }
    // The republish pass reads the same listing: it goes on, rather than failing as a whole.
    const pass = await gw.post('/v1/approvals/republish', {}, await auth('alice@acme.com'));
    t.is(pass.status, 200, JSON.stringify(pass.body));
  });

  test(`${label}: showing a malformed row: 404 as if missing for the approver and the requester, 409 row_malformed for an auditor`, async (t) => {
    const h = await held('shown-s3cr3t');
    const a = await stored(h.id);
    await raw.write(h.id, deepFault(a));
    const missingId = crypto.randomUUID();
    for (const who of ['alice@acme.com', BOT, 'mallory@acme.com']) {
      const r = await gw.get(`/v1/approvals/${h.id}`, await auth(who));
      t.is(r.status, 404, `${who}: ${JSON.stringify(r.body)}`);
      t.is(r.body.error.code, 'approval_not_found');
      const missing = await gw.get(`/v1/approvals/${missingId}`, await auth(who));
      t.is(JSON.stringify(r.body), JSON.stringify(missing.body).replaceAll(missingId, h.id), 'answered exactly as a missing one');
    }
    const audit = await gw.get(`/v1/approvals/${h.id}`, await auth('carol@acme.com'));
    t.is(audit.status, 409, JSON.stringify(audit.body));
    t.is(audit.body.error.code, 'approval_mismatch');
    t.like(audit.body.error.details, { approvalId: h.id, reason: 'row_malformed', field: 'votes.0.by.subject' });
    t.false(JSON.stringify(audit.body).includes('s3cr3t'), 'no value of the row (its params) in the answer');
  });

  test(`${label}: deciding a malformed row is refused with row_malformed and recorded as the decider's session; the row is left as it was`, async (t) => {
    const h = await held('decided');
    const text = onlyAnId(await stored(h.id));
    await raw.write(h.id, text);
    const r = await gw.post(`/v1/approvals/${h.id}/approve`, { comment: 'looks fine' }, await auth('alice@acme.com'));
    t.is(r.status, 409, JSON.stringify(r.body));
    t.is(r.body.error.code, 'approval_mismatch');
    t.like(r.body.error.details, { approvalId: h.id, reason: 'row_malformed', field: 'sessionId' });
    const evs = await gw.runtime.sessions.read(r.body.sessionId);
    t.is(evs.length, 1);
    t.like(evs[0]!.data as any, { endpoint: 'approve', approvalId: h.id, rejected: { code: 'approval_mismatch' } });
    const requesting = await gw.runtime.sessions.read(h.sessionId);
    t.deepEqual(requesting.map((e) => e.type), ['request', 'analysis', 'decision', 'approval.requested'], 'no vote recorded');
    t.is(await raw.read(h.id), text, 'the row is left as it was');
  });

  test(`${label}: redeeming a malformed row: 409 approval_mismatch row_malformed, nothing ran, the deny recorded`, async (t) => {
    const h = await held('redeemed');
    const vote = await gw.post(`/v1/approvals/${h.id}/approve`, { comment: 'ok' }, await auth('alice@acme.com'));
    t.is(vote.status, 200, JSON.stringify(vote.body));
    // Approved and signed in the log; only the row is broken, deep inside.
    const text = deepFault(await stored(h.id));
    await raw.write(h.id, text);
    const r = await asBot({ connection: 'main', sql, params: h.params, approvalId: h.id });
    t.is(r.status, 409, JSON.stringify(r.body));
    t.is(r.body.error.code, 'approval_mismatch');
    t.like(r.body.error.details, { approvalId: h.id, reason: 'row_malformed', field: 'votes.1.by.subject' });
    t.is(await ran('redeemed'), 0, 'nothing ran on the target');
    await deniedAndRecorded(t, r.body.sessionId, h.id);
    const requesting = await gw.runtime.sessions.read(h.sessionId);
    t.false(requesting.some((e) => e.type === 'approval.redeemed'), 'not marked used in the log');
    t.is(await raw.read(h.id), text, 'not marked used in the store');
  });

  test(`${label}: the notify fan-out acknowledges a message for a malformed row without posting it (no redelivery forever)`, async (t) => {
    const h = await held('notified');
    const a = await stored(h.id);
    const notice = approvalMessage(a, `${gw.url}/v1/approvals/${a.id}`).body;
    const text = deepFault(a);
    await raw.write(h.id, text);
    const posted: string[] = [];
    const outcome = await deliverApprovalNotice(
      { store: gw.runtime.approvals!.store, channels: [{ name: 'webhook', post: async (n) => void posted.push(n.approvalId) }], clock: () => new Date() },
      notice,
      'message-1',
    );
    t.deepEqual(outcome, { kind: 'skipped', reason: 'row_malformed' });
    t.deepEqual(posted, []);
    t.is(await raw.read(h.id), text, 'no claim written');
  });

  async function deniedAndRecorded(t: ExecutionContext, sessionId: string, approvalId: string) {
    const evs = await gw.runtime.sessions.read(sessionId);
    t.deepEqual(evs.map((e) => e.type), ['request', 'analysis', 'decision'], 'recorded, and never started');
    const decision = evs[2]!.data as any;
    t.is(decision.action, 'deny');
    t.like(decision.approval, { id: approvalId, error: { code: 'approval_mismatch', reason: 'row_malformed' } });
  }
}
