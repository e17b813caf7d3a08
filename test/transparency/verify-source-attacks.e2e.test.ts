// `evidence verify --checkpoints SRC` against hostile sources and keys: what someone who can edit a
// checkpoints folder, or hand the auditor a key file, would try. Each must end in its code and a
// non-zero exit — never "ok", never a hang, never a crash. One real export (PostgreSQL, signed
// checkpoints) is attacked by every case, on copies.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { createPostgresSessionLog } from '../../shared/adapters/postgres-store/index.ts';
import type { EventDraft } from '../../shared/audit/events.ts';
import { exportEvidence } from '../../shared/evidence/export.ts';
import type { ProblemKind } from '../../shared/evidence/problems.ts';
import { verifyEvidence, type VerifyResult } from '../../shared/evidence/verify.ts';
import { signCheckpoint, type Checkpoint } from '../../shared/transparency/checkpoint.ts';
import { checkpointOnce } from '../../shared/transparency/checkpointer.ts';
import { localCheckpointing } from '../../shared/transparency/local.ts';
import { runCli } from '../evidence/helpers.ts';
import { createTestDatabase } from '../helpers/pg.ts';

const MIN = 60_000;
const T = Date.UTC(2100, 5, 1);
const work = mkdtempSync(join(tmpdir(), 'gatehouse-verify-src-'));
const stateDir = join(work, 'state');
const dir = join(work, 'export');
const publicKey = join(stateDir, 'checkpoint-public-key.pem');
const folder = join(stateDir, 'checkpoints');
let latestRoot = '';

const request = (sql: string): EventDraft => ({
  type: 'request',
  data: { endpoint: 'query', principal: { issuer: 'https://issuer.test', subject: 'bot@acme.com', email: 'bot@acme.com', groups: [] }, agent: { model: 'm' }, connection: 'main', sql },
});

test.before(async () => {
  let now = T - 30 * MIN;
  const db = await createTestDatabase();
  const log = await createPostgresSessionLog({ connectionString: db.url, poolSize: 2, clock: () => new Date(now) });
  try {
    const local = localCheckpointing(stateDir, { createKey: true });
    const sign = (at: number) => checkpointOnce({ log, signer: local.signer, store: local.store, clock: () => new Date(at) });
    await sign(T - 30 * MIN);
    now = T;
    await log.append(randomUUID(), [request('SELECT 1'), { type: 'decision', data: { action: 'allow', rule: 'r' } }]);
    now = T + 1000;
    await log.append(randomUUID(), [request('DROP TABLE customers'), { type: 'decision', data: { action: 'deny', rule: 'r' } }]);
    await sign(T + 20 * MIN);
    const checkpoints = (await local.store.list()).checkpoints;
    latestRoot = checkpoints.at(-1)!.rootHash;
    await exportEvidence(log, { from: new Date(T - 10 * MIN), to: new Date(T + 10 * MIN), out: dir, source: 'test', checkpoints, clock: () => new Date(T + 60 * MIN) });
  } finally {
    await log.close();
    await db.drop();
  }
});
test.after.always(() => rmSync(work, { recursive: true, force: true }));

function copyOfFolder(t: ExecutionContext): string {
  const d = mkdtempSync(join(tmpdir(), 'gatehouse-cps-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  cpSync(folder, d, { recursive: true });
  return d;
}

const has = (t: ExecutionContext, r: VerifyResult, kind: ProblemKind) => {
  t.false(r.ok, 'never ok');
  t.true(
    r.problems.some((p) => p.kind === kind),
    `expected ${kind}, got ${JSON.stringify(r.problems.map((p) => p.kind))}`,
  );
};

test('the genuine export verifies against its checkpoints (the baseline every attack below changes)', async (t) => {
  const r = await verifyEvidence(dir, { checkpoints: stateDir, publicKey });
  t.deepEqual(r.problems, []);
  t.true(r.ok);
});

test('a FIFO named like a checkpoint is not read (it would never end): checkpoint_unreadable', async (t) => {
  const d = copyOfFolder(t);
  execFileSync('mkfifo', [join(d, '000000000000099-000000000000000.json')]);
  const r = await Promise.race([verifyEvidence(dir, { checkpoints: d, publicKey }), new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 20_000).unref())]);
  t.not(r, 'hung', 'verify must not block on a FIFO');
  if (r !== 'hung') has(t, r, 'checkpoint_unreadable');
});

