// `gatehouse sessions list|show`: read the session log and show it, with the chain re-verified.
import { verifyChain, type ChainProblem } from '../audit/chain.ts';
import type { SessionEvent } from '../audit/events.ts';
import type { SessionSummary } from '../audit/events.ts';
import { protocolBreak, type ProtocolBreak } from '../audit/protocol.ts';
import { provenStatus } from '../approvals/proven-status.ts';
import { GatehouseError } from '../errors.ts';
import { isVoteEvent, voteKeyOf, voteProblems } from '../evidence/votes.ts';
import type { SessionLog, SessionQuery } from '../ports.ts';
import { cell, table } from './format.ts';
import type { Coverage } from './checkpoint.ts';
import type { DeskKey } from './desk-key.ts';

/**
 * The listing, as text or JSON, and how many of its rows disagree with their hashed first event
 * (`listingTampered`: shown as such, with status `unknown` and no who or what; the CLI exits 1).
 */
export async function listSessions(log: SessionLog, query: SessionQuery, json: boolean, desk?: DeskKey): Promise<{ text: string; tampered: number }> {
  const sessions = await provenSummaries(log, await log.list(query), desk);
  const tampered = sessions.filter((s) => s.listingTampered !== undefined).length;
  if (json) return { text: JSON.stringify(sessions, null, 2), tampered };
  if (sessions.length === 0) return { text: 'no sessions in this range', tampered };
  const text = table(
    ['started', 'session', 'status', 'who', 'connection', 'sql'],
    sessions.map((s) =>
      s.listingTampered === undefined
        ? [s.startedAt, s.sessionId, s.status, s.email ?? s.subject, s.connection, s.sql]
        : [s.startedAt, s.sessionId, s.status, `LISTING TAMPERED (${s.listingTampered} disagrees with the log)`, undefined, undefined],
    ),
  );
  return { text: tampered === 0 ? text : `${text}\n${tampered} listed session(s) disagree with their hashed first event: the store was edited behind the log's back (evidence export names them; \`sessions show ID\` shows the log)`, tampered };
}

/**
 * The store's summary says what the last event says. What is shown is derived from the whole
 * session, as `sessions show` and GET /v1/sessions/:id derive it: a vote counts only as the
 * approval desk's signature proves it, and a session out of the gateway's order of events is
 * `unknown` (shared/approvals/proven-status.ts, shared/audit/protocol.ts) — whatever its last
 * event claims.
 */
async function provenSummaries(log: SessionLog, listed: readonly SessionSummary[], desk: DeskKey | undefined): Promise<SessionSummary[]> {
  const ids = listed.filter((s) => s.listingTampered === undefined).map((s) => s.sessionId);
  const events = log.readMany ? await log.readMany(ids) : await readEach(log, ids);
  return listed.map((s) => {
    // Its row is not the log's: shown as such (status unknown, no who or what), not derived further.
    if (s.listingTampered !== undefined) return s;
    const status = provenStatus(events.get(s.sessionId) ?? [], desk && 'pem' in desk ? desk.pem : undefined);
    return status === s.status ? s : { ...s, status };
  });
}

/** One read per session (a store without readMany, such as Firestore), at most 16 in flight. */
async function readEach(log: SessionLog, ids: readonly string[]): Promise<Map<string, SessionEvent[]>> {
  const out = new Map<string, SessionEvent[]>();
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      out.set(id, await log.read(id));
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, ids.length) }, worker));
  return out;
}

export interface ShownVotes {
  /** Vote events (approval.granted / approval.rejected) in the session. */
  readonly checked: number;
  /** sha256 of the desk key's SubjectPublicKeyInfo, when there was one to check with. */
  readonly keyFingerprint?: string;
  readonly problems: readonly VoteIssue[];
}

export interface VoteIssue {
  readonly kind: string;
  readonly sessionId?: string;
  readonly seq?: number;
  readonly message: string;
}

export interface ShownSession {
  readonly sessionId: string;
  /** What the record proves: votes count only when the approval desk's signature holds. */
  readonly status: string;
  /** The chain holds, the events follow the gateway's order and every vote is the desk's. */
  readonly verified: boolean;
  readonly problems: readonly ChainProblem[];
  /** The first event out of the order the gateway writes (shared/audit/protocol.ts). */
  readonly outOfProtocol?: ProtocolBreak;
  /** Present when the session holds votes. */
  readonly votes?: ShownVotes;
  readonly events: readonly SessionEvent[];
  /** Whether a signed checkpoint covers every event yet (shared/cli/checkpoint.ts). */
  readonly checkpoint?: Coverage;
}

