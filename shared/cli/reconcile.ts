// `gatehouse sessions reconcile`: close the sessions a dead gateway left open (docs/outcomes.md),
// from outside any gateway. The policy names the target connections, whose transaction status
// settles writes that recorded a result; a target it cannot reach leaves those open, never guessed.
import { loadPolicy } from '../policy/index.ts';
import { createSecretSource } from '../adapters/secrets/index.ts';
import { createTargetDatabase } from '../postgres/index.ts';
import type { SessionLog } from '../ports.ts';
import { reconcile, type ReconcileReport } from '../reconcile/reconcile.ts';
import { table } from './format.ts';

export interface ReconcileCommandOptions {
  readonly policy: string;
  readonly since: Date;
  readonly graceSec: number;
  readonly json: boolean;
  readonly embedded?: ReadonlyMap<string, string>;
}

export async function reconcileCommand(log: SessionLog, o: ReconcileCommandOptions): Promise<{ text: string; report: ReconcileReport }> {
  const policy = await loadPolicy(o.policy);
  const secrets = createSecretSource({ env: process.env, embedded: o.embedded ?? new Map() });
  const target = createTargetDatabase({ connections: policy.connections, secrets, poolSize: 2 });
  try {
    const report = await reconcile({ sessions: log, target, graceMs: o.graceSec * 1000, reconciledBy: 'cli' }, { since: o.since });
    return { text: o.json ? JSON.stringify(report, null, 2) : describe(report), report };
  } finally {
    await Promise.allSettled([target.close(), secrets.close()]);
  }
}

function describe(r: ReconcileReport): string {
  const lines = [
    `examined ${r.examined} open session(s); closed ${r.closedSessions.length}: ${r.closed.committed} committed, ${r.closed.rolled_back} rolled back, ${r.closed.unknown} UNKNOWN`,
    `left open: ${r.skipped.tooRecent} too recent, ${r.skipped.inProgress} still in progress on the target, ${r.skipped.inFlight} running here, ${r.errors} not reachable now (run again)`,
    ...(r.skipped.listingTampered > 0 ? [`not touched: ${r.skipped.listingTampered} listed session(s) whose listing row disagrees with their hashed first event (\`sessions list\` names them)`] : []),
    ...(r.skipped.sessionTampered > 0
      ? [`not touched: ${r.skipped.sessionTampered} open-looking session(s) the log does not back (\`sessions show ID\` shows why): ${r.tamperedSessions.map((s) => `${s.sessionId} ${s.code}`).join(', ')}`]
      : []),
    ...(r.truncated
      ? [`STOPPED EARLY: listed ${r.truncated.listed} session(s), the most one pass lists; those started after session ${r.truncated.after} were not examined (run again with a later --since)`]
      : []),
  ];
  if (r.closedSessions.length) {
    lines.push('', table(['session', 'outcome', 'how it is known'], r.closedSessions.map((c) => [c.sessionId, c.outcome, c.basis])));
  }
  return lines.join('\n');
}
