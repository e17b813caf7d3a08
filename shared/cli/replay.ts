// `gatehouse sessions replay ID`: one session as it happened — who, what, what was decided and
// why, who approved and when, what ran, what masking hid, and the result exactly as the bot got
// it (the rows stored in execution.completed). Text for people, --json for machines.
import { verifyChain, type ChainProblem } from '../audit/chain.ts';
import type { SessionEvent } from '../audit/events.ts';
import { protocolBreak, type ProtocolBreak } from '../audit/protocol.ts';
import { GatehouseError } from '../errors.ts';
import type { ApprovalFact } from '../evidence/approvals.ts';
import { approvalFact, isApprovalEvent } from '../evidence/approvals.ts';
import { approvalsFor, sessionFacts, storedResult, type SessionFacts } from '../evidence/facts.ts';
import { displayName, type Identity } from '../evidence/identity.ts';
import type { SessionLog } from '../ports.ts';
import { approvalProven, provenStatus } from '../approvals/proven-status.ts';
import type { DeskKey } from './desk-key.ts';
import { checkVotes, describeProblem, type ShownVotes, type VoteIssue } from './sessions.ts';
import { safe } from './format.ts';

export interface Replay {
  readonly sessionId: string;
  /** What the record proves: votes count only when the approval desk's signature holds (proven-status.ts). */
  readonly status: string;
  readonly chain: { readonly verified: boolean; readonly problems: readonly ChainProblem[]; readonly events: number; readonly head: string };
  /** The first event out of the order the gateway writes (shared/audit/protocol.ts): appended by another writer. */
  readonly outOfProtocol?: ProtocolBreak;
  /** The votes shown (this session's and, for a redemption, the asking session's) checked against the desk's key. */
  readonly votes?: ShownVotes;
  readonly facts: SessionFacts;
  /** Approval events that count for this statement, from this session or the one that asked. */
  readonly approvals: readonly ApprovalFact[];
  /** The result as returned to the bot; absent when nothing was returned. */
  readonly result?: { readonly columns: readonly string[]; readonly rows: readonly (readonly unknown[])[] };
  readonly events: readonly SessionEvent[];
}

export async function replaySession(log: Pick<SessionLog, 'read'>, sessionId: string, desk?: DeskKey): Promise<Replay> {
  const events = await log.read(sessionId);
  if (events.length === 0) throw new GatehouseError('session_not_found', `no session ${sessionId}`);
  const problems = verifyChain(sessionId, events);
  const outOfOrder = protocolBreak(events);
  const facts = sessionFacts(events);
  // A redemption names the session that asked for the approval: its decisions live there.
  const redemption = facts.decision?.approval;
  let elsewhere: ApprovalFact[] = [];
  let asked: readonly SessionEvent[] = [];
  if (redemption?.sessionId && redemption.sessionId !== sessionId) {
    asked = await log.read(redemption.sessionId);
    elsewhere = asked.filter(isApprovalEvent).map(approvalFact).filter((a) => a.approvalId === undefined || a.approvalId === redemption.id);
  }
  const pem = desk && 'pem' in desk ? desk.pem : undefined;
  const checked = mergeVotes(checkVotes(events, desk), asked.length ? checkVotes(asked, desk) : undefined);
  // A redemption's "approved by approval X, granted by …" is believed only when the asking
  // session's signed votes prove X approved: a whole redemption session appended with the log's
  // INSERT right otherwise replayed as "granted by alice" with nothing flagged.
  const unproven: VoteIssue | undefined =
    redemption &&
    redemption.refusedCode === undefined &&
    // Without a key nothing is proven, and vote_public_key_missing already says so.
    !(pem === undefined && checked?.problems.some((p) => p.kind === 'vote_public_key_missing')) &&
    !(redemption.id !== undefined && redemption.sessionId !== undefined && redemption.sessionId !== sessionId && approvalProven(asked, redemption.id, redemption.sessionId, pem))
      ? {
          kind: 'redemption_unproven',
          sessionId,
          ...decisionSeq(events),
          message: `the decision redeems approval ${redemption.id ?? '?'} of session ${redemption.sessionId ?? '?'}, which no quorum of votes signed by the approval desk's key proves approved`,
        }
      : undefined;
  const votes = unproven ? { checked: checked?.checked ?? 0, ...(checked?.keyFingerprint ? { keyFingerprint: checked.keyFingerprint } : {}), problems: [...(checked?.problems ?? []), unproven] } : checked;
  return {
    sessionId,
    status: provenStatus(events, pem),
    chain: { verified: problems.length === 0, problems, events: events.length, head: facts.head },
    ...(outOfOrder ? { outOfProtocol: outOfOrder } : {}),
    ...(votes ? { votes } : {}),
    facts,
    approvals: approvalsFor(facts, elsewhere),
    result: storedResult(events),
    events,
  };
}

