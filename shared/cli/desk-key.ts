// Which approval desk key the CLI checks votes with (issue 14): the published key an operator or
// auditor passes (`--vote-public-key FILE`: `gatehouse approvals public-key`, or the terraform
// output), else in embedded mode the public half of the state dir's own vote-signing key. Only the
// public half ever leaves this module.
import { existsSync, readFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { voteKeyOf } from '../evidence/votes.ts';
import { readPrivateFile } from '../private-files.ts';

/** A desk public key (PEM), or why there is none to check votes with. */
export type DeskKey = { readonly pem: string } | { readonly missing: string };

/**
 * Never throws: a key that cannot be used is a `missing` key, and every caller then fails closed
 * with `vote_public_key_missing` (as `evidence verify` does) rather than crash or check nothing.
 */
export function deskKey(file: string | undefined, stateDirKeyPath: string | undefined): DeskKey {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return { missing: `--vote-public-key ${file} cannot be read` };
    }
    return usable(text, `--vote-public-key ${file}`);
  }
  if (stateDirKeyPath === undefined) return { missing: "no approval desk key: pass --vote-public-key FILE (the desk's published key)" };
  if (!existsSync(stateDirKeyPath)) return { missing: `no approval desk key in the state dir (${stateDirKeyPath}): pass --vote-public-key FILE` };
  let privatePem: string;
  try {
    // The private key is read as ours alone (a link or a planted file is refused, not followed).
    privatePem = readPrivateFile(stateDirKeyPath);
  } catch (e) {
    return { missing: `the state dir's approval desk key cannot be used (${e instanceof Error ? e.message : String(e)}): pass --vote-public-key FILE` };
  }
  let publicPem: string;
  try {
    publicPem = createPublicKey(createPrivateKey(privatePem)).export({ type: 'spki', format: 'pem' }).toString();
  } catch {
    return { missing: `the state dir's approval desk key (${stateDirKeyPath}) is not a private key: pass --vote-public-key FILE` };
  }
  return usable(publicPem, `the state dir's approval desk key (${stateDirKeyPath})`);
}

/** The desk signs with EC P-256 (local key file or Cloud KMS): any other key proves nothing. */
function usable(text: string, what: string): DeskKey {
  const key = voteKeyOf(text);
  return typeof key === 'string' ? { missing: `${what} is ${key}` } : { pem: key.publicKeyPem };
}
