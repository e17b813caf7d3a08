// Checkpoints in Cloud Storage: the retention-locked evidence bucket, under a prefix
// (`gs://BUCKET/PREFIX/<checkpointName>`, shared/transparency/checkpoint-store.ts). Written
// create-only (ifGenerationMatch: 0 — the write fails if the object exists), by the checkpoint
// function's account, which may create objects there and nothing else; the bucket's locked
// retention keeps anyone, the project's owners included, from deleting or replacing one. Read by
// auditors (`--checkpoints gs://BUCKET/PREFIX`) with their own credentials (objectViewer).
// No official emulator exists: tests run the library against test/helpers/gcs-server.ts
// (STORAGE_EMULATOR_HOST or apiEndpoint), which speaks the part of the JSON API used here.
import type { Checkpoint } from '../../transparency/checkpoint.ts';
import { checkpointName, parseListing, type CheckpointListing, type CheckpointStore } from '../../transparency/checkpoint-store.ts';
import type { GcsReader } from '../../transparency/checkpoint-source.ts';

type StorageModule = typeof import('@google-cloud/storage');
type Bucket = InstanceType<StorageModule['Bucket']>;

export interface GcsOptions {
  /** Storage client options: apiEndpoint for a test server, projectId, credentials… */
  readonly clientOptions?: Record<string, unknown>;
  /** A retry with the library's defaults can take minutes; a run gives up sooner and the next tries again. */
  readonly timeoutMs?: number;
}

export const PUBLIC_KEY_OBJECT = 'checkpoint-public-key.pem';

/** `gs://bucket/prefix` → its parts; undefined when it is not one. */
export function parseGsUrl(url: string): { bucket: string; prefix: string } | undefined {
  const m = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m) return undefined;
  const prefix = (m[2] ?? '').replace(/\/+$/, '');
  return { bucket: m[1]!, prefix };
}

const objectName = (prefix: string, name: string): string => (prefix ? `${prefix}/${name}` : name);

async function openBucket(bucket: string, options: GcsOptions): Promise<Bucket> {
  const { Storage } = await import('@google-cloud/storage');
  const storage = new Storage({
    ...(options.clientOptions ?? {}),
    // One bounded attempt sequence: checkpoints are retried by the next scheduled run.
    retryOptions: { autoRetry: true, maxRetries: 2, totalTimeout: Math.ceil((options.timeoutMs ?? 20_000) / 1000) },
  } as ConstructorParameters<StorageModule['Storage']>[0]);
  return storage.bucket(bucket);
}

/** Every object under prefix whose name is a checkpoint's or the public key's, with its text. */
async function readAll(bucket: Bucket, prefix: string): Promise<{ name: string; text: string }[]> {
  const [files] = await bucket.getFiles({ prefix: prefix ? `${prefix}/` : '', autoPaginate: true });
  const out: { name: string; text: string }[] = [];
  for (const f of files) {
    const base = f.name.slice(prefix ? prefix.length + 1 : 0);
    if (base.includes('/')) continue; // deeper folders are someone else's
    if (!base.endsWith('.json') && base !== PUBLIC_KEY_OBJECT) continue;
    const [bytes] = await f.download();
    out.push({ name: base, text: bytes.toString('utf8') });
  }
  return out;
}

/** The reader behind `--checkpoints gs://…`, with the caller's (the auditor's) credentials. */
export function gcsCheckpointReader(options: GcsOptions = {}): GcsReader {
  return async (bucketName, prefix) => readAll(await openBucket(bucketName, options), prefix.replace(/\/+$/, ''));
}

export interface GcsCheckpointStore extends CheckpointStore {
  /** Reads one checkpoint back by its name; undefined when it is not there. */
  get(name: string): Promise<Checkpoint | undefined>;
  /** Writes the public key beside the checkpoints once (create-only; an existing one must be equal). */
  putPublicKey(pem: string): Promise<void>;
}

export function gcsCheckpointStore(url: string, options: GcsOptions = {}): GcsCheckpointStore {
  const parsed = parseGsUrl(url);
  if (!parsed) throw new TypeError(`${url} is not gs://BUCKET[/PREFIX]`);
  const { prefix } = parsed;
  let bucket: Promise<Bucket> | undefined;
  const open = () =>
    (bucket ??= openBucket(parsed.bucket, options).catch((e: unknown) => {
      bucket = undefined;
      throw e;
    }));
  const create = async (name: string, body: string, contentType: string) => {
    await (await open()).file(objectName(prefix, name)).save(body, {
      resumable: false,
      contentType,
      preconditionOpts: { ifGenerationMatch: 0 },
      validation: 'crc32c',
    });
  };
  return {
    describe: `gs://${parsed.bucket}${prefix ? `/${prefix}` : ''}`,
    async list(): Promise<CheckpointListing> {
      return parseListing((await readAll(await open(), prefix)).filter((e) => e.name.endsWith('.json')));
    },
    async put(checkpoint) {
      await create(checkpointName(checkpoint), `${JSON.stringify(checkpoint, null, 1)}\n`, 'application/json');
    },
    async get(name) {
      const file = (await open()).file(objectName(prefix, name));
      try {
        const [bytes] = await file.download();
        const listing = parseListing([{ name, text: bytes.toString('utf8') }]);
        return listing.checkpoints[0];
      } catch (e) {
        if (isStatus(e, 404)) return undefined;
        throw e;
      }
    },
    async putPublicKey(pem) {
      try {
        await create(PUBLIC_KEY_OBJECT, pem, 'application/x-pem-file');
      } catch (e) {
        if (!isStatus(e, 412)) throw e;
        const [bytes] = await (await open()).file(objectName(prefix, PUBLIC_KEY_OBJECT)).download();
        if (bytes.toString('utf8') !== pem) throw new Error(`${PUBLIC_KEY_OBJECT} in the bucket is another key's: the checkpoint key changed (publish the new one and a new prefix)`);
      }
    },
  };
}

/** A Cloud Storage API error of this HTTP status (412: a create-only write found the object). */
export function isStatus(e: unknown, code: number): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}
