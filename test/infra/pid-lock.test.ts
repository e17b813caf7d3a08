// The pid lock that keeps two processes off one PGlite data directory or one MCP secret (shared/pid-lock.ts),
// attacked the way two `gatehouse start` on one state dir race it: real processes, real files.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { lockPidFile } from '../../shared/pid-lock.ts';

const LOCK_MODULE = process.env.GATEHOUSE_LOCK_MODULE ?? new URL('../../shared/pid-lock.ts', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'gatehouse-lock-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

const lock = (dir: string) => lockPidFile(dir, `data directory ${dir}`);
let n = 0;
const dataDir = () => join(root, `db-${++n}`);

/** The pid of a process that has exited (and was reaped): what a crashed start leaves in its lock. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

/**
 * Real processes that each try the lock once, all at the same instant, and say whether they got
 * it; a holder keeps it until every contender has answered (so a late one cannot find it free).
 */
async function race(dir: string, contenders: number): Promise<string[]> {
  // Every contender loads first, then spins to the same instant: tsx's start-up would otherwise
  // space them a few hundred milliseconds apart, and nothing would race.
  const startAt = Date.now() + 4000;
  const code = `
    const { lockPidFile } = await import(${JSON.stringify(LOCK_MODULE)});
    while (Date.now() < ${startAt});
    let release;
    try {
      release = lockPidFile(${JSON.stringify(dir)}, 'the directory');
      process.stdout.write('held');
    } catch (e) {
      process.stdout.write(/in use/.test(e.message) ? 'refused' : 'error: ' + e.message);
    }
    process.stdin.on('data', () => {});
    process.stdin.on('end', () => release?.());`;
  const children = Array.from({ length: contenders }, () => spawn(process.execPath, ['--import=tsx', '--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const answers = await Promise.all(
    children.map(
      (child) =>
        new Promise<string>((resolve, reject) => {
          child.on('error', reject);
          child.stdout.once('data', (d) => resolve(String(d)));
          child.on('close', () => resolve('no answer'));
        }),
    ),
  );
  await Promise.all(children.map((child) => new Promise((resolve) => (child.stdin.end(), child.on('close', resolve)))));
  return answers;
}

test('a held lock is refused, and released it can be taken again', (t) => {
  const dir = dataDir();
  const release = lock(dir);
  t.is(readFileSync(`${dir}.lock`, 'utf8'), String(process.pid));
  t.throws(() => lock(dir), { message: /in use/ });
  release();
  release(); // idempotent
  t.false(existsSync(`${dir}.lock`));
  lock(dir)();
});

test('a lock held by a live process is refused and left in place', (t) => {
  const dir = dataDir();
  writeFileSync(`${dir}.lock`, String(process.ppid));
  t.throws(() => lock(dir), { message: new RegExp(`in use .*process ${process.ppid}`) });
  t.is(readFileSync(`${dir}.lock`, 'utf8'), String(process.ppid));
});

test('a dead process\'s lock is taken over, and leaves no guard or temporary file behind', (t) => {
  const dir = dataDir();
  writeFileSync(`${dir}.lock`, `${deadPid()}\n`);
  const release = lock(dir);
  t.is(readFileSync(`${dir}.lock`, 'utf8'), String(process.pid));
  release();
  t.deepEqual(readdir(), [], 'nothing of the lock is left once released');

  function readdir(): string[] {
    return spawnSync('ls', ['-A', root], { encoding: 'utf8' }).stdout.split('\n').filter((f) => f.startsWith(`db-${n}`));
  }
});

test('a lock with no pid in it (one being written, or not ours) is never taken: empty, garbage, zero, negative', (t) => {
  for (const content of ['', '\n', 'garbage', '0', '-1', '12abc', '99999999999999999999']) {
    const dir = dataDir();
    writeFileSync(`${dir}.lock`, content);
    t.throws(() => lock(dir), { message: /in use/ }, JSON.stringify(content));
    t.is(readFileSync(`${dir}.lock`, 'utf8'), content, `${JSON.stringify(content)} left as it was`);
  }
});

test('a takeover guard left by a dead process stops takeovers (only a person can tell) and names itself', (t) => {
  const dir = dataDir();
  writeFileSync(`${dir}.lock`, String(deadPid()));
  writeFileSync(`${dir}.lock.takeover`, String(deadPid()));
  t.throws(() => lock(dir), { message: /\.lock\.takeover.*remove it/ });
});

// The race: every contender finds the same dead process's lock at once. Before, each removed it
// (the later ones removing the lock an earlier one had just made) and several went on.
test('starts racing for a dead process\'s lock: exactly one holds it', async (t) => {
  for (let round = 0; round < 3; round++) {
    const dir = dataDir();
    writeFileSync(`${dir}.lock`, String(deadPid()));
    const answers = await race(dir, 6);
    t.is(answers.filter((a) => a === 'held').length, 1, `round ${round}: ${answers.join(', ')}`);
    t.deepEqual(answers.filter((a) => a !== 'held' && a !== 'refused'), [], `round ${round}: no other error`);
  }
});

test('starts racing for a free directory: exactly one holds it', async (t) => {
  for (let round = 0; round < 2; round++) {
    const dir = dataDir();
    const answers = await race(dir, 6);
    t.is(answers.filter((a) => a === 'held').length, 1, `round ${round}: ${answers.join(', ')}`);
  }
});