test('a folder, a link to a device, or a huge file named like a checkpoint: checkpoint_unreadable, never a crash', async (t) => {
  const d = copyOfFolder(t);
  mkdirSync(join(d, '000000000000098-000000000000000.json'));
  symlinkSync('/dev/zero', join(d, '000000000000097-000000000000000.json'));
  writeFileSync(join(d, '000000000000096-000000000000000.json'), `{"pad":"${'x'.repeat(3 * 1024 * 1024)}"}`);
  const r = await verifyEvidence(dir, { checkpoints: d, publicKey });
  has(t, r, 'checkpoint_unreadable');
  t.is(r.problems.filter((p) => p.kind === 'checkpoint_unreadable').length, 3, JSON.stringify(r.problems));
});

test('a symlink to a genuine checkpoint (a duplicate) and a truncated one: named, never ok', async (t) => {
  const d = copyOfFolder(t);
  const names = readdirSync(d).filter((n) => n.endsWith('.json')).sort();
  const last = names.at(-1)!;
  // The same checkpoint twice under another name: harmless, and still verifies.
  symlinkSync(join(d, last), join(d, `000000000000000-${'9'.repeat(15)}.json`));
  const dup = await verifyEvidence(dir, { checkpoints: d, publicKey });
  t.true(dup.ok, JSON.stringify(dup.problems));
  writeFileSync(join(d, last), readFileSync(join(folder, last), 'utf8').slice(0, 100));
  has(t, await verifyEvidence(dir, { checkpoints: d, publicKey }), 'checkpoint_unreadable');
});

test('a public key that is a folder, empty, not PEM, another curve or a private key: public_key_missing, exit 1', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'gatehouse-keys-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  const rsa = execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const files: Record<string, string | null> = {
    folder: null,
    empty: '',
    garbage: 'not a key at all',
    rsaPrivate: rsa,
    ecPrivate: readFileSync(join(stateDir, 'checkpoint-signing-key.pem'), 'utf8').replace(/[A-Za-z0-9+/]{10}/, 'AAAAAAAAAA'),
  };
  for (const [name, text] of Object.entries(files)) {
    const p = join(d, name);
    if (text === null) mkdirSync(p);
    else writeFileSync(p, text);
    const r = await verifyEvidence(dir, { checkpoints: stateDir, publicKey: p });
    has(t, r, 'public_key_missing');
  }
  const cli = await runCli(['evidence', 'verify', dir, '--checkpoints', stateDir, '--public-key', join(d, 'folder')]);
  t.is(cli.code, 1);
  t.regex(cli.stderr, /\[public_key_missing\]/);
});

test('--expect-root: upper case is the same root; with whitespace, wrong length or not hex it is never ok', async (t) => {
  const upper = await verifyEvidence(dir, { checkpoints: stateDir, publicKey, expectRoot: latestRoot.toUpperCase() });
  t.true(upper.ok, JSON.stringify(upper.problems));
  for (const bad of [` ${latestRoot}`, `${latestRoot}\n`, latestRoot.slice(0, 63), `${latestRoot}00`, latestRoot.slice(0, 62), '', 'zz'.repeat(32)]) {
    const r = await verifyEvidence(dir, { checkpoints: stateDir, publicKey, expectRoot: bad });
    has(t, r, 'root_mismatch');
  }
  // Without --checkpoints too: the pin alone is checked against the export's own root.
  has(t, await verifyEvidence(dir, { expectRoot: latestRoot.slice(0, 63) }), 'root_mismatch');
});

