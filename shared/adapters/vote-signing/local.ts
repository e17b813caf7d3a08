// The vote-signing key as a PEM (PKCS#8, EC P-256) read through the SecretSource: locally the
// state dir's `approval-signing.key` (infra/approval-signing-key.ts), self-hosted any `env://` or
// `secret://` reference. The key is read on first use and kept in memory.
import { createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { GatehouseError, isGatehouseError } from '../../errors.ts';
import type { VoteSigner } from '../../ports.ts';

export function createLocalVoteSigner(readPem: () => Promise<string>): VoteSigner {
  let loaded: Promise<{ key: KeyObject; publicPem: string; keyId: string }> | undefined;
  const load = () =>
    (loaded ??= (async () => {
      let pem: string;
      try {
        pem = await readPem();
      } catch (e) {
        if (isGatehouseError(e)) throw e;
        throw new GatehouseError('approvals_unavailable', 'the approval signing key could not be read', undefined, { cause: e });
      }
      return fromPem(pem);
    })().catch((e: unknown) => {
      loaded = undefined; // not cached: the next vote tries again
      throw e;
    }));
  return {
    async sign(payload) {
      const { key, keyId } = await load();
      return { keyId, signature: sign('sha256', payload, { key, dsaEncoding: 'der' }) };
    },
    async publicKeyPem() {
      return (await load()).publicPem;
    },
  };
}

function fromPem(pem: string): { key: KeyObject; publicPem: string; keyId: string } {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    // Never the parser's message: it could quote part of the key.
    throw new GatehouseError('approvals_unavailable', 'the approval signing key is not a PEM private key');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new GatehouseError('approvals_unavailable', 'the approval signing key must be an EC P-256 key');
  }
  const publicKey = createPublicKey(key);
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  return { key, publicPem, keyId: keyIdOf(publicPem) };
}

/** `local:` + the first 16 hex of sha256(SPKI DER): names the key without revealing anything. */
export function keyIdOf(publicPem: string): string {
  const der = createPublicKey(publicPem).export({ type: 'spki', format: 'der' });
  return `local:${createHash('sha256').update(der).digest('hex').slice(0, 16)}`;
}
