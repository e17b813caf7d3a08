// One reference names the approval desk's vote-signing key: `kms://…` (Cloud KMS), or any
// SecretSource reference (`embedded://approval-signing-key`, `env://VAR`, `secret://…`) whose value
// is a PKCS#8 PEM EC P-256 private key.
import type { SecretSource, VoteSigner } from '../../ports.ts';
import { createKmsVoteSigner, parseKmsRef } from './kms.ts';
import { createLocalVoteSigner } from './local.ts';

export { createKmsVoteSigner, parseKmsRef } from './kms.ts';
export { createLocalVoteSigner, keyIdOf } from './local.ts';

export function createVoteSigner(ref: string, secrets: SecretSource, kmsClientOptions?: Record<string, unknown>): VoteSigner {
  const kms = parseKmsRef(ref);
  if (kms !== undefined) return createKmsVoteSigner({ name: kms, clientOptions: kmsClientOptions });
  return createLocalVoteSigner(() => secrets.resolve(ref));
}
