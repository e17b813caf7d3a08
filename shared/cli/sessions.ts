// `gatehouse sessions list|show`: read the session log and show it, with the chain re-verified.
import { verifyChain, type ChainProblem } from '../audit/chain.ts';
import type { SessionEvent } from '../audit/events.ts';
import { sessionStatus } from '../audit/status.ts';
import { GatehouseError } from '../errors.ts';
import type { SessionLog, SessionQuery } from '../ports.ts';
import { cell, table } from './format.ts';
import type { Coverage } from './checkpoint.ts';

export async function listSessions(log: SessionLog, query: SessionQuery, json: boolean): Promise<string> {
  const sessions = await log.list(query);
  if (json) return JSON.stringify(sessions, null, 2);
  if (sessions.length === 0) return 'no sessions in this range';
  return table(
    ['started', 'session', 'status', 'who', 'connection', 'sql'],
    sessions.map((s) => [s.startedAt, s.sessionId, s.status, s.email ?? s.subject, s.connection, s.sql]),
  );
}

export interface ShownSession {
  readonly sessionId: string;
  readonly status: string;
  readonly verified: boolean;
  readonly problems: readonly ChainProblem[];
  readonly events: readonly SessionEvent[];
  /** Whether a signed checkpoint covers every event yet (shared/cli/checkpoint.ts). */
  readonly checkpoint?: Coverage;
}

export async function showSession(
  log: SessionLog,
  sessionId: string,
  json: boolean,
  coverage?: (events: readonly SessionEvent[]) => Promise<Coverage>,
): Promise<{ text: string; ok: boolean }> {
  const events = await log.read(sessionId);
  if (events.length === 0) throw new GatehouseError('session_not_found', `no session ${sessionId}`);
  const problems = verifyChain(sessionId, events);
  const checkpoint = coverage ? await coverage(events) : undefined;
  const shown: ShownSession = { sessionId, status: sessionStatus(events), verified: problems.length === 0, problems, events, ...(checkpoint ? { checkpoint } : {}) };
  if (json) return { text: JSON.stringify(shown, null, 2), ok: shown.verified };
  const lines = [
    `session  ${sessionId}`,
    `status   ${shown.status}`,
    `chain    ${shown.verified ? `verified (${events.length} events, head ${events.at(-1)!.hash.slice(0, 16)}…)` : `BROKEN: ${problems.map(describeProblem).join('; ')}`}`,
    ...(checkpoint ? [`signed   ${checkpoint.covered ? 'covered' : 'NOT covered'} by a signed checkpoint: ${checkpoint.reason}`] : []),
    '',
  ];
  for (const e of events) {
    lines.push(`#${e.seq} ${e.at} ${e.type}`);
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
