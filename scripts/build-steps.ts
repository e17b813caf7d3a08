// The steps of `npm run build` (scripts/build.ts), each small enough to read on its own.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** What is deployed: these folders, compiled by tsconfig.build.json, and nothing they do not import. */
export const SOURCE_DIRS = ['shared', 'functions'] as const;
export const ENTRY = 'functions/index.js';

const isInside = (child: string, parent: string) => child === parent || child.startsWith(parent + sep);

/**
 * The output is deleted before each build; refuse a path whose deletion would hurt: the repository
 * or an ancestor of it, a source folder, or a non-empty folder that is not a previous output.
 */
export function checkOutDir(root: string, out: string): void {
  if (isInside(root, out)) throw new Error(`--out ${out}: is the repository or contains it; refusing to delete it`);
  for (const d of SOURCE_DIRS) {
    if (isInside(out, join(root, d))) throw new Error(`--out ${out}: is inside the source folder ${d}/`);
  }
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new Error(`--out ${out}: exists and is not a directory`);
  const looksBuilt = existsSync(join(out, ENTRY)) && existsSync(join(out, 'package.json'));
  if (readdirSync(out).length > 0 && !looksBuilt) {
    throw new Error(`--out ${out}: is not empty and does not look like a previous build output (no ${ENTRY}); refusing to delete it`);
  }
}

/** tsc with tsconfig.build.json into `dir`; its diagnostics go straight to the terminal. */
export function compile(root: string, dir: string): void {
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', dir], { cwd: root, stdio: 'inherit' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed (exit ${r.status ?? r.signal})`);
  // rootDir is the repository, so anything shared/ or functions/ imports from elsewhere (infra/,
  // bin/, test/) would show up here as a folder of its own and be deployed without being meant to.
  const strays = readdirSync(dir).filter((e) => !(SOURCE_DIRS as readonly string[]).includes(e));
  if (strays.length > 0) throw new Error(`the compiled output has ${strays.map((s) => `${s}/`).join(', ')}: shared/ or functions/ import from outside themselves`);
  if (!existsSync(join(dir, ENTRY))) throw new Error(`tsc produced no ${ENTRY}`);
}

/**
 * Every non-TypeScript file of the source folders (SQL, HTML templates, browser scripts read via
 * `import.meta.url`), copied next to the compiled code, so a new asset cannot be forgotten.
 * An asset with the name of a compiled file (a `x.js` beside `x.ts`) fails the build.
 */
export function copyAssets(root: string, dir: string): void {
  for (const d of SOURCE_DIRS) {
    cpSync(join(root, d), join(dir, d), {
      recursive: true,
      force: false,
      errorOnExist: true,
      filter: (src) => statSync(src).isDirectory() || !/\.[mc]?tsx?$/.test(src),
    });
  }
}

/**
 * The deployed package.json: the root's identity and dependencies, the compiled entry point, and
 * no scripts — Google's buildpack runs a `gcp-build` script if it finds one, and this source is
 * built already — and no devDependencies or bin. `npm ci` still accepts the copied lockfile: it
 * refuses a package.json the lockfile does not satisfy, not a lockfile listing more (checked with
 * npm 10 and 11, `npm ci` and `npm ci --omit=dev`).
 */
export function deployedPackageJson(rootPkg: Record<string, unknown>): Record<string, unknown> {
  const { name, version, private: isPrivate, description, type, engines, dependencies } = rootPkg;
  if (type !== 'module') throw new Error('package.json: "type" must be "module" (the compiled output is ES modules)');
  return { name, version, private: isPrivate, description, type, main: ENTRY, engines, dependencies };
}

export function writePackageFiles(root: string, dir: string): void {
  const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(deployedPackageJson(rootPkg), null, 2)}\n`);
  cpSync(join(root, 'package-lock.json'), join(dir, 'package-lock.json'));
}

/** Every file under `dir`, relative to it, with `/` separators. */
export function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((p) => statSync(join(dir, p)).isFile())
    .map((p) => p.split(sep).join('/'))
    .sort();
}

export function totalBytes(dir: string, files: readonly string[]): number {
  return files.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

export const shown = (root: string, p: string) => (isInside(p, root) ? relative(root, p) || '.' : p);