export async function showSession(
  log: SessionLog,
  sessionId: string,
  json: boolean,
  coverage?: (events: readonly SessionEvent[]) => Promise<Coverage>,
  desk?: DeskKey,
): Promise<{ text: string; ok: boolean }> {
  const events = await log.read(sessionId);
  if (events.length === 0) throw new GatehouseError('session_not_found', `no session ${sessionId}`);
  const problems = verifyChain(sessionId, events);
  const checkpoint = coverage ? await coverage(events) : undefined;
  const votes = checkVotes(events, desk);
  const status = provenStatus(events, desk && 'pem' in desk ? desk.pem : undefined);
  const outOfOrder = protocolBreak(events);
  const verified = problems.length === 0 && outOfOrder === undefined && (votes === undefined || votes.problems.length === 0);
  const shown: ShownSession = {
    sessionId,
    status,
    verified,
    problems,
    ...(outOfOrder ? { outOfProtocol: outOfOrder } : {}),
    ...(votes ? { votes } : {}),
    events,
    ...(checkpoint ? { checkpoint } : {}),
  };
  if (json) return { text: JSON.stringify(shown, null, 2), ok: shown.verified };
  const lines = [
    `session  ${sessionId}`,
    `status   ${shown.status}`,
    `chain    ${problems.length === 0 ? `verified (${events.length} events, head ${events.at(-1)!.hash.slice(0, 16)}…)` : `BROKEN: ${problems.map(describeProblem).join('; ')}`}`,
    ...(outOfOrder ? [`order    OUT OF PROTOCOL (event_out_of_protocol): ${outOfOrder.message}`] : []),
    ...(votes ? [`votes    ${votes.problems.length === 0 ? `${votes.checked} signed by the approval desk's key ${votes.keyFingerprint!.slice(0, 16)}…` : `NOT PROVEN: ${votes.problems.map((p) => `${p.kind}: ${p.message}`).join('; ')}`}`] : []),
    ...(checkpoint ? [`signed   ${checkpoint.covered ? 'covered' : 'NOT covered'} by a signed checkpoint: ${checkpoint.reason}`] : []),
    '',
  ];
  for (const e of events) {
    lines.push(`#${e.seq} ${e.at} ${e.type}`);
    // Data that is not an object (null, a string: only a writer behind the gateway's back) is
    // shown as it is, not taken apart — Object.entries(null) threw and took the command down.
    if (typeof e.data !== 'object' || e.data === null || Array.isArray(e.data)) {
      lines.push(`    data: ${cell(e.data)}`);
      continue;
    }
    for (const [k, v] of Object.entries(e.data)) {
      if (v === undefined || v === null) continue;
      if (k === 'rows' && Array.isArray(v)) {
        lines.push(`    rows: ${v.length}`);
        continue;
      }
      lines.push(`    ${k}: ${cell(v)}`);
    }
  }
  return { text: lines.join('\n'), ok: shown.verified };
}

/** The session's votes checked against the desk's key (shared/evidence/votes.ts), as `evidence verify` does. */
export function checkVotes(events: readonly SessionEvent[], desk: DeskKey | undefined): ShownVotes | undefined {
  const checked = events.filter(isVoteEvent).length;
  if (checked === 0) return undefined;
  const key = desk && 'pem' in desk ? voteKeyOf(desk.pem) : (desk?.missing ?? "no approval desk key: pass --vote-public-key FILE (the desk's published key)");
  if (typeof key === 'string') return { checked, problems: [{ kind: 'vote_public_key_missing', message: `${checked} vote(s) cannot be checked: ${key}` }] };
  const problems = voteProblems(events, key).map(({ kind, sessionId, seq, message }) => ({ kind, ...(sessionId === undefined ? {} : { sessionId }), ...(seq === undefined ? {} : { seq }), message }));
  return { checked, keyFingerprint: key.fingerprint, problems };
}

export function describeProblem(p: ChainProblem): string {
  switch (p.kind) {
    case 'hash_mismatch':
      return `event ${p.seq} was modified (hash does not match its content)`;
    case 'link_broken':
      return `event ${p.seq} does not link to the event before it`;
    case 'seq_gap':
      return `expected event ${p.expected}, found ${p.found} (missing, inserted or reordered)`;
    case 'wrong_session':
      return `event ${p.seq} belongs to another session`;
  }
}
