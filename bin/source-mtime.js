// The newest modification time of anything dist/ is compiled from: the build records it
// (scripts/build-dist.ts) and bin/gatehouse.js compares, so a stale dist/ is never run. Plain
// JavaScript with no dependency: it runs before anything is compiled or loaded.
import { readdirSync, readFileSync, statSync } from 'node:fs';

export const SOURCE_DIRS = ['shared', 'functions', 'infra', 'bin'];
const SOURCE_FILES = ['package.json', 'tsconfig.json', 'tsconfig.dist.json'];

/** `base` (the repository, ending with a slash).  Directories count too: deleting a file changes its folder's time. */
export function newestSourceMtime(base) {
  let newest = 0;
  const visit = (dir) => {
    newest = Math.max(newest, statSync(dir).mtimeMs);
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) visit(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of SOURCE_DIRS) visit(`${base}${d}`);
  for (const f of SOURCE_FILES) newest = Math.max(newest, statSync(`${base}${f}`).mtimeMs);
  return newest;
}

/**
 * Whether dist/ under `base` (the repository, ending with a slash) was built from the source as
 * it is: dist/.built holds the newest source time at build, and anything newer means stale.
 */
export function distIsCurrent(base) {
  let built;
  try {
    built = JSON.parse(readFileSync(`${base}dist/.built`, 'utf8')).sourceMtimeMs;
  } catch {
    return false;
  }
  return newestSourceMtime(base) <= built;
}
