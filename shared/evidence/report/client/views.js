// report.html client, part 3: the four views — sessions (with filters), one session replayed,
// verification, SOC 2 mapping. Each returns a node; main.js routes between them.
'use strict';

const MAX_ROWS_SHOWN = 500;

function sessionsView(state) {
  const { meta, sessions } = state;
  const distinct = (f) => [...new Set(sessions.map(f).filter(Boolean))].sort();
  const select = (name, label, values) =>
    h('label', {}, label, ' ', h('select', { 'data-filter': name, 'data-testid': 'filter-' + name, onchange: update }, h('option', { value: '' }, 'all'), values.map((v) => h('option', { value: v }, v))));
  const input = (name, label, type) => h('label', {}, label, ' ', h('input', { type, 'data-filter': name, 'data-testid': 'filter-' + name, oninput: update }));

  const filters = h(
    'form.filters',
    { onsubmit: (e) => e.preventDefault() },
    select('identity', 'Identity', distinct((s) => who(s.f.principal))),
    select('model', 'Model', distinct((s) => s.f.agent.model)),
    select('risk', 'Risk class', distinct((s) => (s.f.analysis && s.f.analysis.class) || 'none')),
    select('decision', 'Decision', distinct((s) => (s.f.decision && s.f.decision.action) || 'none')),
    input('from', 'From (UTC)', 'date'),
    input('to', 'To (UTC, inclusive)', 'date'),
    input('text', 'Search', 'search'),
  );
  const count = h('p.count', { 'data-testid': 'match-count' });
  const tbody = h('tbody');
  const table = h(
    'table.sessions',
    { 'data-testid': 'sessions-table' },
    h('thead', {}, h('tr', {}, ['Started (UTC)', 'Identity', 'Model', 'Connection', 'Risk', 'Decision', 'Rule', 'Status', 'SQL'].map((c) => h('th', {}, c)))),
    tbody,
  );
  const note = h(
    'p.note',
    {},
    meta.report.sessionsEmbedded < meta.report.sessionsTotal
      ? `This report embeds the ${meta.report.sessionsEmbedded} most recent of the ${meta.report.sessionsTotal} sessions in the export; sessions.jsonl, events.jsonl and population.csv hold all of them.`
      : `All ${meta.report.sessionsTotal} sessions of the export are embedded.`,
  );

  function value(name) {
    const el = filters.querySelector('[data-filter="' + name + '"]');
    return el ? el.value : '';
  }

  function update() {
    const f = { identity: value('identity'), model: value('model'), risk: value('risk'), decision: value('decision'), from: value('from'), to: value('to'), text: value('text').toLowerCase() };
    const matches = sessions.filter((s) => {
      const day = s.f.startedAt.slice(0, 10);
      if (f.identity && who(s.f.principal) !== f.identity) return false;
      if (f.model && s.f.agent.model !== f.model) return false;
      if (f.risk && ((s.f.analysis && s.f.analysis.class) || 'none') !== f.risk) return false;
      if (f.decision && ((s.f.decision && s.f.decision.action) || 'none') !== f.decision) return false;
      if (f.from && day < f.from) return false;
      if (f.to && day > f.to) return false;
      if (f.text) {
        const hay = [s.f.sessionId, s.f.sql, who(s.f.principal), s.f.agent.model, s.f.agent.runId, s.f.connection, s.f.decision && s.f.decision.rule, s.f.rejected && s.f.rejected.code].join('\n').toLowerCase();
        if (!hay.includes(f.text)) return false;
      }
      return true;
    });
    clear(tbody);
    for (const s of matches.slice(0, MAX_ROWS_SHOWN)) {
      tbody.appendChild(
        h(
          'tr',
          { 'data-testid': 'session-row', 'data-session': s.f.sessionId },
          h('td', {}, h('a', { href: '#session=' + encodeURIComponent(s.f.sessionId) }, s.f.startedAt.replace('T', ' ').replace('Z', ''))),
          h('td', {}, who(s.f.principal)),
          h('td', {}, s.f.agent.model || ''),
          h('td', {}, s.f.connection || ''),
          h('td', {}, (s.f.analysis && s.f.analysis.class) || ''),
          h('td', {}, decisionBadge(s.f)),
          h('td', {}, (s.f.decision && s.f.decision.rule) || ''),
          h('td', {}, s.f.status, s.chain === 'verified' ? '' : badge('chain broken', 'bad')),
          h('td.sql', {}, clip(s.f.sql || (s.f.rejected ? '(' + s.f.rejected.code + ')' : ''), 120)),
        ),
      );
    }
    count.textContent = `${matches.length} of ${sessions.length} embedded sessions match` + (matches.length > MAX_ROWS_SHOWN ? ` (first ${MAX_ROWS_SHOWN} shown: narrow the filters)` : '');
  }

  update();
  return h('section', {}, h('h2', {}, 'Sessions'), note, filters, count, table);
}

