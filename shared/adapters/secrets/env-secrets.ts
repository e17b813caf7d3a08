// `env://VAR` → the variable's value. The local and CI way to hand Gatehouse a database URL.
import { GatehouseError } from '../../errors.ts';
import type { SecretSource } from '../../ports.ts';

const ENV_REF = /^env:\/\/([A-Za-z_][A-Za-z0-9_]*)$/;

/** The variable an `env://VAR` reference names, or undefined when the reference is malformed. */
export function envVariableOf(ref: string): string | undefined {
  return ENV_REF.exec(ref)?.[1];
}

/** `env` is read at every resolve, so it may be the live process.env. */
export function createEnvSecrets(env: Readonly<Record<string, string | undefined>> = process.env): SecretSource {
  return {
    async resolve(ref) {
      const name = envVariableOf(ref);
      if (name === undefined) throw new GatehouseError('secret_not_found', 'not an env://VARIABLE reference');
      const value = Object.hasOwn(env, name) ? env[name] : undefined;
      if (typeof value !== 'string' || value === '') {
        throw new GatehouseError('secret_not_found', `environment variable ${name} is not set`, { variable: name });
      }
      return value;
    },
  };
}
