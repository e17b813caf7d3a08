// bin/gatehouse.js, the installed command: compiled dist/ when it is current, the TypeScript
// through tsx otherwise — so a fresh clone and an edited tree are never run from a stale build.
// Checked on a copy of the launcher in a scratch tree whose two entries say which one ran.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { newestSourceMtime } from '../../bin/source-mtime.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-launcher-'));
  for (const d of ['shared', 'functions', 'infra', 'bin', 'dist/bin']) mkdirSync(join(dir, d), { recursive: true });
  cpSync(join(repo, 'bin/gatehouse.js'), join(dir, 'bin/gatehouse.js'));
  cpSync(join(repo, 'bin/source-mtime.js'), join(dir, 'bin/source-mtime.js'));
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'gatehouse', version: '9.8.7', type: 'module' }));
  writeFileSync(join(dir, 'tsconfig.json'), '{}');
  writeFileSync(join(dir, 'tsconfig.dist.json'), '{}');
  writeFileSync(join(dir, 'shared/x.ts'), 'export {};\n');
  writeFileSync(join(dir, 'bin/gatehouse.ts'), "const which: string = 'tsx'; console.log(which, process.argv.slice(2).join(' '));\n");
  writeFileSync(join(dir, 'dist/bin/gatehouse.js'), "console.log('compiled', process.argv.slice(2).join(' '));\n");
  return dir;
}

/** Marks dist/ as built now, from the tree as it is. */
function markBuilt(dir: string): void {
  writeFileSync(join(dir, 'dist/.built'), JSON.stringify({ sourceMtimeMs: newestSourceMtime(`${dir}/`) }));
}

function run(dir: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, [join(dir, 'bin/gatehouse.js'), ...args], { env: { ...process.env, ...env }, encoding: 'utf8' }).trim();
}

/** A time safely after everything written so far (file systems round mtimes). */
function later(path: string): void {
  const t = new Date(Date.now() + 5000);
  utimesSync(path, t, t);
}

test('--version is the package version, answered before any module loads (even with broken entries)', (t) => {
  const dir = scratch();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'dist/bin/gatehouse.js'), "throw new Error('must not load');\n");
  writeFileSync(join(dir, 'bin/gatehouse.ts'), "throw new Error('must not load');\n");
  t.is(run(dir, ['--version']), '9.8.7');
  t.is(run(dir, ['-V']), '9.8.7');
});

test('a current dist/ is what runs, with the arguments', (t) => {
  const dir = scratch();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  markBuilt(dir);
  t.is(run(dir, ['token', '--sub', 'a@b']), 'compiled token --sub a@b');
});

test('no dist/.built (a fresh clone, an interrupted build): the TypeScript runs', (t) => {
  const dir = scratch();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.is(run(dir, ['x']), 'tsx x');
});

test('a source file edited after the build: the TypeScript runs, not the stale build', (t) => {
  const dir = scratch();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  markBuilt(dir);
  later(join(dir, 'shared/x.ts'));
  t.is(run(dir, ['x']), 'tsx x');
});

test('a file added or deleted after the build (its folder changes): the TypeScript runs', (t) => {
  const dir = scratch();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  markBuilt(dir);
  rmSync(join(dir, 'shared/x.ts'));
  later(join(dir, 'shared'));
  t.is(run(dir, ['x']), 'tsx x');
});

test('package.json changed after the build (a dependency update): the TypeScript runs', (t) => {
  const dir = scratch();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  markBuilt(dir);
  later(join(dir, 'package.json'));
  t.is(run(dir, ['x']), 'tsx x');
});

test('GATEHOUSE_TSX=1 forces the TypeScript even with a current build', (t) => {
  const dir = scratch();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  markBuilt(dir);
  t.is(run(dir, ['x'], { GATEHOUSE_TSX: '1' }), 'tsx x');
});

test('the real CLI (TypeScript) answers --version with package.json\'s version, and lists --version in its help', (t) => {
  const version = (JSON.parse(execFileSync('git', ['show', 'HEAD:package.json'], { cwd: repo, encoding: 'utf8' })) as { version: string }).version;
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(repo, 'bin/gatehouse.ts'), '--version'], { cwd: repo, encoding: 'utf8' }).trim();
  t.is(out, version);
  const help = execFileSync(process.execPath, ['--import', 'tsx', join(repo, 'bin/gatehouse.ts'), '--help'], { cwd: repo, encoding: 'utf8' });
  t.regex(help, /-V, --version/);
});
