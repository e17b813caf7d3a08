// Cloud KMS has no emulator. This serves AsymmetricSign and GetPublicKey over real gRPC, from the
// service definition @google-cloud/kms itself ships (build/protos/protos.json), so the requests the
// client library sends and the responses it parses are the real ones — the same pattern as
// secret-manager-server.ts. Behind it is one local EC P-256 key per key version name, signing the
// digest it is sent exactly as KMS's EC_SIGN_P256_SHA256 does (DER-encoded ECDSA).
import { createRequire } from 'node:module';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { CRC32C } from '@google-cloud/storage';
import { signDigestP256 } from './ecdsa-prehashed.ts';

function crc32c(bytes: Buffer): number {
  const c = new CRC32C();
  c.update(bytes);
  return c.valueOf() >>> 0;
}

export interface KmsServer {
  readonly clientOptions: Record<string, unknown>;
  /** Key version name → its private key; add one with addKey. */
  readonly keys: Map<string, { key: KeyObject; algorithm: string }>;
  addKey(name: string, algorithm?: string): void;
  /** Every call, `Method name`, in order. */
  readonly calls: string[];
  /** Set to answer every call with this status (an outage). */
  failWith: grpc.status | undefined;
  /** Set to flip a bit of every signature after its CRC32C is computed (corruption on the way). */
  corruptSignatures: boolean;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);

export async function startKmsServer(): Promise<KmsServer> {
  const json = require('@google-cloud/kms/build/protos/protos.json') as Record<string, unknown>;
  const definition = protoLoader.fromJSON(json, { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    google: { cloud: { kms: { v1: { KeyManagementService: { service: grpc.ServiceDefinition } } } } };
  };
  const keys = new Map<string, { key: KeyObject; algorithm: string }>();
  const calls: string[] = [];
  const state: { failWith: grpc.status | undefined; corrupt: boolean } = { failWith: undefined, corrupt: false };
  const server = new grpc.Server();
  const refuse = (name: string, callback: grpc.sendUnaryData<unknown>): boolean => {
    if (state.failWith !== undefined) {
      callback({ code: state.failWith, details: 'the service is unavailable' });
      return true;
    }
    if (!keys.has(name)) {
      callback({ code: grpc.status.NOT_FOUND, details: `CryptoKeyVersion ${name} not found.` });
      return true;
    }
    return false;
  };
  server.addService(loaded.google.cloud.kms.v1.KeyManagementService.service, {
    AsymmetricSign(call: grpc.ServerUnaryCall<{ name: string; digest?: { sha256?: Buffer }; digestCrc32c?: { value?: string } | null }, unknown>, callback: grpc.sendUnaryData<unknown>) {
      const { name, digest, digestCrc32c } = call.request;
      calls.push(`AsymmetricSign ${name}`);
      if (refuse(name, callback)) return;
      const sha256 = digest?.sha256;
      if (!sha256 || sha256.length !== 32) return callback({ code: grpc.status.INVALID_ARGUMENT, details: 'digest.sha256 must be 32 bytes' });
      // KMS signs the digest it is given: ECDSA over a prehashed SHA-256 value.
      // As KMS does: a digest CRC32C that does not match is refused; one that does is confirmed.
      if (digestCrc32c && Number(digestCrc32c.value) !== crc32c(Buffer.from(sha256))) return callback({ code: grpc.status.INVALID_ARGUMENT, details: 'digest_crc32c does not match' });
      const signature = signDigestP256(keys.get(name)!.key, Buffer.from(sha256));
      const signatureCrc32c = { value: String(crc32c(signature)) };
      if (state.corrupt) signature[signature.length - 1]! ^= 1;
      callback(null, { name, signature, signatureCrc32c, verifiedDigestCrc32c: Boolean(digestCrc32c), protectionLevel: 'SOFTWARE' });
    },
    GetPublicKey(call: grpc.ServerUnaryCall<{ name: string }, unknown>, callback: grpc.sendUnaryData<unknown>) {
      const { name } = call.request;
      calls.push(`GetPublicKey ${name}`);
      if (refuse(name, callback)) return;
      const { key, algorithm } = keys.get(name)!;
      const pem = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
      callback(null, { name, algorithm, pem, pemCrc32c: { value: String(crc32c(Buffer.from(pem, 'utf8'))) }, protectionLevel: 'SOFTWARE' });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    clientOptions: { apiEndpoint: '127.0.0.1', port, sslCreds: grpc.credentials.createInsecure(), projectId: 'test-project' },
    keys,
    calls,
    addKey(name, algorithm = 'EC_SIGN_P256_SHA256') {
      keys.set(name, { key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, algorithm });
    },
    get failWith() {
      return state.failWith;
    },
    set failWith(v) {
      state.failWith = v;
    },
    get corruptSignatures() {
      return state.corrupt;
    },
    set corruptSignatures(v) {
      state.corrupt = v;
    },
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
