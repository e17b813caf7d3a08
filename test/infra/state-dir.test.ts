// Attack review of issue 14 item 6: the state dir is the embedded mode's password. Another local
// user who could write it before the first start could plant the vote-signing key, the masking key
// or the dev issuer's key (and so mint tokens, or sign votes, the gateway believes); `gatehouse
// start` run as root read a planted 0600 file happily. A symbolic link in a key file's place is not
// followed. Each case runs against the real loaders and the real `gatehouse start`.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import test from 'ava';
import { ensurePrivateDir, readPrivateFile } from '../../shared/private-files.ts';
import { loadOrCreateSigningKey, signingKeyPath } from '../../infra/approval-signing-key.ts';
import { loadOrCreateMaskingKey } from '../../infra/masking-key.ts';
import { devKeyPath, loadOrCreateDevKey } from '../../infra/dev-issuer.ts';
import { runningServer, serverInfoPath } from '../../infra/embedded.ts';
import { localKeyPaths, localSigner } from '../../shared/transparency/local-signer.ts';

const root = mkdtempSync(join(tmpdir(), 'gh-statedir-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `s${n++}`);
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const pem = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();


/** A policy `gatehouse start` loads (its issuer never answers): enough to reach the state-dir and policy-file checks. */
const DENY_ALL_POLICY = `version: 1
issuers:
  - issuer: http://127.0.0.1:1/dev
    audience: gatehouse-local
    jwksUri: http://127.0.0.1:1/dev/jwks.json
connections:
  demo:
    credentials: embedded://demo
rules:
  - name: nothing
    action: deny
`;

test('a new state dir is made 0700; an existing one others may only read is tightened to 0700', (t) => {
  const dir = fresh();
  ensurePrivateDir(dir);
  t.is(statSync(dir).mode & 0o777, 0o700);
  const loose = fresh();
  mkdirSync(loose, { mode: 0o755 });
  chmodSync(loose, 0o755);
  ensurePrivateDir(loose);
  t.is(statSync(loose).mode & 0o777, 0o700, 'read/search for others taken away');
});

test('a state dir others can write, or that is not a directory, is refused (nothing in it is trusted)', (t) => {
  for (const mode of [0o777, 0o770, 0o702, 0o1777]) {
    const dir = fresh();
    mkdirSync(dir);
    chmodSync(dir, mode);
    t.throws(() => ensurePrivateDir(dir), { message: /writable by other users/ }, mode.toString(8));
    t.is(statSync(dir).mode & 0o7777, mode, 'left as it was: not silently "fixed"');
  }
  const file = fresh();
  writeFileSync(file, 'x');
  t.throws(() => ensurePrivateDir(file));
});

test('a state dir that belongs to another user is refused', (t) => {
  if (!isRoot) return void t.pass('needs root to chown; skipped');
  const dir = fresh();
  mkdirSync(dir, { mode: 0o700 });
  chownSync(dir, NOBODY, NOBODY);
  t.throws(() => ensurePrivateDir(dir), { message: /belongs to another user/ });
});

test('a key planted by another user (0600, theirs) is refused by every key loader, also when we are root', (t) => {
  if (!isRoot) return void t.pass('needs root to chown; skipped');
  const dir = fresh();
  ensurePrivateDir(dir);
  const plant = (path: string, text: string) => {
    mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
    writeFileSync(path, text, { mode: 0o600 });
    chownSync(path, NOBODY, NOBODY);
  };
  plant(signingKeyPath(dir), pem());
  t.throws(() => loadOrCreateSigningKey(dir), { message: /belongs to another user/ });
  plant(join(dir, 'masking.key'), 'planted-masking-key\n');
  t.throws(() => loadOrCreateMaskingKey(dir), { message: /belongs to another user/ });
  plant(devKeyPath(dir), '{}');
  return t.throwsAsync(loadOrCreateDevKey(dir), { message: /belongs to another user/ });
});

test('a symbolic link in a key file\'s place is refused, not followed (even to a private file of ours)', async (t) => {
  const dir = fresh();
  ensurePrivateDir(dir);
  const elsewhere = join(root, `elsewhere-${n++}.pem`);
  writeFileSync(elsewhere, pem(), { mode: 0o600 });
  symlinkSync(elsewhere, signingKeyPath(dir));
  t.throws(() => loadOrCreateSigningKey(dir), { message: /is a symbolic link: a key file must be a file of its own/ });
  symlinkSync(elsewhere, join(dir, 'masking.key'));
  t.throws(() => loadOrCreateMaskingKey(dir), { message: /is a symbolic link: a key file must be a file of its own/ });
  mkdirSync(join(dir, 'dev-issuer'), { mode: 0o700 });
  symlinkSync(elsewhere, devKeyPath(dir));
  await t.throwsAsync(loadOrCreateDevKey(dir), { message: /is a symbolic link: a key file must be a file of its own/ });
  // A dangling link is not "missing, so create it": writing through it would land elsewhere.
  const dangling = fresh();
  ensurePrivateDir(dangling);
  symlinkSync(join(root, 'nowhere.pem'), signingKeyPath(dangling));
  t.throws(() => loadOrCreateSigningKey(dangling));
  t.false(existsSync(join(root, 'nowhere.pem')), 'nothing was written through the link');
});

test('readPrivateFile: a key others may read is refused; ours, 0600, is read', (t) => {
  const dir = fresh();
  ensurePrivateDir(dir);
  const path = join(dir, 'k');
  writeFileSync(path, 'secret', { mode: 0o640 });
  chmodSync(path, 0o640);
  t.throws(() => readPrivateFile(path), { message: /chmod 600/ });
  chmodSync(path, 0o600);
  t.is(readPrivateFile(path), 'secret');
});

test('gatehouse start refuses a state dir others can write, before it makes or reads any key', (t) => {
  const cwd = fresh();
  mkdirSync(cwd, { mode: 0o700 });
  const state = join(cwd, 'state');
  mkdirSync(state);
  chmodSync(state, 0o777);
  writeFileSync(join(cwd, 'policy.yaml'), DENY_ALL_POLICY);
  const r = spawnSync(process.execPath, [resolve('bin/gatehouse.js'), 'start', '--policy', 'policy.yaml', '--port', '0', '--state-dir', state], { cwd, encoding: 'utf8', timeout: 120_000 });
  t.not(r.status, 0, r.stdout + r.stderr);
  t.regex(r.stderr + r.stdout, /writable by other users/);
  t.false(existsSync(join(state, 'dev-issuer')), 'no dev issuer key made in it');
  t.false(existsSync(signingKeyPath(state)), 'no vote-signing key made in it');
  t.false(existsSync(join(state, 'session-db')), 'no session store made in it');
});

test('server.json (which sockets the CLI connects to) is believed only when it is a private file of ours', (t) => {
  const dir = fresh();
  ensurePrivateDir(dir);
  t.is(runningServer(dir), undefined, 'none: no running server');
  const info = JSON.stringify({ pid: process.pid, url: 'http://127.0.0.1:1', sessionStoreUrl: 'postgres://postgres@localhost/postgres?host=/tmp/evil' });
  const elsewhere = join(root, `server-${n++}.json`);
  writeFileSync(elsewhere, info, { mode: 0o600 });
  symlinkSync(elsewhere, serverInfoPath(dir));
  t.throws(() => runningServer(dir), { message: /symbolic link/ });
  rmSync(serverInfoPath(dir));
  writeFileSync(serverInfoPath(dir), info, { mode: 0o644 });
  chmodSync(serverInfoPath(dir), 0o644);
  t.throws(() => runningServer(dir), { message: /chmod 600/ });
  chmodSync(serverInfoPath(dir), 0o600);
  t.is(runningServer(dir)?.pid, process.pid, 'ours, 0600: believed');
  if (isRoot) {
    chownSync(serverInfoPath(dir), NOBODY, NOBODY);
    t.throws(() => runningServer(dir), { message: /belongs to another user/ });
  }
});

test('a state dir that is a symbolic link to another user\'s directory is refused; one to a private directory of ours is used', (t) => {
  const ours = fresh();
  mkdirSync(ours, { mode: 0o700 });
  const link = fresh();
  symlinkSync(ours, link);
  t.notThrows(() => ensurePrivateDir(link));
  if (!isRoot) return;
  const theirs = fresh();
  mkdirSync(theirs, { mode: 0o700 });
  chownSync(theirs, NOBODY, NOBODY);
  const toTheirs = fresh();
  symlinkSync(theirs, toTheirs);
  t.throws(() => ensurePrivateDir(toTheirs), { message: /belongs to another user/ });
});

test('the checkpoint signing key is read only as a private file of ours: a link, or a key others may read, signs nothing', async (t) => {
  // Whoever planted or can read that key can sign checkpoints of any log.
  const made = fresh();
  ensurePrivateDir(made);
  await localSigner(made).publicKeyPem();
  t.is(statSync(localKeyPaths(made).key).mode & 0o777, 0o600, 'made 0600');

  const readable = fresh();
  ensurePrivateDir(readable);
  writeFileSync(localKeyPaths(readable).key, pem(), { mode: 0o644 });
  chmodSync(localKeyPaths(readable).key, 0o644);
  await t.throwsAsync(localSigner(readable).publicKeyPem(), { message: /readable by others/ });

  const linked = fresh();
  ensurePrivateDir(linked);
  const target = join(linked, 'elsewhere.pem');
  writeFileSync(target, pem(), { mode: 0o600 });
  symlinkSync(target, localKeyPaths(linked).key);
  await t.throwsAsync(localSigner(linked).publicKeyPem(), { message: /symbolic link/ });

  if (isRoot) {
    const planted = fresh();
    ensurePrivateDir(planted);
    writeFileSync(localKeyPaths(planted).key, pem(), { mode: 0o600 });
    chownSync(localKeyPaths(planted).key, NOBODY, NOBODY);
    await t.throwsAsync(localSigner(planted).publicKeyPem(), { message: /another user/ });
  }
});

test('every CLI command that takes --state-dir refuses one others can write, before reading or making anything in it', (t) => {
  const state = join(root, `open-${n++}`);
  mkdirSync(state);
  chmodSync(state, 0o777);
  for (const args of [
    ['sessions', 'list'],
    ['sessions', 'show', 'x'],
    ['checkpoint', 'sign'],
    ['checkpoint', 'public-key'],
    ['evidence', 'export', '--from', '2020-01-01', '--to', '2020-01-02', '--out', join(root, `out-${n++}`)],
    ['token', '--sub', 'alice@acme.com'],
  ]) {
    const r = spawnSync(process.execPath, [resolve('bin/gatehouse.js'), ...args, '--state-dir', state], { encoding: 'utf8', timeout: 60_000 });
    t.is(r.status, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    t.regex(r.stderr, /writable by other users/, args.join(' '));
  }
  t.deepEqual(readdirSync(state), [], 'nothing was made in it: no key, no store, no checkpoint');
  // A private one is used as before (made by the command when it does not exist yet).
  const own = join(root, `own-${n++}`);
  const ok = spawnSync(process.execPath, [resolve('bin/gatehouse.js'), 'token', '--sub', 'alice@acme.com', '--state-dir', own], { encoding: 'utf8', timeout: 60_000 });
  t.is(ok.status, 0, ok.stderr);
  t.is(statSync(own).mode & 0o777, 0o700);
});

test('a state dir inside a directory another user owns or can write is refused: they could swap it for one of their own after every check', (t) => {
  // Checking the state dir alone is not enough: whoever may write its parent can rename it away
  // and put a directory of theirs in its place at any moment after the checks — PGlite opens its
  // files by path as it goes, checkpoints are written by path, and the CLI follows server.json.
  // The same rule as OpenSSH's StrictModes: every directory above it is root's or ours, and
  // writable by no one else unless sticky (like /tmp).
  if (!isRoot) return void t.pass('needs root to chown; skipped');
  const theirs = mkdtempSync(join(tmpdir(), 'gh-parent-'));
  t.teardown(() => rmSync(theirs, { recursive: true, force: true }));
  chmodSync(theirs, 0o755);
  chownSync(theirs, NOBODY, NOBODY);
  const state = join(theirs, 'state');
  mkdirSync(state, { mode: 0o700 });
  // The attack is real: the parent's owner moves our private directory out of the way.
  const swap = spawnSync('runuser', ['-u', 'nobody', '--', 'mv', state, `${state}.ours`], { encoding: 'utf8' });
  t.is(swap.status, 0, `nobody renamed our state dir: ${swap.stderr}`);
  spawnSync('mv', [`${state}.ours`, state]);
  t.throws(() => ensurePrivateDir(state), { message: /another user|writable by other users/ });
  // A parent others may write (not sticky), a grandparent likewise.
  const open = fresh();
  mkdirSync(open);
  chmodSync(open, 0o777);
  t.throws(() => ensurePrivateDir(join(open, 'state')), { message: /writable by other users/ });
  t.throws(() => ensurePrivateDir(join(open, 'deeper', 'state')), { message: /writable by other users/ });
  // Sticky and writable by all (like /tmp), ours or root's: others cannot rename what is ours.
  const sticky = fresh();
  mkdirSync(sticky);
  chmodSync(sticky, 0o1777);
  t.notThrows(() => ensurePrivateDir(join(sticky, 'state')));
  // Through a symbolic link, the target's parents count too.
  const link = fresh();
  symlinkSync(state, link);
  t.throws(() => ensurePrivateDir(link), { message: /another user|writable by other users/ });
  t.false(existsSync(join(open, 'state')), 'nothing was made under the open parent');
});

test('gatehouse start refuses a policy file another user owns or can write (or one in a directory they could rearrange): it says who may approve what', (t) => {
  // The policy names the issuers whose tokens are believed and who approves what: whoever may
  // write it (a 0666 file, another user's file, a file in their directory) rules the gateway from
  // its next start — the same planting the state dir is guarded against (attack review, third round).
  const policyText = DENY_ALL_POLICY;
  const start = (policy: string, state: string) =>
    spawnSync(process.execPath, [resolve('bin/gatehouse.js'), 'start', '--policy', policy, '--port', '0', '--state-dir', state], { encoding: 'utf8', timeout: 120_000 });
  const cwd = fresh();
  mkdirSync(cwd, { mode: 0o700 });
  const open = join(cwd, 'open.yaml');
  writeFileSync(open, policyText);
  chmodSync(open, 0o666);
  const r1 = start(open, join(cwd, 'state1'));
  t.not(r1.status, 0);
  t.regex(r1.stderr + r1.stdout, /open\.yaml.*writable by other users/);
  t.false(existsSync(join(cwd, 'state1', 'session-db')), 'nothing started');
  // Ours and 0644: the policy is read (start then stops at its plain-HTTP issuer, a later check).
  const own = join(cwd, 'own.yaml');
  writeFileSync(own, policyText);
  chmodSync(own, 0o644);
  const r2 = start(own, join(cwd, 'state2'));
  t.not(r2.status, 0);
  t.notRegex(r2.stderr + r2.stdout, /writable by other users|belongs to another user/);
  t.regex(r2.stderr + r2.stdout, /plain HTTP/);
  if (!isRoot) return;
  const theirs = join(cwd, 'theirs.yaml');
  writeFileSync(theirs, policyText);
  chownSync(theirs, NOBODY, NOBODY);
  const r3 = start(theirs, join(cwd, 'state3'));
  t.not(r3.status, 0);
  t.regex(r3.stderr + r3.stdout, /theirs\.yaml.*belongs to another user/);
  const theirDir = mkdtempSync(join(tmpdir(), 'gh-policy-dir-'));
  t.teardown(() => rmSync(theirDir, { recursive: true, force: true }));
  writeFileSync(join(theirDir, 'p.yaml'), policyText);
  chownSync(theirDir, NOBODY, NOBODY);
  const r4 = start(join(theirDir, 'p.yaml'), join(cwd, 'state4'));
  t.not(r4.status, 0);
  t.regex(r4.stderr + r4.stdout, /belongs to another user/);
});
