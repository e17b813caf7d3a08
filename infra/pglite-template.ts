// A new PGlite data directory costs an initdb: measured ~6 s on a quiet machine and 21 s on a
// loaded one, and `gatehouse start` needs three (demo, session log, approval state). Loading a
// dump of a freshly initialised cluster instead took 4.5 s where initdb took 21 s. So the first
// initdb is dumped once into node_modules/.cache/gatehouse/ (keyed by the PGlite version, written
// atomically) and every later new data directory starts from it; `npm ci` makes it through
// `prepare`, so even the very first start skips initdb (docs/design.md#fast-start).
//
// The template is an empty cluster: no data, no role passwords (PGlite has no authentication).
// Anything wrong with it (unreadable, another version's, refused by PGlite) is ignored and the
// directory is initialised the slow way.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';

function cacheFile(): string | undefined {
  try {
    const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
    const at = entry.lastIndexOf(`node_modules`);
    if (at < 0) return undefined;
    const modules = entry.slice(0, at + 'node_modules'.length);
    const { version } = JSON.parse(readFileSync(join(modules, '@electric-sql/pglite/package.json'), 'utf8')) as { version: string };
    return join(modules, '.cache/gatehouse', `pglite-${version}-initdb.tar`);
  } catch {
    return undefined;
  }
}

/** True when `dataDir` already holds a cluster (PGlite then opens it as it is). */
export function hasCluster(dataDir: string): boolean {
  return existsSync(join(dataDir, 'PG_VERSION'));
}

/** Opens `dataDir`, creating it from the template when it is new (and the template when there is none). */
export async function openPGlite(dataDir: string): Promise<PGlite> {
  if (hasCluster(dataDir)) return PGlite.create(dataDir);
  const file = cacheFile();
  if (file && existsSync(file)) {
    try {
      return await PGlite.create(dataDir, { loadDataDir: new Blob([readFileSync(file)]) });
    } catch {
      rmSync(dataDir, { recursive: true, force: true }); // then initdb below, as if there were no template
    }
  }
  const db = await PGlite.create(dataDir);
  if (file) await saveTemplate(db, file).catch(() => {});
  return db;
}

/** Dumps a cluster that nothing has used yet into the cache. Several writers: the last rename wins. */
async function saveTemplate(db: PGlite, file: string): Promise<void> {
  const dump = await db.dumpDataDir('none');
  mkdirSync(join(file, '..'), { recursive: true });
  const partial = `${file}.partial-${process.pid}`;
  writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
  renameSync(partial, file);
}

/** `prepare` (npm ci): make the template now, so the first `gatehouse start` needs no initdb. */
export async function ensureTemplate(scratchDir: string): Promise<'present' | 'created' | 'unavailable'> {
  const file = cacheFile();
  if (!file) return 'unavailable';
  if (existsSync(file)) return 'present';
  rmSync(scratchDir, { recursive: true, force: true });
  const db = await PGlite.create(scratchDir);
  try {
    await saveTemplate(db, file);
  } finally {
    await db.close();
    rmSync(scratchDir, { recursive: true, force: true });
  }
  return 'created';
}
