// The embedded mode's masking key: 32 random bytes made on first start, kept 0600 in the state dir
// (like the dev issuer's key), registered as `embedded://masking-key`. Deleting it changes every
// `hash` pseudonym from then on.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const EMBEDDED_MASKING_KEY_REF = 'embedded://masking-key';

export function loadOrCreateMaskingKey(stateDir: string): string {
  const path = join(stateDir, 'masking.key');
  try {
    if ((statSync(path).mode & 0o077) !== 0) throw new TypeError(`${path} is readable by others: chmod 600 it`);
    return readFileSync(path, 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32).toString('base64');
  // `wx`: two first starts at once cannot both write; the loser reads the winner's key.
  try {
    writeFileSync(path, `${key}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(path, 'utf8').trim();
    throw e;
  }
}
