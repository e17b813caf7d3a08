// waitForApproval at its edges: an approval that expires while the bot waits, and a wait pointed
// at another session's statement. Nothing runs in either case.
import test from 'ava';
import { Gatehouse, GatehouseApiError } from '../../shared/client/index.ts';
import { startTestGateway, testPolicy, withBotWriteApproval, type TestGateway } from '../helpers/gateway.ts';
import { BOT, MODEL } from './fixture.ts';

let gw: TestGateway;
test.before(async () => {
  gw = await startTestGateway({
    seedSql: 'CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, $$a$$), (2, $$b$$)',
    policy: (issuer) => withBotWriteApproval(testPolicy(issuer), { ttl: '3s' }),
  });
});
test.after.always(async () => {
  await gw?.close();
});

const bot = () => new Gatehouse({ url: gw.url, tokenProvider: () => gw.token(BOT), model: MODEL });

test('an approval that expires while the bot waits: approval_expired, nothing ran', async (t) => {
  const r = await bot().query({ connection: 'main', sql: "UPDATE notes SET body = 'expired' WHERE id = 1" });
  if (r.status !== 'pending_approval') return t.fail(r.status);
  const e = await t.throwsAsync(() => bot().waitForApproval(r, { timeoutSec: 20 }), { instanceOf: GatehouseApiError });
  t.is(e!.code, 'approval_expired');
  t.is(e!.sessionId, r.sessionId);
  t.is((await gw.sql("SELECT count(*)::int AS n FROM notes WHERE body = 'expired'")).rows[0].n, 0);
});

test("a wait pointed at another session's statement is refused before anything is sent", async (t) => {
  const a = await bot().query({ connection: 'main', sql: "UPDATE notes SET body = 'a2' WHERE id = 1" });
  const b = await bot().query({ connection: 'main', sql: "UPDATE notes SET body = 'b2' WHERE id = 2" });
  if (a.status !== 'pending_approval' || b.status !== 'pending_approval') return t.fail();
  const e = await t.throwsAsync(() => bot().waitForApproval({ approvalId: a.approval.id, sessionId: b.sessionId }, { timeoutSec: 1 }), { instanceOf: GatehouseApiError });
  t.is(e!.code, 'approval_mismatch');
  t.deepEqual((await gw.sql('SELECT body FROM notes ORDER BY id')).rows.map((x) => x.body), ['a', 'b']);
});
