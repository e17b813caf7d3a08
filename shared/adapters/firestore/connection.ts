// One Firestore client as both adapters (the session log here, the approval store beside it) use
// it: the library and the client made on first use (importing the library is the expensive part),
// every library request counted and given a deadline, and close() that lets the requests an
// adapter gave up on end before it terminates a client it built. Terminating under them is a
// library bug: a retry that finds the client terminated rejects where nothing catches it (an
// unhandled rejection, which ends the process) and its query never settles. The client's own
// settings (client.ts) bound how long they take.
import type { Firestore } from '@google-cloud/firestore';
import { createClient, loadFirestore, type ClientOptions, type FirestoreModule } from './client.ts';
import { within } from './failures.ts';

export interface ConnectionOptions<T> extends ClientOptions {
  /** A caller's client, used instead of one built here; it stays the caller's to terminate. */
  readonly given?: Firestore;
  /** Names the adapter in the error open() rejects with once closed. */
  readonly name: string;
  /** What open() hands out, built once the library and client are there. */
  make(lib: FirestoreModule, db: Firestore): T;
}

export interface Connection<T> {
  /** One library request, counted (close() waits for it), given up on after timeoutMs + extraMs. */
  call<R>(work: Promise<R>, extraMs?: number): Promise<R>;
  /** What `make` built; a failed start (the library cannot load) is tried again next time. */
  open(): Promise<T>;
  close(): Promise<void>;
}

export function firestoreConnection<T>(options: ConnectionOptions<T>): Connection<T> {
  let opened: Promise<{ readonly made: T; readonly db: Firestore }> | undefined;
  let closed: Promise<void> | undefined;
  // Requests started and not yet seen to settle, including those the adapter stopped waiting for.
  let inFlight = 0;
  let whenIdle: (() => void)[] = [];

  function call<R>(work: Promise<R>, extraMs = 0): Promise<R> {
    inFlight++;
    const settled = () => {
      if (--inFlight > 0) return;
      const waiting = whenIdle;
      whenIdle = [];
      waiting.forEach((resume) => resume());
    };
    work.then(settled, settled);
    return within(options.timeoutMs + extraMs, work);
  }

  async function open(): Promise<T> {
    if (closed) throw new Error(`the ${options.name} is closed`);
    opened ??= (async () => {
      const lib = await loadFirestore();
      const db = options.given ?? (await createClient(options));
      return { made: options.make(lib, db), db };
    })();
    opened.catch(() => (opened = undefined));
    return (await opened).made;
  }

  function close(): Promise<void> {
    closed ??= (async () => {
      const s = await opened?.catch(() => undefined);
      while (inFlight > 0) await new Promise<void>((resume) => whenIdle.push(resume));
      // Only a client built here is ours to end.
      if (s && !options.given) await s.db.terminate().catch(() => {});
    })();
    return closed;
  }

  return { call, open, close };
}
