// What `evidence verify` can find wrong, as stable codes (tests and scripts assert on `kind`),
// each with a sentence that says where and how.

export const PROBLEM_KINDS = [
  'manifest_unreadable', // manifest.json missing or not JSON
  'manifest_invalid', // JSON, but not a manifest of this format
  'manifest_mismatch', // a count, a chain head's metadata or the policy list disagrees with events.jsonl
  'merkle_root_mismatch', // the root does not follow from the chain heads
  'file_missing',
  'file_changed', // digest differs from the manifest's
  'file_not_derived', // a derived file is not what events.jsonl yields
  'event_unreadable', // a line of events.jsonl that is not an event
  'event_modified', // content no longer matches its hash, or re-hashed so the next link no longer points at it
  'event_missing', // a seq the chain needs is absent
  'event_inserted', // an event no chain link expects: duplicate seq, beyond the head, outside its session
  'event_reordered', // all there, but not in seq order (or outside its session's block)
  'head_mismatch', // the last event is not the manifest's chain head
  'session_missing', // in the manifest, no events in events.jsonl
  'session_inserted', // events for a session the manifest does not list
] as const;
export type ProblemKind = (typeof PROBLEM_KINDS)[number];

export interface Problem {
  readonly kind: ProblemKind;
  readonly message: string;
  readonly file?: string;
  readonly line?: number;
  readonly sessionId?: string;
  readonly seq?: number;
  readonly field?: string;
}
