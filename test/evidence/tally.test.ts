// The export's counts as a Tally (shared/evidence/derive.ts): verify's clean pass counts each
// chunk of sessions in a worker and merges the chunks in file order, so a merge of consecutive
// runs must be exactly the tally of the whole run — same numbers, same key order (report.html
// renders the maps in that order), same policy versions with first and last seen.
import test from 'ava';
import { Tally } from '../../shared/evidence/derive.ts';
import type { SessionFacts } from '../../shared/evidence/facts.ts';

function facts(i: number): SessionFacts {
  const rules = ['bots-read', 'dba-writes', '__proto__', 'constructor', 'toString', null];
  const classes = ['read', 'write', 'ddl', 'destructive', 'unknown'];
  const outcomes = ['completed', 'failed', 'rolled_back', 'unknown', 'running'] as const;
  const at = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
  const rule = rules[(i * 7) % rules.length]!;
  return {
    sessionId: `s-${i}`,
    startedAt: at,
    lastAt: at,
    events: 3 + (i % 4),
    head: 'a'.repeat(64),
    status: ['completed', 'denied', 'failed', '__proto__'][i % 4]!,
    principal: { issuer: 'https://issuer', subject: `bot-${i % 5}`, email: `bot-${i % 5}@x`, groups: [] },
    agent: { model: `m-${i % 3}` },
    analysis: { class: classes[i % 4]!, reasons: [], tablesRead: [], tablesWritten: [], functions: [] },
    decision: { action: ['allow', 'deny', 'approve'][i % 3]!, rule: rule ?? undefined, reasons: [], approvers: [], policySha256: `p${i % 3}` },
    approvals: i % 5 === 0 ? [{ step: 'granted', sessionId: `s-${i}`, seq: 3, at, approvalId: `a-${i}`, hash: 'b'.repeat(64), approvers: [] }] : [],
    execution: { outcome: outcomes[i % outcomes.length]!, startedAt: at, columns: i % 6 === 0 ? [{ name: 'email', masked: true, mask: 'hash' } as never] : [] },
  };
}

const all = Array.from({ length: 60 }, (_, i) => facts(i));

function whole(): Tally {
  const t = new Tally();
  for (const f of all) {
    t.addSession(f, []);
    t.addApprovals(f, f.approvals);
  }
  return t;
}

test('tallies of consecutive runs merged in order are the tally of the whole run, key order included', (t) => {
  const want = whole();
  for (const cuts of [[0, 60], [0, 1, 60], [0, 7, 8, 30, 59, 60], [0, 13, 26, 39, 52, 60]]) {
    const merged = new Tally();
    for (let k = 0; k + 1 < cuts.length; k++) {
      const part = new Tally();
      for (const f of all.slice(cuts[k], cuts[k + 1])) {
        part.addSession(f, []);
        part.addApprovals(f, f.approvals);
      }
      merged.merge(part.snapshot());
    }
    t.is(JSON.stringify(merged.counts), JSON.stringify(want.counts), `cuts ${cuts}`);
    t.is(JSON.stringify(merged.policyVersions()), JSON.stringify(want.policyVersions()), `cuts ${cuts}`);
  }
  // The counts are not trivial: approvals, masking, changes and every map took part.
  const c = want.counts;
  t.true(c.changesExecutedWithApproval > 0 && c.maskedStatements > 0 && c.distinctPrincipals === 5 && c.distinctAgentModels === 3);
  t.is(want.policyVersions().length, 3);
});

test('keys read from event data (`__proto__`, `constructor`) are counted as own keys, and no prototype changes', (t) => {
  const c = whole().counts;
  t.true(Object.hasOwn(c.byRule, '__proto__'));
  t.true(Object.hasOwn(c.byRule, 'constructor'));
  t.true(Object.hasOwn(c.byStatus, '__proto__'));
  t.is(typeof c.byRule.__proto__, 'number');
  t.is(Object.getPrototypeOf(c.byRule), Object.prototype);
  t.is(({} as Record<string, unknown>).polluted, undefined);
  const total = Object.values(c.byRule).reduce((a, b) => a + b, 0);
  t.is(total, 60);
});
