// Getting the approval request onto the topic, and keeping at it until it is there. The request
// path publishes once (the notifier retries within its own bounds); when that fails the approval
// stays `notification: pending` with a due time, and the republisher picks it up — on a timer
// while the process runs, and on the next start. Nothing is lost, and a message published twice
// (a republish racing a slow first attempt) is harmless: the fan-out posts once per approval.
import type { ApprovalNotifier, ApprovalStore } from './ports.ts';
import { approvalMessage } from './message.ts';
import type { Approval, NotificationState } from './types.ts';

export interface PublishDeps {
  readonly store: ApprovalStore;
  readonly notifier: ApprovalNotifier;
  readonly clock: () => Date;
  readonly reviewUrl: (approvalId: string) => string;
  /** Delay before the next attempt after `attempts` failed ones. */
  readonly backoffMs: (attempts: number) => number;
  readonly log: (message: string) => void;
}

/** Exponential from `baseMs`, capped: 5 s, 10 s, 20 s, … 5 min with the defaults. */
export function exponentialBackoff(baseMs = 5000, capMs = 300_000): (attempts: number) => number {
  return (attempts) => Math.min(capMs, baseMs * 2 ** Math.max(0, attempts - 1));
}

/** Publishes one approval's request and records the outcome on it. Never throws: failures stay pending. */
export async function publishApproval(deps: PublishDeps, a: Approval): Promise<NotificationState | undefined> {
  let outcome: (x: Approval) => Approval;
  try {
    const messageId = await deps.notifier.publish(approvalMessage(a, deps.reviewUrl(a.id)));
    const at = deps.clock().toISOString();
    outcome = (x) =>
      x.notification.state === 'published'
        ? x // a concurrent publish got there first; the fan-out posts once anyway
        : { ...x, notification: { state: 'published', attempts: x.notification.attempts + 1, messageId, publishedAt: at } };
  } catch (e) {
    const now = deps.clock();
    const error = shortError(e);
    deps.log(`approval ${a.id}: publishing the request failed (${error}); it stays pending and is retried`);
    outcome = (x) => {
      if (x.notification.state === 'published') return x;
      const attempts = x.notification.attempts + 1;
      const nextAttemptAt = new Date(now.getTime() + deps.backoffMs(attempts)).toISOString();
      return { ...x, notification: { state: 'pending', attempts, nextAttemptAt, lastError: error } };
    };
  }
  try {
    return (await deps.store.update(a.id, outcome))?.notification;
  } catch (e) {
    // Published but not marked: the republisher publishes it again, and the fan-out dedups.
    deps.log(`approval ${a.id}: recording the notification state failed (${shortError(e)})`);
    return undefined;
  }
}

/** One pass: every pending, unexpired approval whose notification is due. */
export async function republishDue(deps: PublishDeps, limit = 50): Promise<RepublishResult> {
  const now = deps.clock();
  const due = await deps.store.list({ states: ['pending'], expiresAfter: now, notificationDueBy: now, limit });
  let published = 0;
  for (const a of due) {
    const state = await publishApproval(deps, a);
    if (state?.state === 'published') published++;
  }
  return { published, failed: due.length - published };
}

export interface RepublishResult {
  readonly published: number;
  readonly failed: number;
}

export interface Republisher {
  /**
   * Runs a pass now (also what the timer does); passes never overlap, so a call during a pass
   * gets that pass's result. undefined: the pass itself failed (the store could not be read).
   */
  runOnce(): Promise<RepublishResult | undefined>;
  stop(): Promise<void>;
}

/**
 * One pass now — whatever an earlier process could not publish goes out on start — and then a
 * timer every `intervalMs` (0: none); unref'd, so it never keeps a process alive on its own.
 */
export function startRepublisher(deps: PublishDeps, intervalMs: number): Republisher {
  if (!(Number.isFinite(intervalMs) && intervalMs >= 0)) throw new TypeError('startRepublisher: intervalMs must be 0 or more');
  let running: Promise<RepublishResult | undefined> | undefined;
  let stopped = false;
  const runOnce = () => {
    running ??= republishDue(deps)
      .catch((e: unknown) => {
        deps.log(`republishing approval requests failed (${shortError(e)}); trying again later`);
        return undefined;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer =
    intervalMs > 0
      ? setInterval(() => {
          if (!stopped) void runOnce();
        }, intervalMs)
      : undefined;
  timer?.unref();
  void runOnce();
  return {
    runOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

/** A failure as a short line for records and logs: the error's code and first line, bounded. */
export function shortError(e: unknown): string {
  const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
  const message = e instanceof Error ? e.message.split('\n')[0]! : String(e);
  const line = code && !message.includes(code) ? `${code}: ${message}` : message;
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}
