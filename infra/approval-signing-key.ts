// The embedded mode's vote-signing key (issue 14): an EC P-256 private key made on first start,
// kept 0600 in the state dir apart from the masking key, registered as
// `embedded://approval-signing-key`. The approval desk signs every vote with it; a redemption
// believes only votes that verify with its public half. Deleting it makes every vote signed so
// far unverifiable: approvals granted before then can no longer be redeemed (ask again).
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPrivateFile } from '../shared/private-files.ts';

export const EMBEDDED_SIGNING_KEY_REF = 'embedded://approval-signing-key';

export function signingKeyPath(stateDir: string): string {
  return join(stateDir, 'approval-signing.key');
}

export function loadOrCreateSigningKey(stateDir: string): string {
  const path = signingKeyPath(stateDir);
  try {
    return readPrivateFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  // `wx`: two first starts at once cannot both write; the loser reads the winner's key.
  try {
    writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
    return pem;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readPrivateFile(path);
    throw e;
  }
}
