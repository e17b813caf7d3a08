// The vote-signing key in Cloud KMS (`kms://projects/P/locations/L/keyRings/R/cryptoKeys/K/
// cryptoKeyVersions/N`, algorithm EC_SIGN_P256_SHA256). The private key never leaves KMS: the
// approvals function's service account holds roles/cloudkms.signerVerifier on this one key, the
// query function's only roles/cloudkms.publicKeyViewer (terraform/modules/gatehouse). The client
// library is imported on first use, so a cold start that never signs or verifies never loads it.
import { createHash } from 'node:crypto';
import { GatehouseError } from '../../errors.ts';
import type { VoteSigner } from '../../ports.ts';

// Bounded: a vote (or a redemption) waits at most this long for KMS, instead of the library's
// default retry schedule for UNAVAILABLE (measured: over a minute), then answers 503.
const CALL_OPTIONS = { timeout: 10_000, maxRetries: 2 };

const VERSION_NAME = /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+\/cryptoKeyVersions\/\d+$/;

export interface KmsVoteSignerOptions {
  /** The crypto key version's resource name (a `kms://` reference without its scheme). */
  readonly name: string;
  /** KeyManagementServiceClient options (tests point it at a local gRPC server). */
  readonly clientOptions?: Record<string, unknown>;
}

export function parseKmsRef(ref: string): string | undefined {
  if (!ref.startsWith('kms://')) return undefined;
  const name = ref.slice('kms://'.length);
  if (!VERSION_NAME.test(name)) {
    throw new TypeError('a kms:// key must name one crypto key version: kms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N');
  }
  return name;
}

type KmsClient = InstanceType<typeof import('@google-cloud/kms').KeyManagementServiceClient>;

export function createKmsVoteSigner(options: KmsVoteSignerOptions): VoteSigner {
  if (!VERSION_NAME.test(options.name)) throw new TypeError('createKmsVoteSigner: name must be a crypto key version');
  const { name } = options;
  let client: Promise<KmsClient> | undefined;
  const lazyClient = () =>
    (client ??= import('@google-cloud/kms').then((m) => new m.KeyManagementServiceClient((options.clientOptions ?? {}) as ConstructorParameters<typeof m.KeyManagementServiceClient>[0])));
  let publicPem: Promise<string> | undefined;

  return {
    async sign(payload) {
      const digest = createHash('sha256').update(payload).digest();
      let signature: Uint8Array | string | null | undefined;
      try {
        const [response] = await (await lazyClient()).asymmetricSign({ name, digest: { sha256: digest } }, CALL_OPTIONS);
        signature = response.signature;
        if (response.name && response.name !== name) throw new Error('KMS answered for another key version');
      } catch (e) {
        throw unavailable('the approval desk could not sign the vote with its Cloud KMS key', e);
      }
      if (!signature || signature.length === 0) throw unavailable('Cloud KMS returned no signature', undefined);
      return { keyId: name, signature: typeof signature === 'string' ? Buffer.from(signature, 'base64') : signature };
    },
    publicKeyPem() {
      publicPem ??= (async () => {
        try {
          const [key] = await (await lazyClient()).getPublicKey({ name }, CALL_OPTIONS);
          if (key.algorithm !== 'EC_SIGN_P256_SHA256' || !key.pem) throw new Error(`the key's algorithm is ${String(key.algorithm)}, not EC_SIGN_P256_SHA256`);
          return key.pem;
        } catch (e) {
          publicPem = undefined;
          throw unavailable('the approval desk\'s public key could not be read from Cloud KMS', e);
        }
      })();
      return publicPem;
    },
  };
}

function unavailable(message: string, cause: unknown): GatehouseError {
  return new GatehouseError('approvals_unavailable', message, undefined, { cause });
}
