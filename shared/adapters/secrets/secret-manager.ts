// `secret://projects/P/secrets/S/versions/V` → Google Secret Manager. The client library is
// imported on first use only: importing it costs ~300 ms, which a deployment with env:// or
// embedded:// credentials should never pay. Values are cached for a short TTL so a burst of new
// pools does not become a burst of Secret Manager calls, yet a rotated secret is picked up.
import { GatehouseError } from '../../errors.ts';
import type { SecretSource } from '../../ports.ts';

const SECRET_REF = /^secret:\/\/(projects\/[A-Za-z0-9._:-]+\/secrets\/[A-Za-z0-9_-]+\/versions\/(?:latest|[1-9][0-9]*))$/;

/** The version's resource name a `secret://…` reference names, or undefined when malformed. */
export function secretVersionOf(ref: string): string | undefined {
  return SECRET_REF.exec(ref)?.[1];
}

export interface SecretManagerOptions {
  /**
   * Passed to SecretManagerServiceClient (projectId, credentials, and for tests apiEndpoint,
   * port and sslCreds).
   */
  readonly clientOptions?: Readonly<Record<string, unknown>>;
  /** How long a value is reused; default 5 minutes. */
  readonly ttlMs?: number;
  /** Total time for one access, retries included; default 10 s (the library's own is 10 min). */
  readonly timeoutMs?: number;
  /** Milliseconds since the epoch; default Date.now. */
  readonly clock?: () => number;
}

export interface SecretManagerSecrets extends SecretSource {
  /** Closes the gRPC channel, if one was opened. */
  close(): Promise<void>;
}

interface AccessClient {
  accessSecretVersion(
    request: { name: string },
    options: { timeout: number },
  ): Promise<[{ payload?: { data?: Uint8Array | string | null } | null }, ...unknown[]]>;
  close(): Promise<void>;
}

// google.rpc.Code values the library reports as `code`.
const NOT_FOUND = 5;
const PERMISSION_DENIED = 7;
const FAILED_PRECONDITION = 9;
const INVALID_ARGUMENT = 3;

export function createSecretManagerSecrets(options: SecretManagerOptions = {}): SecretManagerSecrets {
  const { clientOptions = {}, ttlMs = 5 * 60_000, timeoutMs = 10_000, clock = Date.now } = options;
  if (!(Number.isFinite(ttlMs) && ttlMs >= 0)) throw new TypeError('secret manager: ttlMs must be a non-negative number');
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new TypeError('secret manager: timeoutMs must be a positive number');

  const cache = new Map<string, { readonly value: string; readonly expiresAt: number }>();
  const inFlight = new Map<string, Promise<string>>();
  let client: Promise<AccessClient> | undefined;

  function clientOnce(): Promise<AccessClient> {
    client ??= import('@google-cloud/secret-manager').then(
      ({ SecretManagerServiceClient }) => new SecretManagerServiceClient({ ...clientOptions } as ConstructorParameters<typeof SecretManagerServiceClient>[0]) as unknown as AccessClient,
    );
    // A failed import or construction is retried on the next access.
    client.catch(() => (client = undefined));
    return client;
  }

  async function access(name: string): Promise<string> {
    let response: Awaited<ReturnType<AccessClient['accessSecretVersion']>>[0];
    try {
      const c = await clientOnce();
      [response] = await c.accessSecretVersion({ name }, { timeout: timeoutMs });
    } catch (e) {
      throw accessError(name, e);
    }
    const data = response.payload?.data;
    const value = (typeof data === 'string' ? data : data ? Buffer.from(data).toString('utf8') : '').trim();
    if (value === '') throw new GatehouseError('secret_not_found', `secret ${name} is empty`, { secret: name });
    cache.set(name, { value, expiresAt: clock() + ttlMs });
    return value;
  }

  return {
    async resolve(ref) {
      const name = secretVersionOf(ref);
      if (name === undefined) {
        throw new GatehouseError('secret_not_found', 'not a secret://projects/P/secrets/S/versions/V reference');
      }
      const cached = cache.get(name);
      if (cached && clock() < cached.expiresAt) return cached.value;
      // Concurrent first uses share one call.
      let pending = inFlight.get(name);
      if (!pending) {
        pending = access(name).finally(() => inFlight.delete(name));
        inFlight.set(name, pending);
      }
      return pending;
    },

    async close() {
      const opened = client;
      client = undefined;
      if (opened) await opened.then((c) => c.close()).catch(() => {});
    },
  };
}

/** Names the secret resource and what went wrong; the cause is the library's error, which holds no value. */
function accessError(name: string, e: unknown): GatehouseError {
  const code = (e as { code?: unknown } | null)?.code;
  const details = { secret: name, ...(typeof code === 'number' ? { grpcCode: code } : {}) };
  switch (code) {
    case NOT_FOUND:
    case INVALID_ARGUMENT:
      return new GatehouseError('secret_not_found', `secret ${name} not found`, details, { cause: e });
    case PERMISSION_DENIED:
      return new GatehouseError('secret_unavailable', `secret ${name}: permission denied`, details, { cause: e });
    case FAILED_PRECONDITION:
      return new GatehouseError('secret_unavailable', `secret ${name}: version is disabled or destroyed`, details, { cause: e });
    default:
      return new GatehouseError('secret_unavailable', `secret ${name} is unavailable`, details, { cause: e });
  }
}
