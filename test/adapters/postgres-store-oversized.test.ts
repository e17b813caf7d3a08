// The attacker this product names holds the log's INSERT right. One row with a text value longer
// than a JavaScript string can be (0x1fffffe8 characters) made node-postgres fail inside its
// socket handler: every read of that session failed as an outage (audit_unavailable), so it could
// not be shown, reconciled or exported — and an export of any range holding it failed whole, one
// INSERT blinding the evidence. (A client without an error listener crashes outright.) Readers now
// read at most MAX_STORED_DATA_BYTES of data and 4096 characters of ids, types and hashes, so such
// a row reads as an `unreadable` event that verify names; appends refuse data longer than that
// (event_too_large), so nothing honest is ever cut. Real PostgreSQL.
import test from 'ava';
import pg from 'pg';
import { createPostgresApprovalStore, createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import { approval } from '../approvals/approval-store.contract.ts';
import { MAX_STORED_DATA_BYTES } from '../../shared/adapters/postgres-store/session-log.ts';
import type { GatehouseError } from '../../shared/errors.ts';
import { testPgKind } from '../helpers/pg.ts';
import { storeBackends } from '../helpers/store-backends.ts';

const backends = storeBackends('oversized', { maxConnections: 20 });
const real = testPgKind === 'postgres';

test.serial('a row longer than a string can be is read as unreadable: every reader lives on', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL (PGlite would hold the row in this process)');
  t.timeout(240_000);
  const url = (await backends.realPg()).url;
  const log = await createPostgresSessionLog({ connectionString: url, poolSize: 2 });
  t.teardown(() => log.close());
  const sessionId = `oversized-${Date.now()}`;
  const [first] = await log.append(sessionId, [{ type: 'request', data: { sql: 'SELECT 1', connection: 'main', principal: { subject: 's', issuer: 'i' } } }]);
  // With the INSERT right alone: an event after the honest one, its data 540 million characters.
  const attacker = new pg.Client({ connectionString: url });
  await attacker.connect();
  try {
    await attacker.query(
      "INSERT INTO gatehouse_session_events (session_id, seq, type, at, data, prev_hash, hash, log_index) SELECT $1, 1, 'decision', now(), repeat('x', 540000000), $2, repeat('a', 64), max(log_index) + 1 FROM gatehouse_session_events",
      [sessionId, first!.hash],
    );
  } finally {
    await attacker.end();
  }
  const events = await log.read(sessionId);
  t.is(events.length, 2);
  t.is(events[0]!.hash, first!.hash);
  t.is(events[1]!.type as string, 'unreadable');
  t.regex(JSON.stringify(events[1]!.data), /at most 64 MiB/);
  const many = await log.readMany!([sessionId]);
  t.is(many.get(sessionId)?.[1]?.type as string, 'unreadable');
  const listed = await log.list({ limit: 1000 });
  t.true(listed.some((s) => s.sessionId === sessionId));
});

test.serial('an append whose data is longer than readers read is refused before anything is written', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  t.timeout(120_000);
  const url = (await backends.realPg()).url;
  const log = await createPostgresSessionLog({ connectionString: url, poolSize: 2 });
  t.teardown(() => log.close());
  const sessionId = `too-large-${Date.now()}`;
  const e = await t.throwsAsync<GatehouseError>(log.append(sessionId, [{ type: 'request', data: { sql: 'x'.repeat(MAX_STORED_DATA_BYTES), connection: 'main' } }]));
  t.is(e?.code, 'audit_unavailable');
  t.is(e?.details?.reason, 'event_too_large');
  t.is(e?.details?.recorded, 'no');
  t.deepEqual(await log.read(sessionId), []);
  // Just under the bound is an ordinary append.
  const ok = await log.append(sessionId, [{ type: 'request', data: { sql: 'x'.repeat(1000), connection: 'main' } }]);
  t.is(ok.length, 1);
});

test.serial('an approval record longer than the store reads is malformed, named as such, and left out of the listing', async (t) => {
  if (!real) return t.pass('needs real PostgreSQL');
  t.timeout(240_000);
  const url = (await backends.realPg()).url;
  const store = await createPostgresApprovalStore({ connectionString: url, poolSize: 2 });
  t.teardown(() => store.close());
  const big = approval();
  const other = approval();
  await store.create(big);
  await store.create(other);
  // With the UPDATE right alone: the record made 540 million characters long.
  const attacker = new pg.Client({ connectionString: url });
  await attacker.connect();
  try {
    await attacker.query("UPDATE gatehouse_approvals SET record = repeat('x', 540000000) WHERE approval_id = $1", [big.id]);
  } finally {
    await attacker.end();
  }
  const e = await t.throwsAsync<GatehouseError>(store.get(big.id));
  t.is(e?.code, 'approval_mismatch');
  t.like(e?.details, { approvalId: big.id, reason: 'row_malformed' });
  const listed = await store.list({});
  t.true(listed.some((a) => a.id === other.id), 'the listing goes on');
  t.false(listed.some((a) => a.id === big.id));
});
