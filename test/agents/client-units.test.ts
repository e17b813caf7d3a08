// Pieces of the client and the estimate that need no server: the package subpath, token sources,
// and the estimate's refusal to send anything but one EXPLAIN (without ANALYZE) of the held type.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Gatehouse as BySubpath, isGatehouseApiError as bySubpathIs } from 'gatehouse/client';
import { Gatehouse, isGatehouseApiError } from '../../shared/client/index.ts';
import { commandToken, fixedToken } from '../../shared/client/tokens.ts';
import { estimatePlan } from '../../shared/blast-radius/estimate.ts';
import { describeEstimate } from '../../shared/blast-radius/describe.ts';
import { loadParser } from '../../shared/sql/index.ts';
import { analyze } from '../../shared/sql/index.ts';
import type { StatementRequest, TargetDatabase } from '../../shared/ports.ts';

test.before(async () => {
  await loadParser();
});

test('the client is the package subpath gatehouse/client', (t) => {
  t.is(BySubpath, Gatehouse);
  t.is(bySubpathIs, isGatehouseApiError);
});

test('a token command is run when needed, cached until a minute before exp, never echoed on failure', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-token-'));
  try {
    const counter = join(dir, 'count');
    const script = join(dir, 'tok.sh');
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    let exp = 1_000_000;
    const write = () =>
      writeFileSync(script, `#!/bin/sh\necho x >> '${counter}'\necho '${b64({ alg: 'none' })}.${b64({ exp })}.sig'\n`);
    write();
    chmodSync(script, 0o700);
    let now = (exp - 600) * 1000;
    const provider = commandToken(script, { now: () => now });
    const first = await provider();
    t.is(await provider(), first, 'cached');
    now = (exp - 30) * 1000; // within a minute of exp: asked again
    exp += 3600;
    write();
    t.not(await provider(), first);
    const failing = commandToken(`echo 'secret-token-value' >&2; echo 'partial'; exit 4`);
    const e = await t.throwsAsync(async () => failing());
    t.false(e!.message.includes('secret-token-value'));
    t.false(e!.message.includes('partial'));
    await t.throwsAsync(async () => commandToken('echo two tokens')(), { message: /exactly one token/ });
    t.throws(() => fixedToken('  '));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Nothing off the allowlist, no relation to check: only the EXPLAIN itself is sent. */
const SAFE = { relations: [], calls: async () => undefined };

/** A target that fails the test if it is asked to run anything. */
const untouchable = (t: any): TargetDatabase => ({
  async run(r: StatementRequest) {
    t.fail(`the target was asked to run ${r.sql}`);
    throw new Error('no');
  },
  async close() {},
});

test('the estimate sends nothing for statements it must not EXPLAIN', async (t) => {
  const input = (sql: string) => ({ connection: 'main', sql, params: [], statementTimeoutMs: 1000 });
  for (const sql of ['EXPLAIN ANALYZE DELETE FROM t', 'DROP TABLE t', 'TRUNCATE t', 'CREATE TABLE x AS SELECT 1', 'CALL p()', 'COPY t TO STDOUT']) {
    const e = await estimatePlan(untouchable(t), input(sql), analyze(sql), SAFE);
    t.is(e.state, 'unavailable', sql);
  }
  // The analysis must match the text: a held UPDATE whose text is something else is not explained.
  const e = await estimatePlan(untouchable(t), input('SELECT 1'), { pgType: 'UpdateStmt', kind: 'UPDATE' }, SAFE);
  t.deepEqual(e, { state: 'unavailable', reason: 'the explained statement is not the held one' });
});

test('the estimate sends no EXPLAIN when the planner could call something off the allowlist, or when that cannot be told', async (t) => {
  const input = { connection: 'main', sql: 'UPDATE t SET a = f(1)', params: [], statementTimeoutMs: 1000 };
  const said = await estimatePlan(untouchable(t), input, analyze(input.sql), { relations: [], calls: async () => 'the planner could run public.f()' });
  t.deepEqual(said, { state: 'unavailable', reason: 'not explained: the planner could run public.f()' });
  const failed = await estimatePlan(untouchable(t), input, analyze(input.sql), {
    relations: [],
    calls: async () => {
      throw new Error('catalog down');
    },
  });
  t.deepEqual(failed, { state: 'unavailable', reason: 'not explained: what the planner could run cannot be checked' });
});

test('the estimate runs one read-only EXPLAIN without ANALYZE and always rolls back', async (t) => {
  const sent: StatementRequest[] = [];
  const target: TargetDatabase = {
    async run(r) {
      sent.push(r);
      // First the catalog check (guard 0): no relation missing, no user cast, no user function.
      if (!r.sql.startsWith('EXPLAIN')) return { command: 'SELECT', rowCount: 1, truncated: false, fields: [], rows: [[0, null, null]], durationMs: 1 };
      const plan = [{ Plan: { 'Node Type': 'ModifyTable', Operation: 'Update', 'Plan Rows': 0, 'Total Cost': 12.5, 'Relation Name': 'orders', Schema: 'public', Plans: [{ 'Node Type': 'Seq Scan', 'Plan Rows': 48000, 'Relation Name': 'orders', Schema: 'public' }] } }];
      const result = { command: 'EXPLAIN', rowCount: 1, truncated: false, fields: [], rows: [[plan]], durationMs: 1 };
      await r.beforeCommit!(result); // must throw: the estimate never commits
      t.fail('beforeCommit returned');
      return result;
    },
    async close() {},
  };
  const sql = 'UPDATE orders SET status = $1 WHERE status = $2';
  const e = await estimatePlan(target, { connection: 'main', sql, params: ['x', 'y'], statementTimeoutMs: 60_000 }, analyze(sql), SAFE);
  t.is(sent.length, 2);
  t.true(sent[0]!.readOnly, 'the catalog check is read-only too');
  t.is(sent[1]!.sql, `EXPLAIN (FORMAT JSON, VERBOSE) ${sql}`);
  t.true(sent[1]!.readOnly);
  t.is(sent[1]!.statementTimeoutMs, 5000, 'capped');
  t.deepEqual(e, { state: 'estimated', rows: 48000, topNode: 'ModifyTable (Update)', totalCost: 12.5, tables: ['public.orders'] });
  t.is(describeEstimate(e), "≈ 48,000 rows · ModifyTable (Update) · public.orders (planner's estimate)");
});
