// manifest.json: what an export holds and how to check it. It is the one file verify trusts as
// the statement of what should be there; keep its sha256 or its Merkle root apart from the folder
// (a ticket, a signed mail) to detect a manifest rewritten together with everything else.
import type { Counts, PolicyVersion } from './derive.ts';
import type { LogSection } from './log-coverage.ts';
import type { ReportLimits } from './report/collector.ts';
import { count, field, list, record, text } from './guards.ts';

export const FORMAT = 'gatehouse-evidence/1';

export const FILES = {
  sessions: 'sessions.jsonl',
  events: 'events.jsonl',
  approvals: 'approvals.jsonl',
  population: 'population.csv',
  verification: 'verification.json',
  report: 'report.html',
} as const;

/** Files verify regenerates from events.jsonl and compares byte for byte (by digest). */
export const DERIVED_FILES: readonly string[] = [FILES.sessions, FILES.approvals, FILES.population];
/** Also re-derived by verify (from events.jsonl, verification.json and the manifest) and byte-compared. */
export const REDERIVED_REPORT = FILES.report;

export interface FileEntry {
  readonly sha256: string;
  readonly bytes: number;
  readonly derivedFromEvents: boolean;
}

export interface ChainHeadEntry {
  readonly sessionId: string;
  readonly startedAt: string;
  readonly events: number;
  readonly head: string;
}

export interface Manifest {
  readonly format: typeof FORMAT;
  readonly generatedAt: string;
  readonly source: string;
  readonly range: { readonly from: string; readonly to: string; readonly bounds: string };
  readonly counts: Counts;
  readonly policyVersions: readonly PolicyVersion[];
  readonly files: Readonly<Record<string, FileEntry>>;
  readonly merkle: { readonly definition: string; readonly leaves: number; readonly root: string };
  readonly report: { readonly sessionsEmbedded: number; readonly sessionsTotal: number; readonly note: string; readonly limits?: ReportLimits };
  /** Export order: (startedAt, sessionId). */
  readonly chainHeads: readonly ChainHeadEntry[];
  /** The export's run of the global Merkle log and its proof (log-coverage.ts); null for a store without one. */
  readonly log?: LogSection | null;
  /**
   * The approval desk's public key the export was made with (votes.ts), or null when the exporter
   * did not know it. Absent in exports made before votes were checked.
   */
  readonly votes?: { readonly publicKeyPem: string; readonly fingerprint: string } | null;
}

/** Narrows a parsed manifest; returns what is wrong with it, field by field, or the manifest. */
export function checkManifest(v: unknown): { manifest: Manifest } | { problems: string[] } {
  const problems: string[] = [];
  const need = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };
  need(field(v, 'format') === FORMAT, `format is not ${FORMAT}`);
  need(text(field(field(v, 'merkle'), 'root')) !== undefined, 'merkle.root is missing');
  need(record(field(v, 'counts')) !== undefined, 'counts is missing');
  // Read by verify without further guards: missing or malformed, they made it throw.
  need(text(field(field(v, 'range'), 'from')) !== undefined && text(field(field(v, 'range'), 'to')) !== undefined, 'range.from or range.to is missing');
  need(record(field(v, 'report')) !== undefined, 'report is missing');
  const log = field(v, 'log');
  if (log !== undefined && log !== null) need(logSectionShape(log), 'log is not a log section (whole numbers 0 ≤ start ≤ end ≤ treeSize, rootHash, proof of strings, eventsWithoutIndex)');
  const files = record(field(v, 'files'));
  need(files !== undefined, 'files is missing');
  for (const [name, entry] of Object.entries(files ?? {})) {
    need(/^[0-9a-f]{64}$/.test(text(field(entry, 'sha256')) ?? ''), `files["${name}"].sha256 is not a sha256`);
    need(count(field(entry, 'bytes')) !== undefined, `files["${name}"].bytes is missing`);
  }
  const heads = field(v, 'chainHeads');
  need(Array.isArray(heads), 'chainHeads is missing');
  list(heads).forEach((h, i) => {
    need(
      text(field(h, 'sessionId')) !== undefined && text(field(h, 'head')) !== undefined && count(field(h, 'events')) !== undefined,
      `chainHeads[${i}] lacks sessionId, head or events`,
    );
    // A count of events that is not a whole number would have no last event: nothing would be
    // held to the head, and a session cut short would verify with its head (and the Merkle root) unchanged.
    const events = field(h, 'events');
    need(
      count(events) === undefined || (Number.isSafeInteger(events) && (events as number) >= 1),
      `chainHeads[${i}].events is not a whole number of events`,
    );
  });
  return problems.length ? { problems } : { manifest: v as Manifest };
}

function logSectionShape(log: unknown): boolean {
  const whole = (k: string) => Number.isSafeInteger(field(log, k)) && (field(log, k) as number) >= 0;
  if (!['treeSize', 'start', 'end', 'eventsWithoutIndex'].every(whole) || text(field(log, 'rootHash')) === undefined) return false;
  const { treeSize, start, end, proof } = log as { treeSize: number; start: number; end: number; proof: unknown };
  return start <= end && end <= treeSize && Array.isArray(proof) && proof.every((h) => typeof h === 'string');
}
