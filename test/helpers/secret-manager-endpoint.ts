// Preloaded (`node --import tsx --import ./test/helpers/secret-manager-endpoint.ts …`) into a
// Functions Framework child process by test/functions/deployed-shape.e2e.test.ts. The deployed
// configuration (shared/config.ts configFromEnv → createSecretSource) builds its
// SecretManagerServiceClient with no options, and the library reads no environment variable for
// its endpoint (only GOOGLE_CLOUD_UNIVERSE_DOMAIN, which keeps TLS on port 443): there is no
// emulator variable to set. So, in the test's child process only, the library's exported client
// class is replaced, before anything imports it, by a subclass that adds the endpoint of the
// Secret Manager test server (test/helpers/secret-manager-server.ts). Everything else — the
// adapter, the client library, its gRPC request and response — is the real code.
import { createRequire } from 'node:module';

const port = Number(process.env.GATEHOUSE_TEST_SECRET_MANAGER_PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error('secret-manager-endpoint: GATEHOUSE_TEST_SECRET_MANAGER_PORT is not set');

const require = createRequire(import.meta.url);
const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
const library = require('@google-cloud/secret-manager') as { SecretManagerServiceClient: new (opts?: Record<string, unknown>) => unknown };
const Base = library.SecretManagerServiceClient;
class TestServerClient extends (Base as new (opts?: Record<string, unknown>) => object) {
  constructor(opts: Record<string, unknown> = {}) {
    super({ projectId: 'test-project', ...opts, apiEndpoint: '127.0.0.1', port, sslCreds: grpc.credentials.createInsecure() });
  }
}
library.SecretManagerServiceClient = TestServerClient as never;
