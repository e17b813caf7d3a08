// The pipelined engine's own promises (issue 17 item 4, issue 15's byte budget), each against real
// PostgreSQL: one write for the statement pipeline and one for COMMIT + reset; a connection killed
// mid-pipeline commits nothing; a second statement is refused however it is smuggled; a 64 MB
// cell never sits in memory whole; the byte budget cuts the answer.
import { Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import test from 'ava';
import pg from 'pg';
import { createEmbeddedSecrets } from '../../shared/adapters/secrets/index.ts';
import type { GatehouseError } from '../../shared/errors.ts';
import type { StatementRequest, TargetDatabase } from '../../shared/ports.ts';
import { CELL_OVERHEAD_BYTES, omittedCell, ROW_OVERHEAD_BYTES } from '../../shared/postgres/budget.ts';
import { createTargetDatabase } from '../../shared/postgres/index.ts';
import { createTestDatabase, testPgKind, type TestDatabase } from '../helpers/pg.ts';
import { wireTap, type WireTap } from '../helpers/wire-tap.ts';

const MB = 1024 * 1024;
// A collection on demand, so what is measured is memory still held, not garbage not yet collected.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
let db: TestDatabase;
let admin: pg.Client;
let tap: WireTap;
let viaTap: TargetDatabase;
let direct: TargetDatabase;

function target(url: string, poolSize = 2): TargetDatabase {
  return createTargetDatabase({ connections: { t: { credentials: 'embedded://t' } }, secrets: createEmbeddedSecrets(new Map([['t', url]])), poolSize });
}
const req = (sql: string, more: Partial<StatementRequest> = {}): StatementRequest => ({
  connection: 't',
  sql,
  params: [],
  readOnly: true,
  maxRows: 100,
  statementTimeoutMs: 10_000,
  ...more,
});
async function count(table: string): Promise<number> {
  return (await admin.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
}
/** Resolves once the connection's reset is done and it is idle in the pool again. */
const settle = () => new Promise((r) => setTimeout(r, 150));

test.before(async () => {
  db = await createTestDatabase();
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  await admin.query(`
    CREATE TABLE kept (id int);
    CREATE TABLE victim (id int);
    INSERT INTO victim SELECT generate_series(1, 5);
    CREATE TABLE wide (id int, body text);
    INSERT INTO wide SELECT g, repeat(chr(65 + g % 26), 1000) FROM generate_series(1, 200) g;
  `);
  const u = new URL(db.url);
  tap = await wireTap({ host: u.hostname, port: Number(u.port) });
  u.port = String(tap.port);
  viaTap = target(u.toString(), 1);
  direct = target(db.url);
});
test.after.always(async () => {
  await viaTap?.close();
  await direct?.close();
  await tap?.close();
  await admin?.end();
  await db?.drop();
});

test.serial('a read costs one client write and one round trip (COMMIT pipelined, reset off the path); a write still two', async (t) => {
  await viaTap.run(req('SELECT id, body FROM wide WHERE id < $1', { params: [3] })); // connect, type names cached
  await settle();
  for (const readOnly of [true, false]) {
    tap.reset();
    let beforeAnswer = -1;
    const r = await viaTap.run(
      req('SELECT id, body FROM wide WHERE id < $1', {
        params: [3],
        readOnly,
        beforeCommit: async () => {
          beforeAnswer = tap.roundTrips();
        },
      }),
    );
    const onPath = tap.roundTrips(); // what the answer waited for (the reset may be in flight)
    await settle();
    t.is(r.rowCount, 2);
    const expected = readOnly ? 1 : 2;
    t.is(onPath, expected, `readOnly ${readOnly}: ${JSON.stringify(tap.log)}`);
    t.is(beforeAnswer, 1, `readOnly ${readOnly}: the result is handed to beforeCommit after the pipeline alone`);
    // A read's reset (DISCARD ALL + the dblink check) is a second write, off the answer's path.
    t.is(tap.clientChunks(), 2, `readOnly ${readOnly}: ${JSON.stringify(tap.log)}`);
    t.is(tap.roundTrips(), 2, `readOnly ${readOnly}: ${JSON.stringify(tap.log)}`);
  }
});

test.serial('socket writes, counted on the socket itself: 1 for the statement pipeline, 1 for COMMIT + reset', async (t) => {
  await direct.run(req('SELECT 1 AS warm'));
  await settle();
  const port = Number(new URL(db.url).port);
  const writes: number[] = [];
  const original = Socket.prototype.write;
  Socket.prototype.write = function (this: Socket, ...args: unknown[]) {
    if (this.remotePort === port) writes.push(Date.now());
    return (original as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof Socket.prototype.write;
  let committed = 0;
  try {
    await direct.run(
      req('INSERT INTO kept VALUES ($1) RETURNING id', {
        params: [1],
        readOnly: false,
        beforeCommit: async () => {
          committed = writes.length; // the pipeline's writes, before COMMIT is sent
        },
      }),
    );
    await settle();
  } finally {
    Socket.prototype.write = original;
  }
  t.is(committed, 1, 'BEGIN + timeout + txid + the statement + Sync: one write');
  t.is(writes.length, 2, 'COMMIT, DISCARD ALL and the dblink check: one more');
  t.is(await count('kept'), 1);
  await admin.query('DELETE FROM kept');
});

test.serial('the connection cut mid-pipeline (a slow write in progress) leaves nothing committed', async (t) => {
  const work = viaTap.run(req(`INSERT INTO kept SELECT g FROM generate_series(1, 3) g, pg_sleep(0.5)`, { readOnly: false }));
  setTimeout(() => tap.cut(), 200);
  const err = await t.throwsAsync<GatehouseError>(work);
  t.is(err?.code, 'database_unavailable');
  await new Promise((r) => setTimeout(r, 800)); // the server notices the client is gone
  t.is(await count('kept'), 0);
  // And the pool recovers with a fresh connection.
  t.is((await viaTap.run(req('SELECT 1 AS one'))).rows[0]![0], 1);
});

test.serial('the backend killed mid-pipeline (pg_terminate_backend) leaves nothing committed, in several write syntaxes', async (t) => {
  const writes = [
    `INSERT INTO kept SELECT g FROM generate_series(1, 3) g, pg_sleep(0.6)`,
    `WITH s AS (SELECT pg_sleep(0.6)) INSERT INTO kept SELECT 1 FROM s`,
    `UPDATE victim SET id = id + 100 WHERE pg_sleep(0.2) IS NOT NULL RETURNING id`,
    `DELETE FROM victim WHERE id IN (SELECT id FROM victim, pg_sleep(0.6))`,
  ];
  for (const sql of writes) {
    const work = direct.run(req(sql, { readOnly: false }));
    await new Promise((r) => setTimeout(r, 250));
    const killed = await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'gatehouse' AND state = 'active' AND pid <> pg_backend_pid()`,
    );
    t.is(killed.rowCount, 1, sql);
    const err = await t.throwsAsync<GatehouseError>(work, undefined, sql);
    t.is(err?.code, 'database_unavailable', sql);
    t.is(await count('kept'), 0, sql);
    t.deepEqual((await admin.query('SELECT array_agg(id ORDER BY id) AS ids FROM victim')).rows[0].ids, [1, 2, 3, 4, 5], sql);
  }
});

test.serial('killed after the result was read, before COMMIT (inside beforeCommit): nothing committed, the error says so', async (t) => {
  const err = await t.throwsAsync<GatehouseError>(
    direct.run(
      req('INSERT INTO kept VALUES (7)', {
        readOnly: false,
        beforeCommit: async () => {
          await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'gatehouse' AND state = 'idle in transaction'`);
          await new Promise((r) => setTimeout(r, 100));
        },
      }),
    ),
  );
  t.is(err?.code, 'database_unavailable');
  t.is(await count('kept'), 0);
});

