// The running gateway's reconciler: one pass at start-up over a long window (what an earlier
// process left open), then a pass every interval over a short one. Passes never overlap, and a
// failed pass (log down) is simply tried again at the next tick.
import { reconcile, type ReconcileDeps, type ReconcileReport } from './reconcile.ts';

export interface ReconcilerOptions {
  /** Between passes; 0 runs only the start-up pass. Default 60 s. */
  readonly intervalMs?: number;
  /** How far back the start-up pass looks; default 24 h; 0: no start-up pass. */
  readonly startupLookbackMs?: number;
  /** How far back the timer's passes look; default 1 h. */
  readonly lookbackMs?: number;
  readonly log?: (message: string) => void;
}

export interface Reconciler {
  /** One pass now over the timer's window (or `lookbackMs`), after any pass already running. */
  runOnce(lookbackMs?: number): Promise<ReconcileReport>;
  stop(): Promise<void>;
}

const MAX_SETTLED = 100_000;

export function startReconciler(deps: Omit<ReconcileDeps, 'settled'>, options: ReconcilerOptions = {}): Reconciler {
  const { intervalMs = 60_000, startupLookbackMs = 24 * 3600_000, lookbackMs = 3600_000, log = () => {} } = options;
  const clock = deps.clock ?? (() => new Date());
  const settled = new Set<string>();
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;

  const pass = (back: number): Promise<ReconcileReport> => {
    const next = running.then(async () => {
      if (settled.size > MAX_SETTLED) settled.clear();
      const report = await reconcile({ ...deps, settled }, { since: new Date(clock().getTime() - back) });
      const closed = report.closed.committed + report.closed.rolled_back + report.closed.unknown;
      if (closed || report.errors) {
        log(`reconciled ${closed} abandoned session(s): ${report.closed.committed} committed, ${report.closed.rolled_back} rolled back, ${report.closed.unknown} unknown; ${report.errors} left for the next pass`);
      }
      if (report.skipped.listingTampered) log(`reconciliation left ${report.skipped.listingTampered} session(s) alone whose listing row disagrees with their hashed first event (sessions list names them)`);
      if (report.skipped.sessionTampered) log(`reconciliation left ${report.skipped.sessionTampered} open-looking session(s) alone whose chain does not hold or whose events leave the gateway's order: ${report.tamperedSessions.slice(0, 5).map((s) => `${s.sessionId} ${s.code}`).join(', ')}${report.skipped.sessionTampered > 5 ? ', …' : ''}`);
      if (report.truncated) log(`reconciliation stopped after listing ${report.truncated.listed} session(s) (the most one pass lists): those started after session ${report.truncated.after} were not examined`);
      return report;
    });
    running = next.catch(() => {});
    return next;
  };

  if (startupLookbackMs > 0) void pass(startupLookbackMs).catch((e: unknown) => log(`start-up reconciliation failed: ${e instanceof Error ? e.message : String(e)}`));
  const timer =
    intervalMs > 0
      ? setInterval(() => {
          if (!stopped) void pass(lookbackMs).catch(() => {});
        }, intervalMs)
      : undefined;
  timer?.unref();

  return {
    runOnce: (back = lookbackMs) => pass(back),
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
