// One page per sampled statement: what a Type II tester asks for — the request, who made it,
// approvals and whether they came before execution, what masking did, and the result's digest —
// each with the event it comes from, so the tester can trace it back to events.jsonl.
import type { ChainProblem } from '../audit/chain.ts';
import type { SessionEvent } from '../audit/events.ts';
import type { ApprovalFact } from './approvals.ts';
import type { SessionFacts } from './facts.ts';
import { html, page, type Raw } from './html.ts';
import { displayName, type Identity } from './identity.ts';

export interface SamplePageInput {
  readonly number: number;
  readonly of: number;
  readonly populationRow: number;
  readonly seed: string;
  readonly facts: SessionFacts;
  readonly approvals: readonly ApprovalFact[];
  readonly events: readonly SessionEvent[];
  readonly chainProblems: readonly ChainProblem[];
  readonly result?: { readonly recorded?: string; readonly recomputed: string; readonly rows: number };
  readonly merkleRoot: string;
}

export function samplePage(s: SamplePageInput): string {
  const f = s.facts;
  const rows = (pairs: [string, unknown][]): Raw =>
    html`<table>${pairs.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`)}</table>`;
  const person = (id: Identity | undefined) => (id ? `${displayName(id)}${id.issuer ? ` (${id.issuer})` : ''}` : '');
  const x = f.execution;
  const ranAt = x?.startedAt;
  const granted = s.approvals.filter((a) => a.step === 'granted');
  const body = html`
<p class="muted">Sample ${s.number} of ${s.of} · population row ${s.populationRow} · seed ${JSON.stringify(s.seed)} · export Merkle root <code>${s.merkleRoot}</code></p>
<h1>Statement in session <code>${f.sessionId}</code></h1>
<p>Status <b>${f.status}</b> · hash chain ${s.chainProblems.length === 0 ? html`<span class="ok">verified (${f.events} events, head <code>${f.head}</code>)</span>` : html`<span class="bad">BROKEN: ${s.chainProblems.map((p) => p.kind).join(', ')}</span>`}</p>

<h2>Request</h2>
${rows([
  ['Received (UTC)', f.startedAt],
  ['Endpoint', f.endpoint],
  ['Connection', f.connection],
  ['SQL', f.sql === undefined ? undefined : html`<pre>${f.sql}</pre>`],
  ['Parameters', f.params?.length ? JSON.stringify(f.params) : undefined],
  ['Refused before a decision', f.rejected ? `${f.rejected.code}${f.rejected.message ? `: ${f.rejected.message}` : ''}` : undefined],
])}

<h2>Identity</h2>
${rows([
  ['Principal', person(f.principal)],
  ['Subject', f.principal?.subject],
  ['Groups', f.principal?.groups.join(', ')],
  ['Agent model', f.agent.model],
  ['Agent run id', f.agent.runId],
  ['Trace', f.agent.traceparent],
])}

<h2>Analysis and decision</h2>
${rows([
  ['Statement', f.analysis ? `${f.analysis.kind ?? '?'} — risk class ${f.analysis.class ?? '?'}` : 'not analysed'],
  ['Reasons', f.analysis?.reasons.length ? html`<ul>${f.analysis.reasons.map((r) => html`<li>${r}</li>`)}</ul>` : undefined],
  ['Decision', f.decision ? `${f.decision.action ?? '?'} by rule ${f.decision.rule ?? '(none)'}` : 'no decision recorded'],
  ['Decision reasons', f.decision?.reasons.length ? html`<ul>${f.decision.reasons.map((r) => html`<li>${r}</li>`)}</ul>` : undefined],
  ['Policy sha256', f.decision?.policySha256],
])}

<h2>Approvals before execution</h2>
${
  s.approvals.length === 0 && !f.decision?.approval
    ? html`<p>${f.decision?.action === 'approve' ? 'Approval was required; no decision is recorded in this export.' : 'No approval was required for this statement.'}</p>`
    : html`<table class="grid"><tr><th>Step</th><th>When (UTC)</th><th>Who</th><th>Comment</th><th>Session / event</th><th>Before execution?</th></tr>
${s.approvals.map(
  (a) => html`<tr><td>${a.step}</td><td>${a.at}</td><td>${person(a.by) || (a.approvers?.length ? `approvers: ${a.approvers.join(', ')}` : '')}</td><td>${a.comment ?? ''}</td><td><code>${a.sessionId}</code> #${a.seq}</td><td>${
    a.step !== 'granted' || !ranAt ? '' : a.at <= ranAt ? html`<span class="ok">yes</span>` : html`<span class="bad">NO — after execution</span>`
  }</td></tr>`,
)}</table>
${f.decision?.approval ? html`<p>This session redeemed approval <code>${f.decision.approval.id ?? '?'}</code> (asked for in session <code>${f.decision.approval.sessionId ?? '?'}</code>)${f.decision.approval.grantedBy.length ? `, granted by ${f.decision.approval.grantedBy.map(displayName).join(', ')}` : ''}${f.decision.approval.refusedCode ? ` — refused: ${f.decision.approval.refusedCode}` : ''}.</p>` : ''}
${granted.length && ranAt && granted.every((a) => a.at <= ranAt) ? html`<p class="ok">Every granted approval is recorded before execution started (${ranAt}).</p>` : ''}`
}

<h2>Execution and masking</h2>
${
  x
    ? rows([
        ['Started (UTC)', x.startedAt],
        ['Outcome', `${x.outcome}${x.error ? ` — ${x.error.code ?? ''} ${x.error.message ?? ''}` : ''}`],
        ['Transaction', x.readOnly === undefined ? undefined : x.readOnly ? 'READ ONLY' : 'read-write'],
        ['Command', x.command],
        ['Rows returned', x.rowCount === undefined ? undefined : `${x.rowCount}${x.truncated ? ' (truncated at the row cap)' : ''}`],
        ['Duration', x.durationMs === undefined ? undefined : `${x.durationMs.toFixed(1)} ms`],
        [
          'Masked columns',
          x.columns.some((c) => c.masked)
            ? html`<ul>${x.columns.filter((c) => c.masked).map((c) => html`<li><code>${c.name}</code> → ${c.mask ?? 'masked'}${c.why ? ` (${c.why})` : ''}</li>`)}</ul>`
            : x.outcome === 'completed'
              ? 'none recorded'
              : undefined,
        ],
      ])
    : html`<p>Nothing ran.</p>`
}

<h2>Result digest</h2>
${
  s.result
    ? rows([
        ['Recorded (execution.result resultSha256)', s.result.recorded ?? 'none recorded'],
        ['Recomputed over the stored rows', s.result.recomputed],
        ['Match', s.result.recorded === undefined ? '—' : s.result.recorded === s.result.recomputed ? html`<span class="ok">yes</span>` : html`<span class="bad">no</span> (the recorded digest may cover the unmasked result)`],
        ['Rows stored', s.result.rows],
        ['Raw result HMAC', s.facts.execution?.rawHmacSha256 === undefined ? undefined : html`<code>${s.facts.execution.rawHmacSha256}</code> — a keyed digest of the unmasked result: the holder of the masking key can confirm what the database returned; the log holds no raw values`],
      ])
    : html`<p>No result was returned.</p>`
}

<h2>Events</h2>
<table class="grid"><tr><th>#</th><th>Type</th><th>At (UTC)</th><th>Hash</th></tr>
${s.events.map((e) => html`<tr><td>${e.seq}</td><td>${e.type}</td><td>${e.at}</td><td><code>${e.hash}</code></td></tr>`)}</table>
`;
  return page(`Sample ${s.number}: session ${f.sessionId}`, body);
}