test.serial('a second statement is refused by the server however it is smuggled; nothing ran', async (t) => {
  const smuggled = [
    'SELECT 1; DELETE FROM victim',
    'SELECT $1::int; DELETE FROM victim',
    'DELETE FROM victim WHERE false; DELETE FROM victim',
    '/* ; */ SELECT 1 /* ; */; DELETE FROM victim',
    "SELECT 'a'';'; DELETE FROM victim; --",
    'SELECT 1;\nCOMMIT;\nDELETE FROM victim',
    'BEGIN; DELETE FROM victim; COMMIT',
    'SELECT 1 \\; DELETE FROM victim',
  ];
  for (const sql of smuggled) {
    for (const readOnly of [true, false]) {
      const params = sql.includes('$1') ? [1] : [];
      const err = await t.throwsAsync<GatehouseError>(direct.run(req(sql, { readOnly, params })), undefined, sql);
      t.true(err?.code === 'execution_failed' || err?.code === 'params_invalid', `${sql}: ${err?.code}`);
    }
  }
  t.is(await count('victim'), 5);
});

test.serial('a statement that ends the transaction itself is refused without committing a write', async (t) => {
  for (const sql of ['COMMIT', 'ROLLBACK', 'END', 'ABORT']) {
    const err = await t.throwsAsync<GatehouseError>(direct.run(req(sql, { readOnly: false })), undefined, sql);
    t.is(err?.code, 'execution_failed', sql);
  }
  t.is(await count('victim'), 5);
  t.is((await direct.run(req('SELECT count(*)::int AS n FROM victim'))).rows[0]![0], 5, 'the pool still serves');
});

