// The version this code was released as: package.json's, found by walking up from this module, so
// it is the same from the source tree, from dist/ (one level deeper) and from the built functions
// (whose package.json copies the root's identity). Read once, synchronously, with no dependency.
import { readFileSync } from 'node:fs';

function findVersion(): string {
  for (let dir = new URL('.', import.meta.url); ; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'gatehouse' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // no package.json here (or not ours): keep walking up
    }
    if (dir.pathname === '/') return '0.0.0-unknown';
  }
}

export const VERSION = findVersion();
