#!/usr/bin/env node
// The installed `gatehouse` command. It runs the compiled JavaScript in dist/ (`npm run build`,
// also run by `npm ci` through `prepare`) when that is there and not older than the source;
// otherwise it loads the TypeScript through tsx, so a fresh clone and an edited tree still work —
// only slower (docs/design.md#fast-start). GATEHOUSE_TSX=1 forces the TypeScript path.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { distIsCurrent } from './source-mtime.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);

// `--version` needs no module at all.
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${JSON.parse(readFileSync(`${root}package.json`, 'utf8')).version}\n`);
  process.exit(0);
}

const compiled = `${root}dist/bin/gatehouse.js`;
if (process.env.GATEHOUSE_TSX !== '1' && existsSync(compiled) && builtIsCurrent()) {
  await import(compiled);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./gatehouse.ts');
}

/** dist/ is run only when built from the source as it is (an edit, a checkout, a new or deleted file make it stale). */
function builtIsCurrent() {
  if (distIsCurrent(root)) return true;
  if (existsSync(`${root}dist/.built`) && process.stderr.isTTY) process.stderr.write('gatehouse: dist/ is older than the source; running the TypeScript (npm run build makes it fast again)\n');
  return false;
}
