// `npm run bench -- checkpoint`: one checkpoint run over a log of 440k leaves (the evidence
// bench's size), reading every leaf (the first run, or a due full read) against an incremental run
// after a minute's appends (the frontier kept with the last checkpoint). The log is in memory, so
// this measures the signer's own work (leaf hashes, tree, proof) and the number of leaves read;
// with a real store each leaf read is also a row fetched (bench/evidence.ts signs against
// PostgreSQL). The signer is the local key file.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogLeaf, LogLeafReader } from '../shared/ports.ts';
import { checkpointOnce } from '../shared/transparency/checkpointer.ts';
import { localCheckpointing } from '../shared/transparency/local.ts';

const LEAVES = 440_000;
const PER_MINUTE = 600;

export interface CheckpointFigures {
  readonly leaves: number;
  readonly full: { readonly seconds: number; readonly leavesRead: number };
  readonly incremental: { readonly seconds: number; readonly leavesRead: number; readonly appended: number };
  readonly forcedFull: { readonly seconds: number; readonly leavesRead: number };
}

export async function benchCheckpoint(): Promise<CheckpointFigures> {
  const hashes: string[] = Array.from({ length: LEAVES }, () => randomBytes(32).toString('hex'));
  let read = 0;
  const log: LogLeafReader = {
    treeSize: async () => hashes.length,
    leaves: async (start, end): Promise<LogLeaf[]> => {
      const out = hashes.slice(start, end).map((hash, i) => ({ index: start + i, sessionId: 's', seq: 0, hash }));
      read += out.length;
      return out;
    },
  };
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-cp-'));
  try {
    const local = localCheckpointing(dir, { createKey: true });
    let now = Date.now();
    const clock = () => new Date((now += 60_000));
    const timed = async (options: { incremental?: boolean } = {}) => {
      read = 0;
      const started = performance.now();
      await checkpointOnce({ log, signer: local.signer, store: local.store, clock, ...options });
      return { seconds: Math.round(performance.now() - started) / 1000, leavesRead: read };
    };
    const full = await timed();
    for (let i = 0; i < PER_MINUTE; i++) hashes.push(randomBytes(32).toString('hex'));
    const incremental = { ...(await timed()), appended: PER_MINUTE };
    for (let i = 0; i < PER_MINUTE; i++) hashes.push(randomBytes(32).toString('hex'));
    const forcedFull = await timed({ incremental: false });
    return { leaves: LEAVES, full, incremental, forcedFull };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
