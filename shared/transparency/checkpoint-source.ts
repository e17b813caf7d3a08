// Where `evidence verify --checkpoints SRC` reads checkpoints from, and the public key it checks
// them with: a folder of checkpoint files, a state dir (its checkpoints/ folder and the public key
// beside it), or gs://bucket/prefix (the retention-locked bucket on GCP). The key is the published
// one (--public-key FILE), or the one kept with the checkpoints when none is given.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKPOINTS_DIR, folderCheckpointStore, parseListing, readSmallRegularFile, type CheckpointListing } from './checkpoint-store.ts';
import { LOCAL_PUBLIC_KEY_FILE } from './local-signer.ts';

export interface LoadedSource {
  readonly describe: string;
  readonly listing: CheckpointListing;
  /** PEM text, or undefined when none could be found. */
  readonly publicKeyPem?: string;
  readonly publicKeyFrom?: string;
}

export class SourceFailure extends Error {
  override readonly name = 'SourceFailure';
  constructor(readonly code: 'checkpoint_source_unreadable' | 'public_key_missing', message: string) {
    super(message);
  }
}

export type GcsReader = (bucket: string, prefix: string) => Promise<{ name: string; text: string }[]>;

export async function loadCheckpointSource(src: string, options: { publicKey?: string; gcs?: GcsReader } = {}): Promise<LoadedSource> {
  let listing: CheckpointListing;
  let keyCandidates: string[] = [];
  let describe = src;
  let gcsKey: string | undefined;
  if (src.startsWith('gs://')) {
    const m = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,220})(?:\/(.*))?$/.exec(src);
    if (!m) throw new SourceFailure('checkpoint_source_unreadable', `${src} is not gs://BUCKET[/PREFIX]`);
    let entries: { name: string; text: string }[];
    try {
      // The edge supplies the reader (shared/cli/gcs-reader.ts: @google-cloud/storage with the
      // auditor's credentials); without one a gs:// source cannot be read, never "no checkpoints".
      if (!options.gcs) throw new Error('no Cloud Storage reader was configured');
      entries = await options.gcs(m[1]!, (m[2] ?? '').replace(/\/+$/, ''));
    } catch (e) {
      throw new SourceFailure('checkpoint_source_unreadable', `${src} cannot be read: ${e instanceof Error ? e.message : String(e)}`);
    }
    gcsKey = entries.find((e) => e.name.endsWith(LOCAL_PUBLIC_KEY_FILE) || e.name.endsWith('public-key.pem'))?.text;
    // An empty or missing prefix reads as "no checkpoints", which verify reports as not covered;
    // a bucket that cannot be read at all is the error above.
    listing = parseListing(entries.filter((e) => e.name.endsWith('.json')).map((e) => ({ name: e.name, text: e.text })));
  } else {
    if (!existsSync(src) || !statSync(src).isDirectory()) throw new SourceFailure('checkpoint_source_unreadable', `${src} is not a folder`);
    const stateDir = existsSync(join(src, CHECKPOINTS_DIR));
    const folder = stateDir ? join(src, CHECKPOINTS_DIR) : src;
    describe = folder;
    try {
      listing = await folderCheckpointStore(folder).list();
    } catch (e) {
      throw new SourceFailure('checkpoint_source_unreadable', `${folder} cannot be read: ${e instanceof Error ? e.message : String(e)}`);
    }
    keyCandidates = [join(src, LOCAL_PUBLIC_KEY_FILE), join(src, 'public-key.pem'), join(folder, LOCAL_PUBLIC_KEY_FILE)];
  }
  if (options.publicKey !== undefined) {
    if (!existsSync(options.publicKey)) throw new SourceFailure('public_key_missing', `the public key ${options.publicKey} does not exist`);
    return { describe, listing, publicKeyPem: readKeyFile(options.publicKey), publicKeyFrom: options.publicKey };
  }
  if (gcsKey) return { describe, listing, publicKeyPem: gcsKey, publicKeyFrom: `${src} (beside the checkpoints)` };
  const found = keyCandidates.find((p) => existsSync(p));
  if (!found) throw new SourceFailure('public_key_missing', `no public key: pass --public-key FILE (from \`gatehouse checkpoint public-key\` or the terraform output checkpoint_public_key)`);
  return { describe, listing, publicKeyPem: readKeyFile(found), publicKeyFrom: found };
}

/** A PEM public key is a few hundred bytes; a folder, a FIFO or a device in its place is no key. */
function readKeyFile(path: string): string {
  const read = readSmallRegularFile(path, 64 * 1024);
  if (typeof read !== 'string') throw new SourceFailure('public_key_missing', `the public key ${path} is unreadable: ${read.refused}`);
  return read;
}
