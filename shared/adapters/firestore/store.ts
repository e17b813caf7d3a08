// What the log's operations share once the client is open: the library (for FieldPath), the
// client, the sessions collection, and `call`, which every library request goes through so that
// it has a deadline and close() knows when it has settled.
import type { CollectionReference, Firestore } from '@google-cloud/firestore';
import type { FirestoreModule } from './client.ts';

export interface Store {
  readonly lib: FirestoreModule;
  readonly db: Firestore;
  readonly sessions: CollectionReference;
  /** The global log: one document per event, by index (documents.ts). */
  readonly log: CollectionReference;
  call<T>(work: Promise<T>, extraMs?: number): Promise<T>;
}

export function events(s: Store, sessionId: string): CollectionReference {
  return s.sessions.doc(sessionId).collection('events');
}

/** Where the next append's events go in the global log; undefined: read it from the store. */
export interface LogHead {
  next: number | undefined;
}
