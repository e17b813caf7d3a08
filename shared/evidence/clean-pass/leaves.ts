// The clean pass over a chunk of leaves.jsonl: true only if every line is a leaf that
// LogCheck.readLeaves (verify-log.ts) would take without a word — inside the run, not seen before,
// and, for a session the export does not hold, carrying its event (and, for its first, shown to
// have started outside the range). Each leaf's event hash lands in the shared run. Anything else: false, and the full
// pass says what.
import type { PassContext } from './context.ts';
import { markOnce, unpack } from './context.ts';
import { CLOCK_MARGIN_MS, isPostdated, latestAtOrBelow } from '../leaf-dating.ts';
import { leafEventHolds } from '../verify-log.ts';
import { asEvent } from '../verify-session.ts';

// A leaf as export writes it, read without JSON.parse. Only what JSON.parse reads the same way:
// integers without leading zeros, an id without quotes, escapes or control characters.
const PLAIN_LEAF = /^\{"index":(0|[1-9]\d{0,15}),"sessionId":"([^"\\\u0000-\u001f]*)","seq":(0|[1-9]\d{0,15}),"hash":"([0-9a-f]{64})"\}$/;
const HASH = /^[0-9a-f]{64}$/;

export function leavesChunk(bytes: Uint8Array, pass: PassContext): boolean {
  const unpacked = unpack(pass);
  const { ctx, exported } = unpacked;
  const log = ctx.log;
  if (!log) return false;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // readline also ends lines at a lone CR; export never writes one.
  if (buf.indexOf(13) !== -1) return false;
  const hashes = Buffer.from(log.eventHashes.buffer, log.eventHashes.byteOffset, log.eventHashes.byteLength);
  let pos = 0;
  while (pos < buf.length) {
    let end = buf.indexOf(10, pos);
    if (end < 0) end = buf.length;
    const text = buf.toString('utf8', pos, end);
    pos = end + 1;
    let index: unknown;
    let sessionId: unknown;
    let seq: unknown;
    let hash: unknown;
    let event: unknown;
    const m = PLAIN_LEAF.exec(text);
    if (m) {
      index = Number(m[1]);
      sessionId = m[2];
      seq = Number(m[3]);
      hash = m[4];
    } else {
      let v: Record<string, unknown>;
      try {
        v = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return false;
      }
      if (typeof v !== 'object' || v === null) return false;
      ({ index, sessionId, seq, hash, event } = v);
    }
    if (!Number.isSafeInteger(index) || typeof sessionId !== 'string' || !Number.isSafeInteger(seq) || typeof hash !== 'string' || (!m && !HASH.test(hash))) return false;
    const i = (index as number) - log.start;
    if (i < 0 || i >= log.n || !markOnce(log.inLeaves, i)) return false;
    hashes.write(hash, i * 32, 32, 'hex');
    if (exported.has(sessionId)) {
      Atomics.store(log.exportedSession, i, 1);
      continue;
    }
    // A leaf of a session the export does not hold carries its event, which shows whose it is
    // (verify-log.ts says why); the first event of such a session, that it started outside the range.
    const e = event === undefined ? 'absent' : asEvent(event);
    if (typeof e === 'string' || e.sessionId !== sessionId || e.seq !== seq || !leafEventHolds(e, hash)) return false;
    // Dated as its place in the log allows (LogCheck.readLeaves: leaf_backdated, leaf_postdated).
    const signedBefore = latestAtOrBelow(log.checkpoints, index as number);
    if (signedBefore !== undefined && Date.parse(e.at) < signedBefore.signedMs - CLOCK_MARGIN_MS) return false;
    if (isPostdated(e.at, unpacked.heldSince(index as number))) return false;
    if (seq !== 0) continue;
    const at = Date.parse(e.at);
    if (at >= ctx.range.fromMs && at < ctx.range.toMs) return false;
  }
  return true;
}
