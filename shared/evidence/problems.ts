// What `evidence verify` can find wrong, as stable codes (tests and scripts assert on `kind`),
// each with a sentence that says where and how.

export const PROBLEM_KINDS = [
  'manifest_unreadable', // manifest.json missing or not JSON
  'manifest_invalid', // JSON, but not a manifest of this format
  'manifest_mismatch', // a count, a chain head's metadata or the policy list disagrees with events.jsonl
  'merkle_root_mismatch', // the root does not follow from the chain heads
  'file_missing',
  'file_changed', // digest differs from the manifest's
  'derived_file_mismatch', // a derived file (jsonl, population.csv, report.html) is not what events.jsonl yields
  'event_unreadable', // a line of events.jsonl that is not an event
  'event_modified', // content no longer matches its hash, or re-hashed so the next link no longer points at it
  'event_schema', // hash and chain hold, but its data does not fit its type's schema (shared/audit/event-schema.ts)
  'event_out_of_protocol', // hash and chain hold, but the session's events are not in the order the gateway writes them (shared/audit/protocol.ts): appended by another writer
  'event_missing', // a seq the chain needs is absent
  'event_inserted', // an event no chain link expects: duplicate seq, beyond the head, outside its session
  'event_reordered', // all there, but not in seq order (or outside its session's block)
  'head_mismatch', // the last event is not the manifest's chain head
  'session_missing', // in the manifest, no events in events.jsonl
  'session_inserted', // events for a session the manifest does not list
  'export_reported_problems', // nothing else wrong here, but verification.json says the export found the store's log not intact
  // Against the global Merkle log and its signed checkpoints (verify-log.ts, --checkpoints):
  'leaf_missing', // a leaf of the exported run, or of an exported session, is not in the export
  'leaf_inserted', // an exported event (or leaf) that is not the log's leaf at its index
  'leaf_backdated', // an event dated before a checkpoint signed while it did not yet exist
  'leaf_postdated', // an event dated after a checkpoint whose tree already held its leaf
  'root_mismatch', // the exported run and its proof do not give the signed root (or --expect-root)
  'not_covered', // no signed checkpoint covers the export (or the export carries no log section)
  'checkpoint_signature_invalid', // a checkpoint signed with another key, or not at all
  'checkpoint_inconsistent', // two checkpoints that cannot both be true: the log was rewritten or forked
  'checkpoint_unreadable', // an entry of the checkpoint source that is not a checkpoint
  'checkpoint_source_unreadable', // --checkpoints names nothing readable
  'public_key_missing', // no public key to check checkpoints with, or not a P-256 key
  // The approval desk's signatures on votes (votes.ts):
  'vote_unsigned', // an approval.granted / approval.rejected without the desk's signed vote
  'vote_signature_invalid', // a vote whose signature fails the desk's key, or signs another approval, session, statement, verdict or approver
  'vote_public_key_missing', // votes in the export and no desk key to check them (none given, none in the manifest, or not a P-256 key)
  'vote_public_key_mismatch', // --vote-public-key is not the key the manifest names
  'vote_repeated', // a second signed vote by one person for one approval: a replayed event (the desk signs one)
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
