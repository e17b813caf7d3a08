// A named connection's URL from the SecretSource, for both pools (the pipelined engine's and
// node-postgres's for the catalog and doctor). The URL is never part of an error.
import { GatehouseError, isGatehouseError } from '../errors.ts';
import type { SecretSource } from '../ports.ts';

export async function connectionUrl(
  connections: Readonly<Record<string, { readonly credentials: string }>>,
  secrets: SecretSource,
  connection: string,
): Promise<string> {
  try {
    return await secrets.resolve(connections[connection]!.credentials);
  } catch (e) {
    if (isGatehouseError(e)) throw e;
    throw new GatehouseError('secret_unavailable', `credentials for connection "${connection}" could not be read`, { connection });
  }
}
