// The embedded mode's masking key: 32 random bytes made on first start, kept 0600 in the state dir
// (like the dev issuer's key), registered as `embedded://masking-key`. Deleting it changes every
// `hash` pseudonym from then on.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPrivateFile } from '../shared/private-files.ts';

export const EMBEDDED_MASKING_KEY_REF = 'embedded://masking-key';

export function loadOrCreateMaskingKey(stateDir: string): string {
  const path = join(stateDir, 'masking.key');
  try {
    return readPrivateFile(path).trim();
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
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readPrivateFile(path).trim();
    throw e;
  }
}
