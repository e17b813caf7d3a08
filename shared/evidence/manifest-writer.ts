// manifest.json written as a stream: its chainHeads (one per session, 100k in a large export)
// are spooled to a file beside the export while sessions are read, and copied into the manifest
// at the end — an export's memory then holds none of them. The bytes are exactly
// JSON.stringify(manifest, null, 1) (test/evidence/units.test.ts checks it).
import { createReadStream, rmSync } from 'node:fs';
import { HashedFile } from './files.ts';
import type { ChainHeadEntry, Manifest } from './manifest.ts';

/** Where the heads wait: a dot-file of the export folder, removed before the folder is complete. */
export class ChainHeadsSpool {
  readonly #file: HashedFile;
  count = 0;

  constructor(readonly path: string) {
    this.#file = new HashedFile(path);
  }

  async add(head: ChainHeadEntry): Promise<void> {
    // As JSON.stringify(array, null, 1) writes an element one level inside the manifest.
    const text = headText(head);
    await this.#file.write(this.count === 0 ? text : `,\n${text}`);
    this.count++;
  }

  async close(): Promise<void> {
    await this.#file.close();
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }
}

/** A chain head as JSON.stringify(manifest, null, 1) writes it inside the chainHeads array. */
function headText(head: ChainHeadEntry): string {
  const { sessionId, startedAt, events, head: hash } = head;
  // Put together directly (one per session); a member JSON.stringify would leave out or write
  // otherwise (undefined, a value with toJSON) takes the general path.
  if (typeof sessionId === 'string' && typeof startedAt === 'string' && typeof events === 'number' && typeof hash === 'string') {
    return `  {\n   "sessionId": ${JSON.stringify(sessionId)},\n   "startedAt": ${JSON.stringify(startedAt)},\n   "events": ${JSON.stringify(events)},\n   "head": ${JSON.stringify(hash)}\n  }`;
  }
  return `  ${JSON.stringify({ sessionId, startedAt, events, head: hash }, null, 1).split('\n').join('\n  ')}`;
}

const MARK = '\u0000chainHeads\u0000';

/**
 * Writes the manifest — the fields of `before`, chainHeads from the spool, the fields of `after` —
 * to `out`; the spool is closed first.
 */
export async function writeManifest(out: HashedFile, before: Partial<Manifest>, spool: ChainHeadsSpool, after: Partial<Manifest>): Promise<void> {
  await spool.close();
  const skeleton = `${JSON.stringify({ ...before, chainHeads: MARK, ...after }, null, 1)}\n`;
  const at = skeleton.indexOf(JSON.stringify(MARK));
  if (at < 0) throw new Error('manifest: no place for the chain heads');
  await out.write(skeleton.slice(0, at));
  if (spool.count === 0) {
    await out.write('[]');
  } else {
    await out.write('[\n');
    for await (const chunk of createReadStream(spool.path, { encoding: 'utf8', highWaterMark: 1024 * 1024 })) await out.write(chunk as string);
    await out.write('\n ]');
  }
  await out.write(skeleton.slice(at + JSON.stringify(MARK).length));
}
