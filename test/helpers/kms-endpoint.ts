// Preloaded (`node --import tsx --import ./test/helpers/kms-endpoint.ts …`) into a Functions
// Framework child process by test/functions/checkpoint-function.e2e.test.ts, as
// secret-manager-endpoint.ts is for Secret Manager: the deployed checkpoint function builds its
// KeyManagementServiceClient with no options and the library reads no emulator variable, so in the
// test's child process only its exported client class is replaced by a subclass that adds the
// endpoint of the gRPC KMS test server (kms-server.ts). The adapter, the client library and its
// requests and responses are the real ones.
import { createRequire } from 'node:module';

const port = Number(process.env.GATEHOUSE_TEST_KMS_PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error('kms-endpoint: GATEHOUSE_TEST_KMS_PORT is not set');

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
const library = require('@google-cloud/kms') as { KeyManagementServiceClient: new (opts?: Record<string, unknown>) => unknown };
const Base = library.KeyManagementServiceClient;
class TestServerClient extends (Base as new (opts?: Record<string, unknown>) => object) {
  constructor(opts: Record<string, unknown> = {}) {
    super({ projectId: 'test-project', ...opts, apiEndpoint: '127.0.0.1', port, sslCreds: grpc.credentials.createInsecure() });
  }
}
library.KeyManagementServiceClient = TestServerClient as never;
