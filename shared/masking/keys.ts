// The masking key comes from the SecretSource through the gateway, never from the policy file (a
// policy is reviewed, copied and recorded by digest; a key in it would be a key for everyone who
// reads it). Two keys are derived from it so that neither use can be turned against the other:
// pseudonyms are computed over values the bot chooses (a constant in a UNION arm is hashed like
// the column), and must never yield a tag of the raw result's digest.
import { createHmac } from 'node:crypto';
import { GatehouseError, isGatehouseError } from '../errors.ts';
import { updateWithResultJson } from '../result-json.ts';

export interface MaskingKeys {
  readonly pseudonym: Uint8Array;
  readonly digest: Uint8Array;
}

const MIN_KEY_BYTES = 16;

export function deriveKeys(master: Uint8Array): MaskingKeys {
  const derive = (label: string) => new Uint8Array(createHmac('sha256', master).update(label).digest());
  return { pseudonym: derive('gatehouse/masking/pseudonym/v1'), digest: derive('gatehouse/masking/raw-digest/v1') };
}

/** Reads the key once; a failed read is not cached, so the next request tries again. */
export function keyCache(read: () => Promise<Uint8Array>): () => Promise<MaskingKeys> {
  let pending: Promise<MaskingKeys> | undefined;
  return () => {
    pending ??= load().catch((e: unknown) => {
      pending = undefined;
      throw e;
    });
    return pending;
  };

  async function load(): Promise<MaskingKeys> {
    let master: Uint8Array;
    try {
      master = await read();
    } catch (e) {
      if (isGatehouseError(e)) throw e;
      throw new GatehouseError('secret_unavailable', 'the masking key could not be read', undefined, { cause: e });
    }
    if (!(master instanceof Uint8Array) || master.byteLength < MIN_KEY_BYTES) {
      throw new GatehouseError('secret_unavailable', `the masking key must be at least ${MIN_KEY_BYTES} bytes`);
    }
    return deriveKeys(master);
  }
}

/**
 * HMAC-SHA256 under the digest key of the raw result, in the shape of audit/drafts.ts
 * resultDigest ({columns, rows} as JSON): the key holder recomputes it from a result they obtain
 * again, and confirms what the bot was sent, without the log ever holding the raw values.
 */
export function rawResultDigest(key: Uint8Array, columns: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return updateWithResultJson(createHmac('sha256', key), columns, rows).digest('hex');
}