function decisionBadge(f) {
  const a = (f.decision && f.decision.action) || (f.rejected ? 'rejected' : 'none');
  return badge(a, a === 'allow' ? 'good' : a === 'approve' ? 'warn' : a === 'none' ? 'plain' : 'bad');
}

function replayView(state, id) {
  const s = state.sessions.find((x) => x.f.sessionId === id);
  if (!s) return h('section', {}, h('h2', {}, 'Session not in this report'), h('p', {}, 'The session ', h('code', {}, id), ' is not embedded here; find it in events.jsonl.'));
  const f = s.f;
  const a = f.analysis;
  const d = f.decision;
  const x = f.execution;
  const browser = s.browserCheck ? (s.browserCheck.length ? badge('re-check in this browser failed: ' + s.browserCheck.join('; '), 'bad') : badge('re-checked in this browser', 'good')) : null;
  const parts = [
    h('p', {}, h('a', { href: '#sessions' }, '← all sessions')),
    h('h2', {}, 'Session ', h('code', {}, f.sessionId)),
    h('p', {}, badge(f.status), ' ', s.chain === 'verified' ? badge('chain verified at export', 'good') : badge('chain BROKEN at export', 'bad'), ' ', browser),
    h('h3', {}, 'Who'),
    facts([
      ['Identity', who(f.principal)],
      ['Subject', f.principal && f.principal.subject],
      ['Issuer', f.principal && f.principal.issuer],
      ['Groups', f.principal && f.principal.groups.join(', ')],
      ['Agent model', f.agent.model],
      ['Run id', f.agent.runId],
      ['Trace', f.agent.traceparent],
    ]),
    h('h3', {}, 'What'),
    facts([
      ['Received (UTC)', f.startedAt],
      ['Endpoint', f.endpoint],
      ['Connection', f.connection],
      ['SQL', f.sql !== undefined ? h('pre.sql', { 'data-testid': 'replay-sql' }, f.sql) : undefined],
      ['Parameters', f.params && f.params.length ? JSON.stringify(f.params) : undefined],
      ['Refused', f.rejected ? f.rejected.code + (f.rejected.message ? ': ' + f.rejected.message : '') : undefined],
      ['Statement', a ? [a.kind, a.class && badge(a.class)].filter(Boolean).map((v, i) => (i ? [' ', v] : v)) : undefined],
      ['Analysis', a && a.reasons.length ? h('ul', {}, a.reasons.map((r) => h('li', {}, r))) : undefined],
      ['Tables read', a && a.tablesRead.join(', ')],
      ['Tables written', a && a.tablesWritten.join(', ')],
      ['Fingerprint', a && a.fingerprint],
      ['Decision', d ? [decisionBadge(f), ' by rule ', h('code', {}, d.rule || '(none)')] : undefined],
      ['Reasons', d && d.reasons.length ? h('ul', {}, d.reasons.map((r) => h('li', {}, r))) : undefined],
      ['Policy (sha256)', d && d.policySha256],
    ]),
    h('h3', {}, 'Approvals'),
    approvalsPart(s),
    h('h3', {}, 'What ran'),
    x
      ? facts([
          ['Started (UTC)', x.startedAt],
          ['Finished (UTC)', x.finishedAt],
          ['Outcome', x.outcome + (x.error ? ': ' + (x.error.code || '') + ' ' + (x.error.message || '') : '')],
          ['Transaction', x.readOnly === undefined ? undefined : x.readOnly ? 'READ ONLY' : 'read-write'],
          ['Limits', x.maxRows !== undefined ? `max ${x.maxRows} rows, timeout ${x.statementTimeoutMs} ms` : undefined],
          ['Command', x.command],
          ['Rows', x.rowCount !== undefined ? String(x.rowCount) + (x.truncated ? ' (truncated)' : '') : undefined],
          ['Duration', x.durationMs !== undefined ? x.durationMs.toFixed(1) + ' ms' : undefined],
          ['Masked columns', maskedPart(x.columns)],
          ['Result sha256', x.resultSha256],
          ['Raw result HMAC', x.rawHmacSha256 ? x.rawHmacSha256 + ' (keyed digest of the unmasked result; the masking-key holder can confirm it)' : undefined],
        ])
      : h('p', {}, 'Nothing ran.'),
    h('h3', {}, 'Result, as the agent received it'),
    resultPart(s),
    h('h3', {}, 'Events'),
    eventsPart(s),
  ];
  return h('section.replay', { 'data-testid': 'replay' }, parts);
}

