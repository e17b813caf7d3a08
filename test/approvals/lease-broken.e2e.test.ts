// Attack review of issues 4 and 14 (fourth round): "used once" must not rest on a lock the
// attacker can write. On Firestore the approval store's lock is a lease kept in the approval's own
// document (shared/adapters/firestore-approvals/approval-store.ts), and whoever holds the query
// path's rights can write that document. Two instances redeem one approval: the first is slow to
// append its `approval.redeemed` (a gate stands in for a slow log write); meanwhile the attacker
// clears its lease, the second instance redeems, and the attacker then puts the document back as
// the first left it (approved, its lease, its version). Each redemption checked the log before
// either `approval.redeemed` was there.
import type { Firestore } from '@google-cloud/firestore';
import test from 'ava';
import { botApprovalPolicy } from './bot-approval-policy.ts';
import { startSecondInstance } from './second-instance.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { firestoreSuite } from '../helpers/firestore-suite.ts';
import type { EventDraft } from '../../shared/audit/events.ts';

const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';
const model = { 'x-agent-model': 'gemini-2.5-pro-002' };

firestoreSuite('Approval lease broken by the attacker, Firestore store', (emulator) => {
  const projectId = 'gatehouse-test';
  const databaseId = `lease-${Date.now().toString(36)}`;
  const approvalStore = { kind: 'firestore' as const, projectId, databaseId };
  let client: Firestore;
  let gw: TestGateway;
  test.before(async () => {
    await emulator.ready();
    client = await emulator.client(emulator.host, { projectId, databaseId, timeoutMs: 5000 });
    gw = await startTestGateway({ seedSql: 'CREATE TABLE runs (tag text NOT NULL)', policy: botApprovalPolicy, approvalStore });
  });
  test.after.always(async () => {
    await gw?.close();
  });

  const auth = async (sub: string) => ({ authorization: `Bearer ${await gw.token(sub, { email: sub })}` });
  const ran = async (tag: string) => Number((await gw.sql('SELECT count(*) AS n FROM runs WHERE tag = $1', [tag])).rows[0].n);

  test('two instances, the first one\'s lease cleared and then restored by the attacker: the approved statement runs once', async (t) => {
    const sql = 'INSERT INTO runs (tag) VALUES ($1)';
    const params = ['twice'];
    const asked = await gw.post('/v1/query', { connection: 'main', sql, params }, { ...(await auth(BOT)), ...model });
    t.is(asked.status, 202, JSON.stringify(asked.body));
    const id = asked.body.approval.id as string;
    const approved = await gw.post(`/v1/approvals/${id}/approve`, { comment: 'ok' }, await auth('alice@acme.com'));
    t.is(approved.status, 200, JSON.stringify(approved.body));

    const second = await startSecondInstance(gw, botApprovalPolicy, { approvalStore });
    const sessions = gw.runtime.approvals!.workflow.sessions as { append: (id: string, drafts: readonly EventDraft[], o?: unknown) => Promise<unknown> };
    const append = sessions.append;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    sessions.append = async (sid, drafts, o) => {
      if (drafts.some((d) => d.type === 'approval.redeemed')) await gate;
      return append(sid, drafts, o);
    };
    try {
      const body = { connection: 'main', sql, params, approvalId: id };
      const first = gw.post('/v1/query', body, { ...(await auth(BOT)), ...model });
      // The first redemption holds the lease and is past its log check: the attacker clears it.
      const ref = client.doc(`approvals/${id}`);
      let held: FirebaseDoc | undefined;
      for (let i = 0; i < 500 && !held; i++) {
        const d = (await ref.get()).data() as FirebaseDoc;
        if (d.lease) held = d;
        else await new Promise((r) => setTimeout(r, 10));
      }
      if (!held) throw new Error('the first redemption never took the lease');
      await ref.update({ lease: null });
      const other = await second.post('/v1/query', body, { ...(await auth(BOT)), ...model });
      // Put the document back as the first redemption left it, then let its log write through.
      await ref.update({ record: held.record, state: held.state, version: held.version, lease: held.lease });
      open();
      const firstAnswer = await first;
      t.is(await ran('twice'), 1, `ran once (first: ${firstAnswer.status} ${JSON.stringify(firstAnswer.body.error ?? {})}, second: ${other.status} ${JSON.stringify(other.body.error ?? {})})`);
      t.is(other.status, 200, 'the second instance redeemed first, in the log too');
      t.is(firstAnswer.status, 409, JSON.stringify(firstAnswer.body));
      t.is(firstAnswer.body.error.code, 'approval_used');
      const lost = await gw.runtime.sessions.read(firstAnswer.body.sessionId);
      t.deepEqual(lost.map((e) => e.type), ['request', 'analysis', 'decision', 'execution.started', 'execution.failed'], 'recorded: its start ends in execution.failed, nothing ran');
      const requesting = await gw.runtime.sessions.read(asked.body.sessionId);
      t.true(requesting.filter((e) => e.type === 'approval.redeemed').length >= 1);
    } finally {
      sessions.append = append;
      open();
      await second.close();
    }
  });
});

interface FirebaseDoc {
  readonly record: string;
  readonly state: string;
  readonly version: number;
  readonly lease: { id: string; until: number } | null;
}
