// The checkpoint signer in Cloud KMS: an EC_SIGN_P256_SHA256 key version only the checkpoint
// function's service account may sign with (terraform/modules/gatehouse/checkpoints.tf). KMS signs
// the SHA-256 digest of the checkpoint's signed bytes and returns a DER ECDSA signature — exactly
// what the local key file produces (shared/transparency/local-signer.ts), so verification is the
// same for both; the checkpoint's logId (signed) is the key's, and keyId (unsigned) names the
// version for people. Integrity of the call is checked end to end as Google recommends: the digest
// is sent with its CRC32C and KMS must say it verified it; the signature's CRC32C must match the
// bytes received. The client library is imported on first use.
import { createHash } from 'node:crypto';
import type { CheckpointSigner } from '../../transparency/checkpoint.ts';

// A scheduled run waits at most this long for KMS, then fails (`signing_failed` in the status)
// and the next run tries again; the library's default retry schedule for UNAVAILABLE takes minutes.
const CALL_OPTIONS = { timeout: 10_000, maxRetries: 2 };

export const KMS_VERSION_NAME = /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+\/cryptoKeyVersions\/\d+$/;

export interface KmsCheckpointSignerOptions {
  /** The crypto key version's resource name (a `kms://` reference without its scheme). */
  readonly name: string;
  /** KeyManagementServiceClient options (tests point it at test/helpers/kms-server.ts). */
  readonly clientOptions?: Record<string, unknown>;
}

/** Why KMS could not be used; the message never holds key material (there is none here). */
export class KmsSigningError extends Error {
  override readonly name = 'KmsSigningError';
}

type KmsClient = InstanceType<typeof import('@google-cloud/kms').KeyManagementServiceClient>;

export function createKmsCheckpointSigner(options: KmsCheckpointSignerOptions): CheckpointSigner {
  if (!KMS_VERSION_NAME.test(options.name)) {
    throw new TypeError('the checkpoint key must name one crypto key version: projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/N');
  }
  const { name } = options;
  let client: Promise<KmsClient> | undefined;
  const lazyClient = () =>
    (client ??= import('@google-cloud/kms')
      .then((m) => new m.KeyManagementServiceClient((options.clientOptions ?? {}) as ConstructorParameters<typeof m.KeyManagementServiceClient>[0]))
      .catch((e: unknown) => {
        client = undefined;
        throw e;
      }));
  let publicPem: Promise<string> | undefined;

  return {
    describe: `Cloud KMS ${name}`,
    keyId: `kms:${name}`,
    async sign(message) {
      const digest = createHash('sha256').update(message).digest();
      let response: import('@google-cloud/kms').protos.google.cloud.kms.v1.IAsymmetricSignResponse;
      try {
        [response] = await (await lazyClient()).asymmetricSign({ name, digest: { sha256: digest }, digestCrc32c: { value: await crc32c(digest) } }, CALL_OPTIONS);
      } catch (e) {
        throw new KmsSigningError(`Cloud KMS did not sign: ${reason(e)}`, { cause: e });
      }
      if (response.name && response.name !== name) throw new KmsSigningError('Cloud KMS answered for another key version');
      if (response.verifiedDigestCrc32c !== true) throw new KmsSigningError('Cloud KMS did not confirm the digest it signed (verifiedDigestCrc32c): the request was corrupted on the way');
      const signature = typeof response.signature === 'string' ? Buffer.from(response.signature, 'base64') : Buffer.from(response.signature ?? []);
      if (signature.length === 0) throw new KmsSigningError('Cloud KMS returned no signature');
      const expected = int64(response.signatureCrc32c?.value);
      if (expected === undefined || expected !== (await crc32c(signature))) throw new KmsSigningError('the signature Cloud KMS returned does not match its CRC32C: corrupted on the way');
      return signature;
    },
    publicKeyPem() {
      publicPem ??= (async () => {
        try {
          const [key] = await (await lazyClient()).getPublicKey({ name }, CALL_OPTIONS);
          if (key.algorithm !== 'EC_SIGN_P256_SHA256' || !key.pem) throw new KmsSigningError(`the key's algorithm is ${String(key.algorithm)}, not EC_SIGN_P256_SHA256`);
          const pemCrc = int64(key.pemCrc32c?.value);
          if (pemCrc !== undefined && pemCrc !== (await crc32c(Buffer.from(key.pem, 'utf8')))) throw new KmsSigningError('the public key Cloud KMS returned does not match its CRC32C');
          return key.pem;
        } catch (e) {
          publicPem = undefined; // not cached: the next run asks again
          if (e instanceof KmsSigningError) throw e;
          throw new KmsSigningError(`the public key could not be read from Cloud KMS: ${reason(e)}`, { cause: e });
        }
      })();
      return publicPem;
    },
  };
}

/** CRC32C as an unsigned integer, with @google-cloud/storage's implementation (loaded on first use). */
async function crc32c(bytes: Buffer): Promise<number> {
  const { CRC32C } = await import('@google-cloud/storage');
  const c = new CRC32C();
  c.update(bytes);
  return c.valueOf() >>> 0;
}

/** An Int64Value's value as the library hands it over (a number, a decimal string, or a Long). */
function int64(v: unknown): number | undefined {
  if (v === null || v === undefined) return undefined;
  const n = Number(typeof v === 'object' ? String(v) : v);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A gRPC status, never a stack. */
function reason(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  const details = (e as { details?: unknown })?.details;
  if (typeof details === 'string' && details) return `${typeof code === 'number' ? `gRPC ${code}: ` : ''}${details}`;
  return e instanceof Error ? e.message : String(e);
}
