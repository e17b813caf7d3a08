// Credentials references → values, dispatched on the scheme. `check` lets configuration refuse a
// reference that could never resolve at start-up, instead of on the first request.
import { GatehouseError } from '../../errors.ts';
import type { SecretSource } from '../../ports.ts';
import { createEmbeddedSecrets, embeddedNameOf } from './embedded-secrets.ts';
import { createEnvSecrets, envVariableOf } from './env-secrets.ts';
import { createSecretManagerSecrets, secretVersionOf, type SecretManagerOptions } from './secret-manager.ts';

export { createEmbeddedSecrets } from './embedded-secrets.ts';
export { createEnvSecrets } from './env-secrets.ts';
export { createSecretManagerSecrets, type SecretManagerOptions, type SecretManagerSecrets } from './secret-manager.ts';

export interface SecretSourceOptions {
  /** For `env://VAR`; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** For `embedded://NAME`: filled by the embedded demo database when it starts. */
  readonly embedded?: ReadonlyMap<string, string>;
  /** For `secret://…`; the client library loads only when such a reference is first resolved. */
  readonly secretManager?: SecretManagerOptions;
}

export interface CompositeSecretSource extends SecretSource {
  /** Throws a TypeError for a reference no source here could resolve (unknown scheme, bad shape). */
  check(ref: string): void;
  close(): Promise<void>;
}

const SCHEMES: Readonly<Record<string, { readonly shape: string; readonly valid: (ref: string) => boolean }>> = {
  env: { shape: 'env://VARIABLE', valid: (ref) => envVariableOf(ref) !== undefined },
  embedded: { shape: 'embedded://NAME', valid: (ref) => embeddedNameOf(ref) !== undefined },
  secret: { shape: 'secret://projects/P/secrets/S/versions/V', valid: (ref) => secretVersionOf(ref) !== undefined },
};

function schemeOf(ref: string): string | undefined {
  return /^([a-z]+):\/\//.exec(ref)?.[1];
}

export function createSecretSource(options: SecretSourceOptions = {}): CompositeSecretSource {
  const sources: Record<string, SecretSource> = {
    env: createEnvSecrets(options.env ?? process.env),
    embedded: createEmbeddedSecrets(options.embedded ?? new Map()),
  };
  const secretManager = createSecretManagerSecrets(options.secretManager);
  sources.secret = secretManager;

  return {
    check(ref) {
      const scheme = typeof ref === 'string' ? schemeOf(ref) : undefined;
      const known = scheme !== undefined && Object.hasOwn(SCHEMES, scheme) ? SCHEMES[scheme] : undefined;
      if (!known) throw new TypeError('credentials must be env://VARIABLE, embedded://NAME or secret://projects/P/secrets/S/versions/V');
      if (!known.valid(ref)) throw new TypeError(`credentials reference is malformed: expected ${known.shape}`);
    },

    async resolve(ref) {
      const scheme = schemeOf(ref);
      const source = scheme !== undefined && Object.hasOwn(sources, scheme) ? sources[scheme] : undefined;
      // The reference itself is not echoed: a value pasted where a reference belongs would leak.
      if (!source) throw new GatehouseError('secret_not_found', 'unknown credentials scheme (expected env://, embedded:// or secret://)');
      return source.resolve(ref);
    },

    close: () => secretManager.close(),
  };
}
