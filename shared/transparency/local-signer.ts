// The local checkpoint signer: an ECDSA P-256 key in a file of its own under the state dir (0600),
// apart from the session store, the dev issuer's key and the masking key. The server's request
// path never opens it; `gatehouse start` runs the signer as a step of its own.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readPrivateFile } from '../private-files.ts';
import type { CheckpointSigner } from './checkpoint.ts';

export const LOCAL_KEY_FILE = 'checkpoint-signing-key.pem';
export const LOCAL_PUBLIC_KEY_FILE = 'checkpoint-public-key.pem';

export function localKeyPaths(stateDir: string): { key: string; publicKey: string } {
  return { key: join(stateDir, LOCAL_KEY_FILE), publicKey: join(stateDir, LOCAL_PUBLIC_KEY_FILE) };
}

/** Loads the key, generating it on first use (and writing its public half beside it). */
export function localSigner(stateDir: string, options: { create?: boolean } = {}): CheckpointSigner {
  const paths = localKeyPaths(stateDir);
  let key: KeyObject | undefined;
  const load = (): KeyObject => {
    if (key) return key;
    if (!existsSync(paths.key)) {
      if (options.create === false) throw new Error(`no checkpoint signing key at ${paths.key}`);
      mkdirSync(dirname(paths.key), { recursive: true, mode: 0o700 });
      const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      // wx: two processes starting at once must not each write a key; the loser reads the winner's.
      try {
        writeFileSync(paths.key, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }), { flag: 'wx', mode: 0o600 });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
    // Read only as a file of ours alone (not a link, not another user's, not readable by others):
    // whoever planted or could read this key could sign checkpoints of any log.
    key = createPrivateKey(readPrivateFile(paths.key));
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new Error(`${paths.key} is not an EC P-256 private key`);
    }
    const pub = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
    if (!existsSync(paths.publicKey) || readFileSync(paths.publicKey, 'utf8') !== pub) writeFileSync(paths.publicKey, pub, { mode: 0o644 });
    return key;
  };
  return {
    describe: paths.key,
    async publicKeyPem() {
      return createPublicKey(load()).export({ type: 'spki', format: 'pem' }).toString();
    },
    async sign(message: Buffer) {
      return sign('sha256', message, load());
    },
  };
}
