// Secret Manager has no emulator. This serves AccessSecretVersion over real gRPC, from the service
// definition the client library itself ships (build/protos/protos.json), so the request the
// library sends and the response it parses are the real ones. Only that one method exists.
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export type StoredVersion = { readonly data: string } | { readonly code: grpc.status; readonly message?: string };

export interface SecretManagerServer {
  /** Options for SecretManagerServiceClient (and so for createSecretManagerSecrets' clientOptions). */
  readonly clientOptions: Record<string, unknown>;
  /** Resource name (`projects/p/secrets/s/versions/1`, or `…/latest`) → what to answer. */
  readonly versions: Map<string, StoredVersion>;
  /** Names asked for, in order. */
  readonly calls: string[];
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);

export async function startSecretManagerServer(): Promise<SecretManagerServer> {
  const json = require('@google-cloud/secret-manager/build/protos/protos.json') as Record<string, unknown>;
  const definition = protoLoader.fromJSON(json, { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    google: { cloud: { secretmanager: { v1: { SecretManagerService: { service: grpc.ServiceDefinition } } } } };
  };
  const versions = new Map<string, StoredVersion>();
  const calls: string[] = [];
  const server = new grpc.Server();
  server.addService(loaded.google.cloud.secretmanager.v1.SecretManagerService.service, {
    AccessSecretVersion(call: grpc.ServerUnaryCall<{ name: string }, unknown>, callback: grpc.sendUnaryData<unknown>) {
      const name = call.request.name;
      calls.push(name);
      const stored = versions.get(name);
      if (!stored) return callback({ code: grpc.status.NOT_FOUND, details: `Secret [${name}] not found or has no versions.` });
      if ('code' in stored) return callback({ code: stored.code, details: stored.message ?? 'refused' });
      callback(null, { name, payload: { data: Buffer.from(stored.data, 'utf8') } });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    clientOptions: { apiEndpoint: '127.0.0.1', port, sslCreds: grpc.credentials.createInsecure(), projectId: 'test-project' },
    versions,
    calls,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
