// Which approval desk key the CLI checks votes with (issue 14): the published key an operator or
// auditor passes (`--vote-public-key FILE`: `gatehouse approvals public-key`, or the terraform
// output), else in embedded mode the public half of the state dir's own vote-signing key. Only the
// public half ever leaves this module.
import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readPrivateFile } from '../private-files.ts';

/** A desk public key (PEM), or why there is none to check votes with. */
export type DeskKey = { readonly pem: string } | { readonly missing: string };

export function deskKey(file: string | undefined, stateDirKeyPath: string | undefined): DeskKey {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return { missing: `--vote-public-key ${file} cannot be read` };
    }
    try {
      return { pem: createPublicKey(text).export({ type: 'spki', format: 'pem' }).toString() };
    } catch {
      return { missing: `--vote-public-key ${file} is not a PEM public key` };
    }
  }
  if (stateDirKeyPath === undefined) return { missing: "no approval desk key: pass --vote-public-key FILE (the desk's published key)" };
  if (!existsSync(stateDirKeyPath)) return { missing: `no approval desk key in the state dir (${stateDirKeyPath}): pass --vote-public-key FILE` };
  // The private key is read as ours alone (a link or a planted file is refused, not followed).
  return { pem: createPublicKey(readPrivateFile(stateDirKeyPath)).export({ type: 'spki', format: 'pem' }).toString() };
}