function approvalsPart(s) {
  const list = s.approvals || [];
  const d = s.f.decision;
  if (!list.length) return h('p', {}, d && d.action === 'approve' ? 'Approval required; no decision recorded in this export.' : 'No approval was required.');
  const ranAt = s.f.execution && s.f.execution.startedAt;
  return h(
    'table.grid',
    { 'data-testid': 'approvals' },
    h('thead', {}, h('tr', {}, ['Step', 'When (UTC)', 'Who', 'Comment', 'Recorded in', 'Before execution'].map((c) => h('th', {}, c)))),
    h(
      'tbody',
      {},
      list.map((a) =>
        h(
          'tr',
          {},
          h('td', {}, a.step),
          h('td', {}, a.at),
          h('td', {}, who(a.by) || (a.approvers && a.approvers.length ? 'approvers: ' + a.approvers.join(', ') : '')),
          h('td', {}, a.comment || ''),
          h('td', {}, a.sessionId === s.f.sessionId ? 'this session, event ' + a.seq : [h('a', { href: '#session=' + encodeURIComponent(a.sessionId) }, 'session ' + a.sessionId), ', event ' + a.seq]),
          h('td', {}, a.step !== 'granted' || !ranAt ? '' : a.at <= ranAt ? badge('yes', 'good') : badge('NO: after execution', 'bad')),
        ),
      ),
    ),
  );
}

function maskedPart(columns) {
  const masked = (columns || []).filter((c) => c.masked);
  if (!masked.length) return 'none';
  return h('ul', {}, masked.map((c) => h('li', {}, h('code', {}, c.name), ' → ', c.mask || 'masked', c.why ? ' (' + c.why + ')' : '')));
}

function resultPart(s) {
  if (!s.events) return h('p', {}, 'This session is too large to embed in full; its result is in events.jsonl.');
  // execution.result since the outcome protocol; execution.completed in older logs.
  const done = s.events.find((e) => e.type === 'execution.result') || s.events.find((e) => e.type === 'execution.completed');
  if (!done) return h('p', {}, 'No result: nothing was returned.');
  const cols = Array.isArray(done.data.columns) ? done.data.columns : [];
  const rows = Array.isArray(done.data.rows) ? done.data.rows : [];
  if (!cols.length) return h('p', {}, 'No result set (' + show(done.data.command) + ', ' + show(done.data.rowCount) + ' rows affected).');
  const colFacts = (s.f.execution && s.f.execution.columns) || [];
  return h(
    'table.grid.result',
    { 'data-testid': 'result-table' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        cols.map((c, i) => {
          const cf = colFacts[i] || {};
          return h('th', { 'data-masked': cf.masked ? 'true' : null }, show(c && c.name), cf.masked ? [' ', badge('masked: ' + (cf.mask || '?'), 'warn')] : '');
        }),
      ),
    ),
    h('tbody', {}, rows.map((r) => h('tr', {}, (Array.isArray(r) ? r : [r]).map((v) => h('td' + (v === null ? '.null' : ''), {}, show(v)))))),
  );
}

function eventsPart(s) {
  if (!s.events) return h('p', {}, 'Events omitted from the report (size); see events.jsonl.');
  return h(
    'ol.events',
    { start: 0 },
    s.events.map((e) => h('li', {}, h('code', {}, e.type), ' at ', e.at, ' ', h('span.hash', { title: 'hash ' + e.hash + '\nprevious ' + (e.prevHash || '—') }, e.hash.slice(0, 16) + '…'))),
  );
}

