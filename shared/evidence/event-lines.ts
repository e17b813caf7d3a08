// One session's lines of events.jsonl and its events' hashes, as export needs them. For an event
// whose data's stored text is canonical (shared/audit/stored-text.ts: every event the gateway
// wrote to the PostgreSQL store), the line and the hash are put together around that text: no
// JSON.stringify of the data for the line, no canonical re-serialisation for the hash — the two
// per-event costs that led an export's profile. Any other event takes the general path
// (eventLine, fastHashEvent), and the bytes are the same either way (test/evidence/stored-text.test.ts).
import type { SessionEvent } from '../audit/events.ts';
import { hashAroundText, isCanonicalText, type StoredEvents } from '../audit/stored-text.ts';
import { eventLine } from './event-line.ts';
import { fastHashEvent } from './event-hash.ts';

export interface SessionLines {
  /** The session's lines of events.jsonl, each as event-line.ts writes it. */
  readonly lines: string;
  /** The event hash (chain.ts hashEvent) of an event without its `hash`, for verifyChain. */
  readonly hashOf: (event: Omit<SessionEvent, 'hash'>) => string;
}

// The own keys, in order, of an event as the PostgreSQL store builds it (rows.ts eventFromRow).
const KEYS = ['sessionId', 'seq', 'type', 'at', 'data', 'prevHash', 'hash'];
const KEYS_INDEXED = [...KEYS, 'index'];

/**
 * `events` in order; `stored`, when the store gave the texts, holds them for a superset of
 * `events` in the same order (export drops events appended after its tree: log-coverage.ts asOfPlan).
 */
export function sessionLines(events: readonly SessionEvent[], stored?: StoredEvents): SessionLines {
  let lines = '';
  // By the data object: verifyChain hands the hash function a copy of the event without its hash.
  let hashes: Map<object, string> | undefined;
  let j = 0;
  for (const e of events) {
    let text: string | undefined;
    if (stored) {
      while (j < stored.events.length && stored.events[j] !== e) j++;
      if (j < stored.events.length) text = stored.dataTexts[j];
    }
    if (text !== undefined && isCanonicalText(e.data, text)) {
      const line = lineAround(e, text);
      const hash = hashAroundText(e, text);
      lines += line ?? eventLine(e);
      if (hash !== undefined) (hashes ??= new Map()).set(e.data, hash);
    } else {
      lines += eventLine(e);
    }
  }
  return {
    lines,
    hashOf: (rest) => (hashes && typeof rest.data === 'object' && rest.data !== null ? hashes.get(rest.data) : undefined) ?? fastHashEvent(rest),
  };
}

/** eventLine(e) with the data's canonical text spliced in; undefined when e is not shaped as the store builds it. */
function lineAround(e: SessionEvent, dataText: string): string | undefined {
  const keys = Object.keys(e);
  const expected = keys.length === KEYS.length ? KEYS : KEYS_INDEXED;
  if (keys.length !== expected.length) return undefined;
  for (let i = 0; i < keys.length; i++) {
    if (keys[i] !== expected[i]) return undefined;
    // JSON.stringify leaves out an undefined member: leave that case to it.
    if ((e as unknown as Record<string, unknown>)[keys[i]!] === undefined) return undefined;
  }
  const index = expected === KEYS_INDEXED ? `,"index":${JSON.stringify(e.index)}` : '';
  return `{"sessionId":${JSON.stringify(e.sessionId)},"seq":${JSON.stringify(e.seq)},"type":${JSON.stringify(e.type)},"at":${JSON.stringify(e.at)},"data":${dataText},"prevHash":${JSON.stringify(e.prevHash)},"hash":${JSON.stringify(e.hash)}${index}}\n`;
}
