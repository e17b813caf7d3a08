// `embedded://NAME` → the URL the embedded demo database registered under NAME when it started.
import { GatehouseError } from '../../errors.ts';
import type { SecretSource } from '../../ports.ts';

const EMBEDDED_REF = /^embedded:\/\/([A-Za-z0-9_.-]+)$/;

export function embeddedNameOf(ref: string): string | undefined {
  return EMBEDDED_REF.exec(ref)?.[1];
}

/** `urls` is read at every resolve: a database registered after start-up is found. */
export function createEmbeddedSecrets(urls: ReadonlyMap<string, string>): SecretSource {
  return {
    async resolve(ref) {
      const name = embeddedNameOf(ref);
      if (name === undefined) throw new GatehouseError('secret_not_found', 'not an embedded://NAME reference');
      const url = urls.get(name);
      if (!url) throw new GatehouseError('secret_not_found', `no embedded database named "${name}" is running`, { embedded: name });
      return url;
    },
  };
}