function verificationView(state) {
  const { meta } = state;
  const v = meta.verification;
  const bc = state.browserCheck;
  return h(
    'section',
    { 'data-testid': 'verification' },
    h('h2', {}, 'Verification'),
    h('p', { 'data-testid': 'export-status' }, v.ok ? badge('every chain verified when exported', 'good') : badge(v.chainsBroken + ' broken chains when exported', 'bad')),
    facts([
      ['Checked', v.checkedAt + ' — ' + v.checkedBy],
      ['Sessions', String(v.sessions)],
      ['Events', String(v.events)],
      ['Merkle root', h('code', {}, meta.merkleRoot)],
      ['Merkle tree', meta.merkleDefinition],
      ['Re-checked here', h('span', { 'data-testid': 'browser-check' }, !bc ? 'checking…' : !bc.available ? 'this browser offers no SHA-256 (WebCrypto): not re-checked' : `${bc.ok} of ${bc.ok + bc.broken} embedded chains re-verified in this browser` + (bc.broken ? `, ${bc.broken} BROKEN` : '') + (bc.skipped ? ` (${bc.skipped} too large to embed)` : ''))],
    ]),
    v.broken && v.broken.length ? h('ul', {}, v.broken.map((b) => h('li', {}, h('code', {}, b.sessionId), ': ', b.problems.map((p) => p.kind + ' at ' + (p.seq ?? p.found)).join(', ')))) : null,
    h('p.note', {}, 'This page reports the check made while exporting. To check the folder itself — every event hash, chain, file digest, the counts and the Merkle root — run: ', h('code', {}, 'npx gatehouse evidence verify <this folder>'), '. Keep the Merkle root apart from the folder: it commits to every session in it.'),
    h('h3', {}, 'Counts'),
    facts([
      ['Range', meta.range.from + ' → ' + meta.range.to + ' (' + meta.range.bounds + ')'],
      ['By decision', Object.entries(meta.counts.byDecision).map(([k, n]) => k + ' ' + n).join(' · ')],
      ['By risk class', Object.entries(meta.counts.byRiskClass).map(([k, n]) => k + ' ' + n).join(' · ')],
      ['By status', Object.entries(meta.counts.byStatus).map(([k, n]) => k + ' ' + n).join(' · ')],
      // Its own line, never folded into "not executed": an exception an auditor must see.
      ['Outcome unknown', meta.counts.unknownOutcomes === undefined ? 'not counted (export predates the outcome protocol)' : String(meta.counts.unknownOutcomes) + (meta.counts.unknownOutcomes ? ' — writes not proven committed or rolled back, or never closed: exceptions' : '')],
      ['Rolled back after running', meta.counts.rolledBack === undefined ? undefined : String(meta.counts.rolledBack)],
    ]),
    h('h3', {}, 'Policy versions'),
    h('table.grid', {}, h('thead', {}, h('tr', {}, ['sha256', 'sessions', 'first seen', 'last seen'].map((c) => h('th', {}, c)))), h('tbody', {}, meta.policyVersions.map((p) => h('tr', {}, h('td', {}, h('code', {}, p.sha256)), h('td', {}, String(p.sessions)), h('td', {}, p.firstSeen), h('td', {}, p.lastSeen))))),
  );
}

function soc2View(state) {
  return h(
    'section',
    { 'data-testid': 'soc2' },
    h('h2', {}, 'SOC 2 criteria and the evidence in this export'),
    h('p.note', {}, 'Figures are counted over the whole export (' + state.meta.report.sessionsTotal + ' sessions), not only the sessions embedded in this report.'),
    state.meta.soc2.map((c) =>
      h(
        'article.criterion',
        { 'data-criterion': c.id },
        h('h3', {}, c.id + ' — ' + c.title),
        h('p.question', {}, c.question),
        h('div.cols', {}, h('div', {}, h('h4', {}, 'Evidence'), h('ul', {}, c.evidence.map((e) => h('li', {}, e)))), h('div', {}, h('h4', {}, 'In this export'), facts(c.figures.map((f) => [f.label, String(f.value)])))),
      ),
    ),
  );
}
