// The build (scripts/build.ts, `npm run build`) produces what Cloud Functions deploys, and that
// output runs on plain Node.js: the Functions Framework's own CLI, no tsx loader, the working
// directory the output folder (the source root on Cloud Functions), the repository's node_modules
// linked in (the buildpack's `npm ci`, without the network). The test policy is the one the build
// copied in: GATEHOUSE_POLICY is left unset, so the function finds gatehouse.policy.yaml by its
// deployed default. A bot reads (200), is denied a DROP TABLE (403); the session log is read back
// from PostgreSQL and every chain verified.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import pg from 'pg';
import { devIssuerRoutes, loadOrCreateDevKey, mintDevToken } from '../../infra/dev-issuer.ts';
import { freePort } from '../../infra/free-port.ts';
import { startLocalServer } from '../../infra/local-server.ts';
import { verifyChain } from '../../shared/audit/chain.ts';
import { createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import { listFiles } from '../../scripts/build-steps.ts';
import { startFunctionProcess, stopFunctionProcesses, type FunctionProcess } from '../helpers/function-process.ts';
import { testPolicy, TEST_AUDIENCE, TEST_MASKING_KEY, TEST_SIGNING_KEY } from '../helpers/gateway.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';

const SUITE = 'built source (test/build/built-source.test.ts)';
const ROOT = new URL('../../', import.meta.url).pathname;
const BOT = 'review-bot@acme-prod.iam.gserviceaccount.com';

interface BuildRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function build(...args: string[]): Promise<BuildRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/build.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const tempDir = (t: { teardown(fn: () => void): void }) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-build-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

test('an invalid --policy fails the build with the loader\'s message and leaves no output', async (t) => {
  const dir = tempDir(t);
  const policy = join(dir, 'bad.policy.yaml');
  writeFileSync(policy, testPolicy('http://127.0.0.1:1/dev').replace('action: allow', 'action: permit'));
  // A previous build's output: it must not survive a failed build looking deployable.
  const out = join(dir, 'out');
  mkdirSync(join(out, 'functions'), { recursive: true });
  writeFileSync(join(out, 'functions/index.js'), '// an earlier build\n');
  writeFileSync(join(out, 'package.json'), '{}\n');

  const r = await build('--policy', policy, '--out', out);
  t.not(r.code, 0, r.stdout);
  t.regex(r.stderr, /^build failed: /);
  t.true(r.stderr.includes(`${policy}:`), r.stderr);
  t.regex(r.stderr, /rules\[0\]\.action/, r.stderr);
  t.false(existsSync(out), 'no output directory after a failed build');
  t.deepEqual(readdirSync(dir), ['bad.policy.yaml'], 'nothing half-written beside it either');
});

test('the build refuses to delete an --out folder that is not a build output', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'keep.txt'), 'mine\n');
  const r = await build('--out', dir);
  t.not(r.code, 0);
  t.regex(r.stderr, /does not look like a previous build output/);
  t.deepEqual(readdirSync(dir), ['keep.txt']);
});

