import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../infra/embedded-postgres.ts';
import { createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import { verifyChain } from '../../shared/audit/chain.ts';

const stateDir = mkdtempSync(join(tmpdir(), 'gatehouse-embedded-'));
const dataDir = join(stateDir, 'session-db');
test.after.always(() => rmSync(stateDir, { recursive: true, force: true }));

test('only loopback addresses are served: PGlite lets anyone in', async (t) => {
  await t.throwsAsync(startEmbeddedPostgres({ dataDir, host: '0.0.0.0' }), { instanceOf: TypeError });
});

// The rest share one data directory, in order: initdb takes seconds.
test.serial('the session store keeps its log across restarts, and one data directory admits one server', async (t) => {
  let started = performance.now();
  const first = await startEmbeddedPostgres({ dataDir, maxConnections: 20 });
  t.log(`first start (initdb): ${Math.round(performance.now() - started)} ms`);
  let firstStopped = false;
  t.teardown(async () => {
    if (!firstStopped) await first.stop();
  });
  t.regex(first.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
  await t.throwsAsync(startEmbeddedPostgres({ dataDir }), { message: /in use/ });

  started = performance.now();
  const log = await createPostgresSessionLog({ connectionString: first.url, poolSize: 5 });
  t.log(`session log schema on a fresh store: ${Math.round(performance.now() - started)} ms`);
  const written = await log.append('restart-1', [
    { type: 'request', data: { sql: 'SELECT 1' } },
    { type: 'decision', data: { action: 'allow' } },
  ]);
  await log.close();
  await first.stop();
  firstStopped = true;
  await t.notThrowsAsync(first.stop(), 'stop is idempotent');

  started = performance.now();
  const again = await startEmbeddedPostgres({ dataDir, maxConnections: 20 });
  t.log(`restart: ${Math.round(performance.now() - started)} ms`);
  t.teardown(() => again.stop());
  const reopened = await createPostgresSessionLog({ connectionString: again.url, poolSize: 5 });
  t.teardown(() => reopened.close());
  const stored = await reopened.read('restart-1');
  t.deepEqual(stored, written);
  t.deepEqual(verifyChain('restart-1', stored), []);
});

test.serial('concurrent extended-protocol queries from many connections each get their own answer', async (t) => {
  const server = await startEmbeddedPostgres({ dataDir, maxConnections: 20 });
  t.teardown(() => server.stop());
  // A confused exchange hangs rather than fails: bound it, so the test reports instead of stalling.
  const pool = new pg.Pool({ connectionString: server.url, max: 10, query_timeout: 10_000 });
  t.teardown(() => pool.end());
  const errors: unknown[] = [];
  pool.on('error', (e) => errors.push(e));
  // Parameterised queries outside transactions, inside transactions, and failing ones, mixed:
  // unpatched pglite-socket interleaves their Parse/Bind/Execute on its one session.
  const answers = await Promise.all(
    Array.from({ length: 300 }, async (_, i) => {
      if (i % 3 === 0) {
        const c = await pool.connect();
        try {
          await c.query('BEGIN');
          const r = await c.query('SELECT $1::int AS n', [i]);
          await c.query('COMMIT');
          return r.rows[0].n === i;
        } finally {
          c.release();
        }
      }
      if (i % 7 === 0) {
        const e = await pool.query('SELECT 1 / $1::int', [0]).then(() => undefined, (err: { code?: string }) => err);
        return e?.code === '22012';
      }
      const r = await pool.query('SELECT $1::int AS n, $2::text AS s', [i, `x${i}`]);
      return r.rows[0].n === i && r.rows[0].s === `x${i}`;
    }),
  );
  t.deepEqual(answers.filter((ok) => !ok).length, 0);
  t.deepEqual(errors, []);
});
