// The state dir is the embedded mode's password (issue 14 item 6): its keys (dev issuer, masking,
// vote signing, checkpoint signing), server.json and the stores' socket directories are private
// because only their owner can reach them. That holds only if nobody else could write the directory before or while
// we use it, and if what we read is our own file, not someone's link or plant (attack review of
// issue 14: a state dir made 0777 beforehand let another local user plant the vote-signing or dev
// issuer key before the first start — and `gatehouse start` run as root read it happily, since a
// planted file can be 0600 and still be the planter's).
import { chmodSync, closeSync, constants, existsSync, fstatSync, mkdirSync, openSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const uid = (): number | undefined => (typeof process.getuid === 'function' ? process.getuid() : undefined);
const gid = (): number | undefined => (typeof process.getgid === 'function' ? process.getgid() : undefined);

/**
 * Every directory above `dir` must be one nobody else can replace `dir` in: root's or ours, and
 * writable by others only when sticky (like /tmp, where only an entry's owner may rename it) —
 * by its group only when that group is our own primary group (a user private group). Otherwise
 * the one who may write it can rename the state dir away and put theirs in its place at any
 * moment after the checks: PGlite opens its files by path as it goes, checkpoints are written by
 * path (attack review of issue 14, third round). The rule of OpenSSH's StrictModes.
 */
function checkAncestors(dir: string, stateDir: string, what = 'the state directory'): void {
  const me = uid();
  if (me === undefined) return; // no POSIX owners (Windows)
  const myGroup = gid();
  for (let a = dirname(resolve(dir)); ; a = dirname(a)) {
    let st;
    try {
      st = statSync(a);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (st !== undefined) {
      const mode = st.mode & 0o7777;
      if (st.uid !== 0 && st.uid !== me) {
        throw new Error(`${a}, above ${what} ${stateDir}, belongs to another user (uid ${st.uid}), who could replace ${what}: use one under a directory of your own`);
      }
      const sticky = (mode & 0o1000) !== 0;
      const othersWrite = (mode & 0o002) !== 0;
      const groupWrite = (mode & 0o020) !== 0 && st.gid !== myGroup;
      if (!sticky && (othersWrite || groupWrite)) {
        throw new Error(`${a}, above ${what} ${stateDir}, is writable by other users (mode ${mode.toString(8)}), who could replace ${what}: use one under a directory only you can write`);
      }
    }
    if (dirname(a) === a) return;
  }
}

/**
 * Creates `dir` (0700) or checks the existing one: it must be a directory of ours that no one else
 * can write, under directories no one else can rearrange (checkAncestors). Read or search bits for others are taken away (nothing could have been planted
 * through them); a directory others can write, or that belongs to another user, is refused.
 */
export function ensurePrivateDir(dir: string): void {
  // Before anything is made: nothing is created under a directory someone else may rearrange.
  checkAncestors(dir, dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // A symbolic link (in the path or as the state dir itself): its target's parents count too.
  const real = realpathSync(dir);
  if (real !== resolve(dir)) checkAncestors(real, dir);
  const st = statSync(dir);
  if (!st.isDirectory()) throw new Error(`state directory ${dir} is not a directory`);
  const me = uid();
  if (me !== undefined && st.uid !== me) throw new Error(`state directory ${dir} belongs to another user (uid ${st.uid}): use a directory of your own`);
  if ((st.mode & 0o022) !== 0) {
    throw new Error(`state directory ${dir} is writable by other users (mode ${(st.mode & 0o777).toString(8)}): anything in it may have been planted; use a new directory`);
  }
  if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/**
 * For commands that only read the state dir (`sessions`, `evidence`, `checkpoint sign`, `doctor`,
 * …): when it exists, the same checks as ensurePrivateDir — a directory others could write may
 * hold a planted session store or key, and `checkpoint sign` would sign whatever it holds. One
 * that does not exist yet is left for the command to create (or not need).
 */
export function checkStateDir(dir: string): void {
  if (existsSync(dir)) ensurePrivateDir(dir);
}

/**
 * The contents of a key file that must be ours alone: a regular file (a symbolic link is refused,
 * not followed), owned by this user, with no permission for anyone else. ENOENT passes through
 * (callers create the file then).
 */
export function readPrivateFile(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    // O_NOFOLLOW on a symbolic link: ELOOP, from the open itself.
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw new Error(`${path} is a symbolic link: a key file must be a file of its own`);
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`${path} is not a regular file`);
    const me = uid();
    if (me !== undefined && st.uid !== me) throw new Error(`${path} belongs to another user (uid ${st.uid}): it may have been planted; delete it`);
    if ((st.mode & 0o077) !== 0) throw new TypeError(`${path} is readable by others: chmod 600 it`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * A file whose content is authority (the policy: which issuers are believed, who approves what)
 * must be one nobody else could have written: root's or ours, writable by no one else (by its
 * group only when that is our primary group), under directories no one else can rearrange — its
 * link target's too. Reading it is not restricted: a policy holds no secret. Attack review of
 * issue 14, third round: a 0666 policy, or another user's, ruled the gateway from its next start.
 */
export function checkTrustedFile(path: string, what: string): void {
  const me = uid();
  if (me === undefined) return;
  checkAncestors(path, path, what);
  let real: string;
  try {
    real = realpathSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // the loader says it is missing
    throw e;
  }
  if (real !== resolve(path)) checkAncestors(real, path, what);
  const st = statSync(real);
  const mode = st.mode & 0o7777;
  if (st.uid !== 0 && st.uid !== me) throw new Error(`${what} ${path} belongs to another user (uid ${st.uid}): they decide what it says; use a file of your own`);
  if ((mode & 0o002) !== 0 || ((mode & 0o020) !== 0 && st.gid !== gid())) {
    throw new Error(`${what} ${path} is writable by other users (mode ${mode.toString(8)}): anyone who can write it decides who may do what; chmod go-w it`);
  }
}
