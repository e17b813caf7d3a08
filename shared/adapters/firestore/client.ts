// The Firestore client library, imported on first use: it costs ~260 ms to import (measured here),
// which a deployment on the PostgreSQL store, or a function instance that never touches the log,
// should not pay. Type-only imports are erased, so they load nothing.
import type { Firestore, Settings } from '@google-cloud/firestore';

export type FirestoreModule = typeof import('@google-cloud/firestore');

let loading: Promise<FirestoreModule> | undefined;

export function loadFirestore(): Promise<FirestoreModule> {
  loading ??= import('@google-cloud/firestore');
  // A failed import is tried again on the next use rather than remembered.
  loading.catch(() => (loading = undefined));
  return loading;
}

export interface ClientOptions {
  readonly projectId: string;
  readonly databaseId: string;
  /** Deadline of one commit; the server enforces it too (gRPC deadline). */
  readonly timeoutMs: number;
}

/**
 * Settings for a client the session log can rely on. Commits get one attempt with a deadline: the
 * library would otherwise retry a commit on UNAVAILABLE and RESOURCE_EXHAUSTED for up to ten
 * minutes (measured: a cut-off commit was still pending after 8 s; with these, it fails in <0.5 s) — long after the append was reported failed and the gateway rolled back, so the event
 * could land afterwards and tell a different story; and a retried commit that had in fact landed
 * would come back ALREADY_EXISTS, look like a lost race, and be appended a second time.
 */
export function firestoreSettings(options: ClientOptions): Settings {
  const once = { timeout_millis: options.timeoutMs, retry_codes_name: 'never', retry_params_name: 'once' };
  return {
    projectId: options.projectId,
    databaseId: options.databaseId,
    // Streamed reads (queries, gets) then follow the method settings below too, instead of a
    // second retry layer of their own that took ~7 s per attempt against a closed port.
    gaxServerStreamingRetries: true,
    // gax merges this over the library's own config; a method override takes effect only with
    // retry codes and parameters of its own (a bare timeout keeps the default retries).
    clientConfig: {
      interfaces: {
        'google.firestore.v1.Firestore': {
          retry_codes: { never: [] },
          retry_params: {
            once: {
              initial_retry_delay_millis: 100,
              retry_delay_multiplier: 1,
              max_retry_delay_millis: 100,
              initial_rpc_timeout_millis: options.timeoutMs,
              rpc_timeout_multiplier: 1,
              max_rpc_timeout_millis: options.timeoutMs,
              total_timeout_millis: options.timeoutMs,
            },
          },
          // Reads get one attempt per library retry too (the library still makes five, ~9 s in
          // all against a closed port, measured): the log gives up on them at timeoutMs anyway,
          // and a read still retrying in the background only holds the client open.
          methods: { Commit: once, RunQuery: once, BatchGetDocuments: once },
        },
      },
    },
  };
}

export async function createClient(options: ClientOptions): Promise<Firestore> {
  const { Firestore } = await loadFirestore();
  return new Firestore(firestoreSettings(options));
}
