// `npm run build` (first half) and `npm ci` (through `prepare`): the CLI and the local server
// compiled to JavaScript in dist/, so `gatehouse` starts without compiling TypeScript at every
// call (docs/design.md#fast-start). tsc with tsconfig.dist.json rewrites the `.ts` import
// specifiers to `.js`; the non-TypeScript files the code reads beside itself (SQL, the seed, the
// report's template and scripts) are copied next to it. The output is built beside dist/ and
// renamed into place, so a failed build leaves the previous one or none, never half of one.
//
// `--if-possible` (the `prepare` hook): a failure is reported and exits 0 — `gatehouse` then runs
// the TypeScript through tsx, slower but correct — so an odd machine cannot fail `npm ci`.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newestSourceMtime, SOURCE_DIRS } from '../bin/source-mtime.js';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const ifPossible = process.argv.includes('--if-possible');
const out = join(root, 'dist');
const staging = `${out}.partial-${process.pid}`;
// The launchers that load TypeScript through tsx; their compiled replacements are in dist/.
const NOT_COPIED = new Set(['bin/gatehouse.js', 'bin/source-mtime.js', 'bin/source-mtime.d.ts', 'infra/embedded-databases.child.js']);

const started = performance.now();
try {
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  if (!existsSync(tsc)) throw new Error('typescript is not installed (npm ci without --omit=dev installs it)');
  // Taken before compiling: an edit made while tsc runs makes this build stale, as it should.
  const sourceMtimeMs = newestSourceMtime(`${root}/`);
  rmSync(staging, { recursive: true, force: true });
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.dist.json'), '--outDir', staging], { cwd: root, stdio: 'inherit' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`tsc -p tsconfig.dist.json failed (exit ${r.status ?? r.signal})`);
  for (const d of SOURCE_DIRS) {
    cpSync(join(root, d), join(staging, d), {
      recursive: true,
      filter: (src) => {
        const rel = src.slice(root.length + 1);
        return statSync(src).isDirectory() || (!/\.[mc]?tsx?$/.test(src) && !NOT_COPIED.has(rel));
      },
      // A compiled file wins over an asset of the same name (there is none today).
      force: false,
    });
  }
  writeFileSync(join(staging, '.built'), JSON.stringify({ sourceMtimeMs, builtAt: new Date().toISOString() }) + '\n');
  rmSync(out, { recursive: true, force: true });
  renameSync(staging, out);
  console.log(`built dist/ in ${((performance.now() - started) / 1000).toFixed(1)} s (bin/gatehouse.js now runs it)`);
} catch (e) {
  rmSync(staging, { recursive: true, force: true });
  console.error(`build of dist/ failed: ${e instanceof Error ? e.message : String(e)}`);
  if (ifPossible) console.error('gatehouse will run the TypeScript through tsx instead (slower); run `npm run build` to retry');
  else process.exitCode = 1;
}