/** Peak growth of memory still held (sampled right after a collection) and of RSS, while `work` runs. */
async function heldWhile<T>(work: () => Promise<T>): Promise<{ value: T; held: number; rss: number }> {
  gc();
  const base = process.memoryUsage();
  let held = 0;
  let rss = 0;
  const sample = () => {
    gc();
    const m = process.memoryUsage();
    held = Math.max(held, m.heapUsed - base.heapUsed + (m.arrayBuffers - base.arrayBuffers));
    rss = Math.max(rss, m.rss - base.rss);
  };
  const timer = setInterval(sample, 5);
  try {
    const value = await work();
    sample();
    return { value, held, rss };
  } finally {
    clearInterval(timer);
  }
}

test.serial('a 64 MB cell is replaced by the marker and never held whole: memory held grows by a few MB at most', async (t) => {
  if (testPgKind === 'pglite') return t.pass('PGlite: a 64 MB value is beyond the embedded server');
  const { value: r, held, rss } = await heldWhile(() =>
    direct.run(req(`SELECT 1 AS id, repeat('x', 64 * 1024 * 1024) AS huge, 'small' AS tail`, { maxCellBytes: MB, statementTimeoutMs: 60_000 })),
  );
  t.deepEqual(r.rows, [[1, omittedCell(64 * MB, MB), 'small']]);
  t.is(r.cellsOmitted, 1);
  t.false(r.truncated);
  t.log(`peak growth: held (heap + buffers after GC) ${(held / MB).toFixed(1)} MB, RSS ${(rss / MB).toFixed(1)} MB`);
  t.true(held < 8 * MB, `held ${(held / MB).toFixed(1)} MB`);
  t.true(rss < 48 * MB, `RSS grew ${(rss / MB).toFixed(1)} MB`);
});

test.serial('control: node-postgres holds the same 64 MB cell whole (the test above can fail)', async (t) => {
  if (testPgKind === 'pglite') return t.pass('PGlite: a 64 MB value is beyond the embedded server');
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    const { value: r, held } = await heldWhile(() => client.query(`SELECT repeat('x', 64 * 1024 * 1024) AS huge`));
    t.is((r.rows[0] as { huge: string }).huge.length, 64 * MB);
    t.log(`node-postgres held ${(held / MB).toFixed(1)} MB`);
    t.true(held >= 48 * MB, `held ${(held / MB).toFixed(1)} MB`);
  } finally {
    await client.end();
  }
});

test.serial('result bytes stop at maxResultBytes: truncatedBy bytes, and what is kept fits the budget', async (t) => {
  for (const maxResultBytes of [10_000, 55_555, 1_000]) {
    const r = await direct.run(req('SELECT body FROM wide ORDER BY id', { maxRows: 1000, maxResultBytes }));
    t.true(r.truncated);
    t.is(r.truncatedBy, 'bytes');
    const kept = r.rows.reduce((n, row) => n + Buffer.byteLength(String(row[0])), 0);
    t.true(kept <= maxResultBytes, `${kept} > ${maxResultBytes}`);
    // A row of one 1,000-byte cell costs 1,000 + the cell's and the row's overhead.
    t.is(r.rows.length, Math.floor(maxResultBytes / (1000 + CELL_OVERHEAD_BYTES + ROW_OVERHEAD_BYTES)));
    t.is(r.rowCount, r.rows.length);
  }
  // Exactly at the budget is not truncated, a byte under it is; the row cap still says rows.
  const five = 5 * (1000 + CELL_OVERHEAD_BYTES + ROW_OVERHEAD_BYTES);
  const exact = await direct.run(req('SELECT body FROM wide WHERE id <= 5', { maxResultBytes: five }));
  t.false(exact.truncated);
  const under = await direct.run(req('SELECT body FROM wide WHERE id <= 5', { maxResultBytes: five - 1 }));
  t.is(under.truncatedBy, 'bytes');
  t.is(under.rows.length, 4);
  const rows = await direct.run(req('SELECT body FROM wide', { maxRows: 3 }));
  t.is(rows.truncatedBy, 'rows');
  t.is(rows.rows.length, 3);
});