test('a checkpoint folder that is empty, or a file instead of a folder: not ok, with its code', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'gatehouse-empty-'));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  has(t, await verifyEvidence(dir, { checkpoints: empty, publicKey }), 'not_covered');
  has(t, await verifyEvidence(dir, { checkpoints: publicKey, publicKey }), 'checkpoint_source_unreadable');
  // gs:// without a reader (no GCP here): its code, never "no checkpoints".
  has(t, await verifyEvidence(dir, { checkpoints: 'gs://gatehouse-evidence/checkpoints', publicKey }), 'checkpoint_source_unreadable');
  has(t, await verifyEvidence(dir, { checkpoints: 'gs://', publicKey }), 'checkpoint_source_unreadable');
});

test('a source rewritten with its own key beside it: without --public-key verify says which key it used; with the published key it is checkpoint_signature_invalid', async (t) => {
  // The attacker re-signs every checkpoint with a key of their own and puts that key beside them.
  const forgedState = mkdtempSync(join(tmpdir(), 'gatehouse-forged-state-'));
  t.teardown(() => rmSync(forgedState, { recursive: true, force: true }));
  const theirs = localCheckpointing(forgedState, { createKey: true });
  const genuine = (await localCheckpointing(stateDir).store.list()).checkpoints;
  let prev: Checkpoint | undefined;
  for (const c of genuine) {
    const signed = await signCheckpoint(theirs.signer, { treeSize: c.treeSize, rootHash: c.rootHash, time: new Date(c.time) }, prev ? { fromSize: prev.treeSize, fromRoot: prev.rootHash, proof: c.consistency?.proof ?? [] } : null);
    await theirs.store.put(signed);
    prev = signed;
  }
  const alone = await runCli(['evidence', 'verify', dir, '--checkpoints', forgedState, '--json']);
  const j = JSON.parse(alone.stdout);
  t.true(j.warnings.some((w: string) => /checked with the public key kept beside them/.test(w)), 'verify says the key came from the source itself');
  const text = await runCli(['evidence', 'verify', dir, '--checkpoints', forgedState]);
  t.regex(text.stdout + text.stderr, /note: the checkpoints were checked with the public key kept beside them/);
  const pinned = await runCli(['evidence', 'verify', dir, '--checkpoints', forgedState, '--public-key', publicKey, '--json']);
  t.is(pinned.code, 1);
  t.true((JSON.parse(pinned.stdout || pinned.stderr).problems as { kind: string }[]).some((p) => p.kind === 'checkpoint_signature_invalid'));
  const published = await runCli(['evidence', 'verify', dir, '--checkpoints', stateDir, '--public-key', publicKey, '--json']);
  t.is(published.code, 0, published.stderr);
  t.false((JSON.parse(published.stdout).warnings as string[]).some((w) => /kept beside them/.test(w)), 'no note when the published key is given');
});

test('an unsigned checkpoint, and a genuine checkpoint of another log (its own key and log id), in the folder: named, never ok', async (t) => {
  const d = copyOfFolder(t);
  const latest = (await localCheckpointing(stateDir).store.list()).checkpoints.at(-1)!;
  const { signature: _dropped, ...unsigned } = latest;
  writeFileSync(join(d, `${String(latest.treeSize + 1).padStart(15, '0')}-000000000000001.json`), JSON.stringify({ ...unsigned, treeSize: latest.treeSize + 1 }));
  has(t, await verifyEvidence(dir, { checkpoints: d, publicKey }), 'checkpoint_unreadable');

  const d2 = copyOfFolder(t);
  const otherState = mkdtempSync(join(tmpdir(), 'gatehouse-other-log-'));
  t.teardown(() => rmSync(otherState, { recursive: true, force: true }));
  const other = localCheckpointing(otherState, { createKey: true });
  const foreign = await signCheckpoint(other.signer, { treeSize: latest.treeSize, rootHash: latest.rootHash, time: new Date(Date.parse(latest.time) + 1000) }, null);
  t.not(foreign.logId, latest.logId);
  writeFileSync(join(d2, `${String(latest.treeSize).padStart(15, '0')}-999999999999999.json`), JSON.stringify(foreign));
  const r = await verifyEvidence(dir, { checkpoints: d2, publicKey });
  has(t, r, 'checkpoint_signature_invalid');
  t.regex(r.problems.find((p) => p.kind === 'checkpoint_signature_invalid')!.message, /another key/);
});