function decisionSeq(events: readonly SessionEvent[]): { seq?: number } {
  const seq = events.findLast((e) => e.type === 'decision')?.seq;
  return seq === undefined ? {} : { seq };
}

function mergeVotes(own: ShownVotes | undefined, asked: ShownVotes | undefined): ShownVotes | undefined {
  if (!own || !asked) return own ?? asked;
  return { checked: own.checked + asked.checked, ...(own.keyFingerprint ? { keyFingerprint: own.keyFingerprint } : {}), problems: [...own.problems, ...asked.problems] };
}

export async function replayCommand(log: Pick<SessionLog, 'read'>, sessionId: string, json: boolean, desk?: DeskKey): Promise<{ text: string; ok: boolean }> {
  const r = await replaySession(log, sessionId, desk);
  const ok = r.chain.verified && r.outOfProtocol === undefined && (r.votes === undefined || r.votes.problems.length === 0);
  if (json) return { text: JSON.stringify(r, null, 2), ok };
  return { text: renderReplay(r), ok };
}

export function renderReplay(r: Replay): string {
  const f = r.facts;
  const out: string[] = [];
  const section = (title: string) => out.push('', title);
  const line = (label: string, value: unknown) => {
    if (value === undefined || value === '' || value === null) return;
    const lines = safe(String(value)).split('\n');
    out.push(`  ${label.padEnd(14)} ${lines[0]}`, ...lines.slice(1).map((l) => `  ${''.padEnd(14)} ${l}`));
  };
  const person = (id: Identity | undefined) => (id ? `${displayName(id)}${id.issuer ? `  (issuer ${id.issuer})` : ''}` : undefined);

  out.push(`session ${r.sessionId}  ·  ${r.status}`);
  out.push(
    r.chain.verified
      ? `chain   verified: ${r.chain.events} events, head ${r.chain.head}`
      : `chain   BROKEN: ${r.chain.problems.map(describeProblem).join('; ')}`,
  );
  if (r.outOfProtocol) out.push(`order   OUT OF PROTOCOL (event_out_of_protocol): ${safe(r.outOfProtocol.message)}`);
  const v = r.votes;
  if (v) {
    out.push(v.problems.length === 0 ? `votes   ${v.checked} signed by the approval desk's key ${v.keyFingerprint!.slice(0, 16)}…` : `votes   NOT PROVEN: ${v.problems.map((p) => `${p.kind}: ${safe(p.message)}`).join('; ')}`);
  }
  /** A vote the desk's key does not prove is shown as the log holds it, and marked. */
  const unproven = (a: ApprovalFact) => v?.problems.find((p) => (p.sessionId === undefined || p.sessionId === a.sessionId) && (p.seq === undefined || p.seq === a.seq));

  section('WHO');
  line('identity', person(f.principal));
  line('subject', f.principal?.subject);
  line('groups', f.principal?.groups.join(', ') || '(none)');
  line('agent model', f.agent.model ?? '(not given)');
  line('run id', f.agent.runId);
  line('trace', f.agent.traceparent);

  section('WHAT');
  line('received', f.startedAt);
  line('endpoint', f.endpoint);
  line('connection', f.connection);
  line('sql', f.sql);
  line('params', f.params?.length ? JSON.stringify(f.params) : undefined);
  line('refused', f.rejected ? `${f.rejected.code}${f.rejected.message ? `: ${f.rejected.message}` : ''}` : undefined);
  if (f.analysis) {
    line('statement', `${f.analysis.kind ?? '?'}, risk class ${f.analysis.class ?? '?'}`);
    for (const reason of f.analysis.reasons) line('  because', reason);
    line('reads', f.analysis.tablesRead.join(', '));
    line('writes', f.analysis.tablesWritten.join(', '));
    line('fingerprint', f.analysis.fingerprint);
  }
  if (f.decision) {
    line('decision', `${f.decision.action ?? '?'} by rule ${f.decision.rule ?? '(no rule matched)'}`);
    for (const reason of f.decision.reasons) line('  because', reason);
    line('policy sha256', f.decision.policySha256);
  } else line('decision', '(none recorded)');

  section('APPROVALS');
  const ranAt = f.execution?.startedAt;
  if (r.approvals.length === 0 && !f.decision?.approval) {
    line('', f.decision?.action === 'approve' ? 'approval required; no decision recorded yet' : 'none required');
  }
  for (const a of r.approvals) {
    const when = a.step === 'granted' && ranAt ? (a.at <= ranAt ? ' (before execution)' : ' (AFTER execution)') : '';
    const where = a.sessionId === r.sessionId ? '' : `  [session ${a.sessionId} #${a.seq}]`;
    const flag = a.step === 'granted' || a.step === 'rejected' ? unproven(a) : undefined;
    line(a.step, `${a.at}${when}  ${person(a.by) ?? (a.approvers?.length ? `approvers ${a.approvers.join(', ')}, quorum ${a.quorum ?? '?'}` : '')}${where}${flag ? `  — NOT PROVEN (${flag.kind})` : ''}`);
    if (a.comment !== undefined) line('  comment', a.comment);
  }
  if (f.decision?.approval) {
    const ap = f.decision.approval;
    const notProven = v?.problems.some((p) => p.kind === 'redemption_unproven');
    line('redeemed', `approval ${ap.id ?? '?'} from session ${ap.sessionId ?? '?'}${ap.grantedBy.length ? `, granted by ${ap.grantedBy.map(displayName).join(', ')}` : ''}${ap.refusedCode ? ` — REFUSED: ${ap.refusedCode}` : ''}${notProven ? ' — NOT PROVEN (redemption_unproven)' : ''}`);
  }

  section('WHAT RAN');
  const x = f.execution;
  if (!x) line('', 'nothing ran');
  else {
    line('started', `${x.startedAt ?? '?'}${x.readOnly === undefined ? '' : x.readOnly ? ', READ ONLY' : ', read-write'}${x.maxRows !== undefined ? `, max ${x.maxRows} rows` : ''}${x.statementTimeoutMs !== undefined ? `, timeout ${x.statementTimeoutMs} ms` : ''}`);
    line('finished', `${x.finishedAt ?? '(still running)'}  ${x.outcome}${x.error ? `: ${x.error.code ?? ''} ${x.error.message ?? ''}` : ''}`);
    if (x.outcome === 'completed') {
      line('result', `${x.command ?? '?'}, ${x.rowCount ?? '?'} rows${x.truncated ? ' (truncated at the row cap)' : ''}, ${x.durationMs === undefined ? '?' : x.durationMs.toFixed(1)} ms`);
      const masked = x.columns.filter((c) => c.masked);
      if (masked.length === 0) line('masked', 'no columns');
      for (const c of masked) line('masked', `${c.name} → ${c.mask ?? 'masked'}${c.why ? `  (${c.why})` : ''}`);
      line('result sha256', x.resultSha256);
      line('raw hmac', x.rawHmacSha256 && `${x.rawHmacSha256}  (keyed digest of the unmasked result: the masking-key holder can confirm it)`);
    }
  }

  if (r.result && r.result.columns.length === 0) {
    section('RESULT as returned to the bot');
    line('', `no result set (${x?.command ?? '?'}, ${x?.rowCount ?? '?'} rows affected)`);
  } else if (r.result) {
    section(`RESULT as returned to the bot (${r.result.rows.length} rows)`);
    const masked = new Set((x?.columns ?? []).filter((c) => c.masked).map((c) => c.name));
    out.push(...resultTable(r.result.columns.map((c) => (masked.has(c) ? `${c} [masked]` : c)), r.result.rows).map((l) => `  ${l}`));
  }
  return out.join('\n');
}

/** Every cell in full (a replay must not abbreviate what the bot saw); NULL as NULL. */
function resultTable(headers: readonly string[], rows: readonly (readonly unknown[])[]): string[] {
  const show = (v: unknown) => safe(v === null ? 'NULL' : v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v)).replace(/\n/g, '\\n');
  const cells = rows.map((r) => headers.map((_, i) => show(r[i])));
  const widths = headers.map((h, i) => Math.max(safe(h).length, ...cells.map((r) => r[i]!.length)));
  const fmt = (r: readonly string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ').trimEnd();
  return [fmt(headers.map(safe)), widths.map((w) => '-'.repeat(w)).join('-+-'), ...cells.map(fmt)];
}