// maxResultBytes bounds the answer, not only the wire's cell text: a byte the answer's JSON spells
// in six (`\u0001`), a `t` it spells `true`, a point `(1,2)` it spells `{"x":1,"y":2}` made a
// result of maxResultBytes on the wire an answer (and an execution.result event, and the copies
// on their way out) up to six times as large, past what the process reserved for it.
test.serial('what is kept fits maxResultBytes as the answer spells it: escaped control characters, booleans, points', async (t) => {
  const maxResultBytes = 20_000;
  for (const sql of [
    `SELECT repeat(chr(1), 1000) FROM generate_series(1, 100)`,
    `SELECT repeat(chr(31) || '"', 500) FROM generate_series(1, 100)`,
    `SELECT repeat('\\', 1000) FROM generate_series(1, 100)`,
    `SELECT array_fill(true, ARRAY[500]) FROM generate_series(1, 100)`,
    `SELECT array_fill(point(1, 2), ARRAY[100]) FROM generate_series(1, 100)`,
    `SELECT json_build_array(repeat(chr(2), 1000))::jsonb FROM generate_series(1, 100)`,
  ]) {
    const r = await direct.run(req(sql, { maxRows: 1000, maxResultBytes }));
    t.is(r.truncatedBy, 'bytes', sql);
    t.true(r.rows.length > 0, sql);
    const answered = r.rows.reduce((n, row) => n + Buffer.byteLength(JSON.stringify(row)), 0);
    t.true(answered <= maxResultBytes, `${sql}: ${answered} bytes of JSON > ${maxResultBytes}`);
  }
  // Plain text still counts as its bytes: ten 1,000-byte rows where ten fit.
  const plain = await direct.run(req('SELECT body FROM wide WHERE id <= 10', { maxResultBytes: 10 * (1000 + CELL_OVERHEAD_BYTES + ROW_OVERHEAD_BYTES) }));
  t.false(plain.truncated);
  t.is(plain.rows.length, 10);
});

// Parsed, a structured value takes far more memory than its text: `{}` is 3 bytes of jsonb text and
// 64 bytes of heap, an int array's `1,` 2 bytes and an 8-byte slot. A result of maxResultBytes of
// them held 10–20 times that (and toJsonSafe's copy as much again), past the process's reservation
// of result bytes. Counted as held, the kept result stays within a small multiple of the budget.
test.serial('parsed JSON and arrays count as the memory they take: what is kept stays near maxResultBytes', async (t) => {
  if (testPgKind === 'pglite') return t.pass('PGlite: measured against real PostgreSQL');
  const maxResultBytes = 2 * MB;
  for (const sql of [
    `SELECT ('[' || repeat('{},', 10000) || '{}]')::jsonb FROM generate_series(1, 500)`,
    `SELECT ('[' || repeat('[],', 10000) || '[]]')::json FROM generate_series(1, 500)`,
    `SELECT array_fill(1, ARRAY[10000]) FROM generate_series(1, 500)`,
    `SELECT array_fill(''::text, ARRAY[10000]) FROM generate_series(1, 500)`,
  ]) {
    const { value: r, held } = await heldWhile(() => direct.run(req(sql, { maxRows: 1000, maxResultBytes, statementTimeoutMs: 60_000 })));
    t.is(r.truncatedBy, 'bytes', sql);
    t.true(r.rows.length > 0, sql);
    t.log(`${sql.slice(0, 40)}: ${r.rows.length} rows, held ${(held / MB).toFixed(1)} MB`);
    t.true(held < 3 * maxResultBytes, `${sql}: held ${(held / MB).toFixed(1)} MB`);
  }
});

