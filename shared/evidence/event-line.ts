// An event as events.jsonl holds it: its fields in one fixed order, starting with the session id
// (verify's clean pass cuts the file between sessions by reading it off each line's start), and
// its data with every object's keys in canonical order — so JSON.stringify of the parsed data is
// already the RFC 8785 form the event hash covers, and verify need not sort it again
// (event-hash.ts). Same JSON values as the store's, only the key order differs.
import type { SessionEvent } from '../audit/events.ts';
import { sortedData } from './event-hash.ts';

export function eventLine(e: SessionEvent): string {
  return `${JSON.stringify({ sessionId: e.sessionId, seq: e.seq, type: e.type, at: e.at, data: sortedData(e.data), prevHash: e.prevHash, hash: e.hash, index: e.index })}\n`;
}
