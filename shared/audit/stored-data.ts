// An event's data as a store gives it back. The gateway stores the canonical JSON text of an
// object (chain.ts storedData); anything else was written behind its back, and the log's INSERT
// right is enough to write it. Parsing it with a bare JSON.parse made every reader of that session
// throw: one planted event stopped `sessions list` for everyone (a raw SyntaxError), made
// `sessions show` and GET /v1/sessions/:id report an outage, and failed every evidence export.
//
// Such an event is read instead as one of type `unreadable`, a type no gateway writes, with its
// stored type in its data. Then its hash no longer holds (verify: event_modified), its type is no
// event's (every view: status `unknown`; verify names it), nothing reads it as what its stored
// type claims (an `execution.committed` that cannot be read commits nothing), and the rest of the
// log is read as before. The stored text is not echoed: it may be anything, secrets included.
import type { EventType } from './events.ts';

export const UNREADABLE_EVENT_TYPE = 'unreadable';

/** What a stored event's type and data text are read as (see above). */
export function readStoredData(type: unknown, text: unknown): { type: EventType; data: Record<string, unknown> } {
  if (typeof text === 'string') {
    try {
      // Not checked further here: JSON that is no event's data (null, an array) is read as it is
      // and refused by the event schema, where readers name it (event_malformed).
      return { type: type as EventType, data: JSON.parse(text) as Record<string, unknown> };
    } catch {
      return unreadable(type, 'its stored data is not JSON');
    }
  }
  return unreadable(type, 'its stored data is not text');
}

/**
 * An event one of whose stored fields (seq, at, prevHash, hash) is not of its type — which a store
 * without a schema (Firestore) holds if the writer creates it so: read as `unreadable` as well,
 * the reason naming the field, so that no reader is handed a number where text is due.
 */
export function unreadableField(type: unknown, field: string, expected: string): { type: EventType; data: Record<string, unknown> } {
  return unreadable(type, `its stored ${field} is not ${expected}`);
}

function unreadable(type: unknown, reason: string): { type: EventType; data: Record<string, unknown> } {
  const storedType = typeof type === 'string' ? type.slice(0, 64) : typeof type;
  return { type: UNREADABLE_EVENT_TYPE as EventType, data: { storedType, reason } };
}