// A NULL or an empty string is 0 bytes on the wire, but not in memory or in the answer's JSON (a
// null in a row array, `null,` in the body): counted at 0 bytes, 1,664 NULL columns × maxRows rows
// passed any budget — 100,000 rows held 166 M cells. Every cell and every row now costs its overhead.
test.serial('cells of 0 bytes still cost their overhead: NULLs and empty strings stop at maxResultBytes', async (t) => {
  const columns = (expr: string) => Array.from({ length: 1600 }, (_, i) => `${expr} AS c${i}`).join(', ');
  const budget = { maxRows: 5_000, maxResultBytes: 64 * 1024 };
  for (const sql of [
    `SELECT ${columns('NULL::text')} FROM generate_series(1, 3000)`,
    `SELECT ${columns("''::text")} FROM generate_series(1, 3000)`,
    `SELECT ${columns('NULL::int')} FROM generate_series(1, 3000) UNION ALL SELECT ${columns('NULL::int')}`,
  ]) {
    const r = await direct.run(req(sql, budget));
    t.true(r.truncated, sql.slice(0, 40));
    t.is(r.truncatedBy, 'bytes');
    t.true(r.rows.length * 1600 * CELL_OVERHEAD_BYTES <= budget.maxResultBytes, `${r.rows.length} rows of 1,600 cells`);
    t.true(r.rows.length > 0);
  }
  // Rows of no columns at all cost their overhead too.
  const empty = await direct.run(req('SELECT FROM generate_series(1, 100000)', { maxRows: 100_000, maxResultBytes: 1_000 }));
  t.is(empty.truncatedBy, 'bytes');
  t.true(empty.rows.length * ROW_OVERHEAD_BYTES <= 1_000 && empty.rows.length > 0, `${empty.rows.length} empty rows`);
});

test.serial('a write whose RETURNING is cut by bytes still commits in full', async (t) => {
  const r = await direct.run(req(`INSERT INTO kept SELECT g FROM generate_series(1, 500) g RETURNING id, repeat('y', 100)`, { readOnly: false, maxResultBytes: 2_000 }));
  t.is(r.truncatedBy, 'bytes');
  t.is(await count('kept'), 500);
  await admin.query('DELETE FROM kept');
});

test.serial('READ ONLY and the statement timeout hold in the pipeline (they are its first two statements)', async (t) => {
  await t.throwsAsync(direct.run(req('DELETE FROM victim')), { code: 'read_only_violation' });
  await t.throwsAsync(direct.run(req('SELECT pg_sleep(5)', { statementTimeoutMs: 200 })), { code: 'statement_timeout' });
  t.is(await count('victim'), 5);
});

test.serial('COPY cannot hang the connection: refused, and the pool still serves', async (t) => {
  await t.throwsAsync(direct.run(req('COPY victim FROM STDIN', { readOnly: false })), { code: 'execution_failed' });
  await t.throwsAsync(direct.run(req('COPY victim TO STDOUT')), { code: 'execution_failed' });
  await t.throwsAsync(direct.run(req('COPY (SELECT repeat(body, 100) FROM wide) TO STDOUT')), { code: 'execution_failed' });
  t.is((await direct.run(req('SELECT count(*)::int FROM victim'))).rows[0]![0], 5);
});

test.serial('200 concurrent statements over a pool of 2, errors and writes interleaved: every answer is its own, nothing crosses', async (t) => {
  const small = createTargetDatabase({
    connections: { t: { credentials: 'embedded://t' } },
    secrets: createEmbeddedSecrets(new Map([['t', db.url]])),
    poolSize: 2,
    maxQueue: 500,
    queueTimeoutMs: 60_000,
  });
  try {
    const jobs = Array.from({ length: 200 }, (_, i) => {
      const kind = i % 5;
      if (kind === 0) return small.run(req('SELECT 1 / ($1::int - $1::int)', { params: [i] })).then(() => `ok?${i}`, (e: GatehouseError) => `${e.code}:${i}`);
      if (kind === 1) return small.run(req('INSERT INTO kept VALUES ($1) RETURNING id', { params: [i], readOnly: false })).then((r) => `w${r.rows[0]![0]}:${i}`);
      if (kind === 2) return small.run(req('SELECT pg_sleep(0.001), $1::int', { params: [i] })).then((r) => `r${r.rows[0]![1]}:${i}`);
      if (kind === 3) return small.run(req('SELECT $1::text || repeat(\'z\', 20000)', { params: [String(i)], maxResultBytes: 100 })).then((r) => `b${r.truncatedBy}:${i}`);
      return small.run(req('SELECT n FROM generate_series(1, 50) n WHERE $1::int >= 0', { params: [i], maxRows: 3 })).then((r) => `c${r.rows.length}${r.truncatedBy}:${i}`);
    });
    const answers = await Promise.all(jobs);
    answers.forEach((a, i) => {
      const expected = [`execution_failed:${i}`, `w${i}:${i}`, `r${i}:${i}`, `bbytes:${i}`, `c3rows:${i}`][i % 5]!;
      t.is(a, expected);
    });
    t.is(await count('kept'), 40);
  } finally {
    await small.close();
    await admin.query('DELETE FROM kept');
  }
});