if (!process.env.GATEHOUSE_TEST_PG_URL) {
  const reason = `${SUITE}: SKIPPED — the built query function against PostgreSQL: GATEHOUSE_TEST_PG_URL is not set: run with \`npm test\``;
  console.error(`\n${'!'.repeat(100)}\n!!! ${reason}\n${'!'.repeat(100)}\n`);
  test.skip(reason, () => {});
} else {
  test('the built query function runs on plain Node.js: a read, a denied DDL, a verified session log', async (t) => {
    t.timeout(120_000);
    const dir = tempDir(t);
    const fns: FunctionProcess[] = [];
    const closers: (() => Promise<unknown>)[] = [async () => stopFunctionProcesses(fns)];
    t.teardown(async () => {
      for (const close of closers.reverse()) await close().catch(() => {});
    });

    // The test issuer: a JWKS over HTTP; its URL goes into the policy the build is given.
    const issuerPort = await freePort();
    const issuer = `http://127.0.0.1:${issuerPort}/dev`;
    const key = await loadOrCreateDevKey(dir);
    const issuerServer = await startLocalServer({ host: '127.0.0.1', port: issuerPort, routes: [], raw: [devIssuerRoutes(key, issuer)] });
    closers.push(() => issuerServer.close());
    const policyPath = join(dir, 'policy.yaml');
    writeFileSync(policyPath, testPolicy(issuer));
    const policySha = createHash('sha256').update(readFileSync(policyPath)).digest('hex');

    const out = join(dir, 'out');
    const built = await build('--policy', policyPath, '--out', out);
    t.is(built.code, 0, built.stderr);
    t.true(built.stdout.includes(policySha), built.stdout);

    // What is deployed: compiled code and its assets, the package files, the policy; nothing else.
    const files = listFiles(out);
    t.deepEqual(files.filter((f) => /\.[mc]?tsx?$/.test(f)), [], 'no TypeScript in the output');
    t.deepEqual(files.filter((f) => !/^(shared|functions)\//.test(f)), ['gatehouse.policy.yaml', 'package-lock.json', 'package.json']);
    t.true(files.includes('functions/index.js'));
    t.true(files.includes('shared/adapters/postgres-store/schema.sql'), 'SQL assets are copied');
    t.true(files.includes('shared/evidence/report/client/main.js'), 'report assets are copied');
    t.deepEqual(readFileSync(join(out, 'gatehouse.policy.yaml')), readFileSync(policyPath));
    const pkg = JSON.parse(readFileSync(join(out, 'package.json'), 'utf8'));
    t.is(pkg.main, 'functions/index.js');
    t.is(pkg.type, 'module');
    t.false('gcp-build' in (pkg.scripts ?? {}) || 'build' in (pkg.scripts ?? {}), 'the buildpack must not build again');
    t.false('bin' in pkg);
    t.deepEqual(pkg.dependencies, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).dependencies);

    // The target and the session log, each a real PostgreSQL database.
    const target: TestDatabase = await createTestDatabase();
    closers.push(() => target.drop());
    const audit: TestDatabase = await createTestDatabase();
    closers.push(() => audit.drop());
    const admin = new pg.Pool({ connectionString: target.url, max: 2 });
    admin.on('error', () => {});
    closers.push(() => admin.end());
    await admin.query(`CREATE TABLE orders (id int PRIMARY KEY, total numeric(10,2) NOT NULL);
      INSERT INTO orders SELECT g, g * 1.5 FROM generate_series(1, 5) g`);

    symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'), 'dir');
    const query = await startFunctionProcess({
      target: 'query',
      source: join(out, 'functions/index.js'),
      cwd: out,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: 'production',
        METADATA_SERVER_DETECTION: 'none',
        GATEHOUSE_SESSION_STORE: audit.url,
        GATEHOUSE_MASKING_KEY: 'env://TEST_MASKING_KEY',
        TEST_MASKING_KEY,
        GATEHOUSE_APPROVAL_SIGNING_KEY: 'env://TEST_SIGNING_KEY',
        TEST_SIGNING_KEY,
        GATEHOUSE_TEST_TARGET_URL: target.url, // the test policy's `credentials: env://…`
      },
    });
    fns.push(query);

    const token = await mintDevToken(key, { issuer, sub: BOT, aud: TEST_AUDIENCE, ttlSec: 600 });
    const asBot = async (body: unknown) => {
      const res = await fetch(`${query.url}/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-agent-model': 'gemini-2.5-pro-002' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      const explain = `${res.status} ${text}\n--- query output ---\n${query.output().slice(-3000)}`;
      return { status: res.status, body: JSON.parse(text), explain };
    };

    const read = await asBot({ connection: 'main', sql: 'SELECT id, total FROM orders WHERE id <= $1 ORDER BY id', params: [2] });
    t.is(read.status, 200, read.explain);
    t.is(read.body.status, 'executed');
    t.deepEqual(read.body.rows, [[1, '1.50'], [2, '3.00']]);

    const ddl = await asBot({ connection: 'main', sql: 'DROP TABLE orders' });
    t.is(ddl.status, 403, ddl.explain);
    t.is(ddl.body.status, 'denied');
    t.is(Number((await admin.query('SELECT count(*) AS n FROM orders')).rows[0].n), 5, 'the table is still there');

    // A malformed body reaches Gatehouse, not the framework's own HTML error page: our error code,
    // as JSON, and a session (functions/framework-body.ts).
    const malformed = await fetch(`${query.url}/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-agent-model': 'gemini-2.5-pro-002' },
      body: '{"connection": "main", "sql": ',
    });
    const malformedText = await malformed.text();
    t.is(malformed.status, 400, malformedText);
    t.regex(malformed.headers.get('content-type') ?? '', /^application\/json/);
    const malformedBody = JSON.parse(malformedText);
    t.is(malformedBody.error.code, 'invalid_json');

    const log = await createPostgresSessionLog({ connectionString: audit.url, poolSize: 2 });
    closers.push(() => log.close());
    const listed = await log.list({ limit: 1000 });
    const ids: string[] = [read.body.sessionId, ddl.body.sessionId];
    for (const id of ids) {
      t.true(listed.some((s) => s.sessionId === id), `session ${id} is listed`);
      const events = await log.read(id);
      t.deepEqual(events.slice(0, 3).map((e) => e.type), ['request', 'analysis', 'decision'], `session ${id}`);
      t.deepEqual(verifyChain(id, events), [], `session ${id} chain verifies`);
      // The policy decided with is the one the build copied in, found by the deployed default path.
      t.like(events.find((e) => e.type === 'decision')!.data as object, { policySha256: policySha });
    }
    t.true((await log.read(read.body.sessionId)).some((e) => e.type === 'execution.result'));
    t.truthy(malformedBody.sessionId, malformedText);
    const refused = await log.read(malformedBody.sessionId);
    t.deepEqual(verifyChain(malformedBody.sessionId, refused), []);
    t.true(JSON.stringify(refused).includes('invalid_json'), 'the refusal is recorded with its code');
    t.like((await log.read(ddl.body.sessionId)).find((e) => e.type === 'decision')!.data as object, { action: 'deny' });
  });
}
